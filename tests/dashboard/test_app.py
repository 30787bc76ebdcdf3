"""The entry script: nothing without a session, the login form, sessions that expire, and the
pages each role may open."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import ADMIN, APP, sign_in, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_without_session_only_the_login_form_is_shown(desk) -> None:
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    assert not app.exception
    assert [t.label for t in app.text_input] == ["E-mail", "Password"]
    assert "Inbox" not in texts(app)


def test_wrong_password_is_refused(desk) -> None:
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    app.text_input(key="login_email").input(ADMIN[0])
    app.text_input(key="login_password").input("not-the-password")
    app.button[0].click().run()
    assert "Wrong e-mail or password." in texts(app)
    assert "sd_session_token" not in app.session_state


def test_admin_signs_in_and_sees_the_inbox(admin_app) -> None:
    assert "Inbox" in [t.value for t in admin_app.title]
