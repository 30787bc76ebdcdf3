# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments
"""The dashboard's sign-in form goes through the throttle, and admins see and lift locks in
Settings > Sign-ins (Streamlit AppTest against the real database)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from bot.staff import signin
from tests.dashboard.conftest import ADMIN, AGENT, APP, admin_app, desk, sign_in, texts  # noqa: F401
from tests.security._auth_fixtures import Clock, clock  # noqa: F401

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def attempt(email: str, password: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    app.text_input(key="login_email").input(email)
    app.text_input(key="login_password").input(password)
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def test_the_form_slows_down_then_locks_and_an_admin_unlocks(desk, clock: Clock) -> None:
    for _ in range(signin.ACCOUNT.free_failures):
        assert "Wrong e-mail or password." in texts(attempt(AGENT[0], "wrong password"))
    refused = attempt(AGENT[0], AGENT[1])  # the right password, too soon
    assert "Too many failed sign-ins: try again in 1 seconds." in texts(refused)
    assert "sd_session_token" not in refused.session_state
    while not signin.is_locked(AGENT[0]):
        clock.advance(300)
        attempt(AGENT[0], "wrong password")
    clock.advance(300)
    locked = texts(attempt(AGENT[0], AGENT[1]))
    assert "ask an administrator to unlock your account" in locked

    admin = sign_in(*ADMIN)  # from the same test client address, but a different account
    admin.switch_page("app_pages/settings.py").run()
    assert not admin.exception, admin.exception
    shown = "\n".join(str(t.value) for t in admin.text)
    assert f"Account {AGENT[0]}" in shown and "locked until" in shown
    log = admin.dataframe[-1].value
    assert {"failed", "ok"} <= set(log["Outcome"]) and AGENT[0] in set(log["E-mail"])
    account_row = next(i for i, t in enumerate(admin.text) if f"Account {AGENT[0]}" in str(t.value))
    locks = [t for t in admin.text if " failures, " in str(t.value)]
    admin.button(key=f"unlock_{locks.index(admin.text[account_row])}").click().run()
    assert not signin.is_locked(AGENT[0])
    assert "sd_session_token" in attempt(AGENT[0], AGENT[1]).session_state
