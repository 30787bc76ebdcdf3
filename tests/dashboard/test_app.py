"""The entry script: nothing without a session, the login form, sessions that expire, and the
pages each role may open."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import ADMIN, APP, texts

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


def test_agents_cannot_open_settings_or_the_sandbox(agent_app) -> None:
    """An agent's navigation does not even contain the admin pages."""
    for page in ("app_pages/settings.py", "app_pages/sandbox.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page") as refused:
            agent_app.switch_page(page)
        assert "settings.py" not in str(refused.value).split("Known pages")[1]
        assert "inbox.py" in str(refused.value).split("Known pages")[1]


def test_admin_opens_every_page(admin_app) -> None:
    for page, title in (("app_pages/contacts.py", "Contacts"), ("app_pages/campaigns.py", "Campaigns"),
                        ("app_pages/stats.py", "Stats"), ("app_pages/settings.py", "Settings"),
                        ("app_pages/sandbox.py", "Sandbox"), ("app_pages/inbox.py", "Inbox")):
        admin_app.switch_page(page).run()
        assert not admin_app.exception, (page, admin_app.exception)
        assert title in [t.value for t in admin_app.title] or page.endswith("stats.py"), page


def test_an_expired_session_goes_back_to_the_login_form(desk, admin_app) -> None:
    from bot.platform.models import StaffSession

    StaffSession.update(expires_at=1).execute()
    admin_app.run()
    assert [t.label for t in admin_app.text_input] == ["E-mail", "Password"]
    assert "Your session has expired. Please sign in again." in texts(admin_app)


def test_sign_out_ends_the_session(desk, admin_app) -> None:
    from bot.platform.models import StaffSession

    admin_app.button(key="sign_out").click().run()
    assert [t.label for t in admin_app.text_input] == ["E-mail", "Password"]
    assert StaffSession.select().count() == 0


def test_the_bell_counts_and_opens_notifications(desk, admin_app) -> None:
    from tests.dashboard.conftest import customer_writes

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Ping")
    admin_app.run()
    bell = admin_app.sidebar.get("popover")[0]
    assert bell.proto.popover.label == ":material/notifications: 1"
    admin_app.button(key=next(b.key for b in admin_app.button if (b.key or "").startswith("notif") and
                              b.key != "notif_all")).click().run()
    assert not admin_app.exception
    assert "Dana Buyer" in [t.value for t in admin_app.title]
    assert conversation_id == admin_app.session_state["sd_open_conversation"]
