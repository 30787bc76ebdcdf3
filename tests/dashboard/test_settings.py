"""The settings page (admins): channel toggles, health and handover to a person, connecting
pages by page token or from a user token, the webhook values for Meta, staff users; tokens are
never shown."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from bot.inbound import pauses
from bot.platform.db import now_ms
from tests.dashboard.conftest import customer_writes, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def everything_shown(app: AppTest) -> str:
    """Every value on the page, widgets included (to prove no token leaks into any of them)."""
    return texts(app) + "\n".join(str(getattr(e, "value", "")) for e in app.main) + str(app.get("code"))


def open_settings(app: AppTest) -> AppTest:
    app.switch_page("app_pages/settings.py").run()
    assert not app.exception, app.exception
    return app


def test_channels_toggles_and_health(desk, admin_app) -> None:
    from bot.channels import health
    from bot.platform import registry as channels

    app = open_settings(admin_app)
    page = texts(app)
    assert "Acme Shoes :gray-badge[not checked yet]" in page  # connected, but no health check ran yet
    assert "Followers: **1,200**" in page or "Followers: **unknown**" in page
    assert "Meta limits Instagram messaging for some accounts" in page
    facebook = channels.channel_for("facebook", desk.page["page_id"])
    assert health.check_channel(facebook.id).status == "healthy"
    assert "Acme Shoes :green-badge[healthy]" in texts(app.run())
    app.toggle(key=f"toggle_{facebook.id}_human_agent").set_value(True).run()
    assert channels.channel_for("facebook", desk.page["page_id"]).human_agent
    assert desk.page["page_token"] not in everything_shown(app)


def test_handover_settings_per_channel(desk, admin_app) -> None:
    from bot.automation import handover
    from bot.platform import registry as channels

    facebook = channels.channel_for("facebook", desk.page["page_id"])
    instagram = channels.channel_for("instagram", desk.page["instagram_id"])
    app = open_settings(admin_app)
    key = f"handover_{facebook.id}_"
    save = next(b for b in app.button if b.key and "handover" in b.key and f"_{facebook.id}_" in b.key)
    assert app.text_area(key=key + "keywords").value == "human\nagent\ntalk to a person"
    assert (app.number_input(key=key + "pause_amount").value, app.selectbox(key=key + "pause_unit").value) == (
        1, "hours")

    app.text_area(key=key + "keywords").input("manager\nreal person")
    app.number_input(key=key + "pause_amount").set_value(45)
    app.selectbox(key=key + "pause_unit").select("days")
    app.text_area(key=key + "payloads").input("HUMAN\n" + "X" * 1001)
    save.click().run()
    assert "The pause must be between 1 minute and 30 days." in texts(app)  # under the pause field
    assert app.text_area(key=key + "keywords").value == "manager\nreal person"  # kept, to be fixed
    assert handover.settings_for(facebook.id).handover_keywords == ["human", "agent", "talk to a person"]
    app.number_input(key=key + "pause_amount").set_value(2)
    next(b for b in app.button if b.key == save.key).click().run()
    assert "Line 2: must be 1-1000 characters." in texts(app)  # under the payloads field
    assert "The pause must be" not in texts(app)
    app.text_area(key=key + "payloads").input("HUMAN")
    next(b for b in app.button if b.key == save.key).click().run()
    assert not app.exception, app.exception
    assert "Handover settings saved" in texts(app) and "The pause must be" not in texts(app)

    saved = handover.settings_for(facebook.id)
    assert saved.handover_keywords == ["manager", "real person"] and saved.pause_seconds == 2 * 86400
    assert handover.asks_for_human(facebook.id, None, "Can I speak to your MANAGER?")
    assert not handover.asks_for_human(facebook.id, None, "I want a human")  # the old words are gone
    assert handover.asks_for_human(instagram.id, None, "I want a human")  # other channels keep theirs
    conversation_id, _ = customer_writes(desk, "Hana Help", "Could a manager call me?")
    paused = desk.wait(lambda: pauses.paused_until(conversation_id), what="the bot paused by the new word")
    assert 2 * 86_400_000 - 60_000 < paused - now_ms() <= 2 * 86_400_000


def test_webhook_values_for_meta(desk, admin_app) -> None:
    app = open_settings(admin_app)
    codes = [c.value for c in app.get("code")]
    assert f"{desk.settings.public_url}/webhooks/meta" in codes
    assert desk.settings.meta_verify_token in codes


def test_connect_a_page_with_a_pasted_token(desk, admin_app) -> None:
    from bot.platform.models import Channel

    page = desk.control("pages", name="Second Shop")
    app = open_settings(admin_app)
    app.text_input(key="connect_page_id").input(page["page_id"])
    app.text_input(key="connect_page_name").input("Second Shop")
    app.text_input(key="connect_page_token").input(page["page_token"])
    next(b for b in app.button if b.label == "Connect").click().run()
    assert not app.exception
    assert "Connected: Second Shop. Webhooks are subscribed." in texts(app)
    assert Channel.get(Channel.account_id == page["page_id"]).token_encrypted != page["page_token"]
    assert page["page_token"] not in everything_shown(app)


def test_connect_from_the_pages_a_user_token_manages(desk, admin_app) -> None:
    from bot.platform.models import Channel

    page = desk.control("pages", name="Third Shop",
                        instagram={"username": "third.shop", "followers_count": 42})
    app = open_settings(admin_app)
    app.text_input(key="user_token").input(desk.page["user_token"])
    next(b for b in app.button if b.label == "Find my pages").click().run()
    assert r"Instagram @third\.shop · 42 followers" in texts(app)
    assert page["page_token"] not in everything_shown(app)
    app.button(key=f"connect_{page['page_id']}").click().run()
    assert not app.exception
    instagram = Channel.get(Channel.account_id == page["instagram_id"])
    assert instagram.username == "third.shop" and instagram.followers_count == 42
    assert "sd_found_pages" not in app.session_state  # the tokens are not kept in the session


def test_add_staff(desk, admin_app) -> None:
    from bot.staff import auth

    app = open_settings(admin_app)
    app.text_input(key="new_user_email").input("new@example.com")
    app.text_input(key="new_user_name").input("Newbie")
    app.selectbox(key="new_user_role").select("agent")
    app.text_input(key="new_user_password").input("short")
    next(b for b in app.button if b.label == "Add").click().run()
    assert "Not added: password: must be at least 8 characters" in texts(app)
    app.text_input(key="new_user_email").input("new@example.com")
    app.text_input(key="new_user_password").input("long-enough-password")
    next(b for b in app.button if b.label == "Add").click().run()
    assert "Added agent new@example.com." in texts(app)
    assert auth.authenticate("new@example.com", "long-enough-password") is not None
    # The staff table (channel panels above it hold editable tables too: the Messenger profile's).
    assert any("new@example.com" in str(table.value) for table in app.dataframe)


def test_connect_an_instagram_account_without_a_page(desk, admin_app) -> None:
    """Instagram Login (issue 22): a refused token shows Meta's reason and stores nothing; a good
    one connects the account, whose card says how it is connected; the token never shows."""
    from bot.platform.models import Channel

    account = desk.control("instagram-accounts", username="solo.shop", name="Solo Shop")
    app = open_settings(admin_app)
    app.text_input(key="ig_login_token").input("IGAA-not-a-token")
    next(b for b in app.button if b.label == "Connect Instagram account").click().run()
    assert "Not connected:" in texts(app) and "190" in texts(app)
    assert not Channel.select().where(Channel.account_id == account["instagram_id"]).exists()
    app.text_input(key="ig_login_token").input(account["token"])
    next(b for b in app.button if b.label == "Connect Instagram account").click().run()
    assert not app.exception
    assert r"Connected with Instagram Login: @solo\.shop" in texts(app) or \
        "Connected with Instagram Login: @solo.shop" in texts(app)
    assert Channel.get(Channel.account_id == account["instagram_id"]).login == "instagram"
    assert "Instagram account (Instagram Login, no Facebook Page)" in texts(app.run())
    assert account["token"] not in everything_shown(app)
