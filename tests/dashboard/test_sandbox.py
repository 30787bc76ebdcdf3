"""The sandbox page: play a customer over the sandbox's control API and see the result."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import texts
from tests.servers import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_play_a_customer_and_watch_the_campaign_answer(desk, admin_app) -> None:
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec
    from bot.core.compose import Button, MessageContent
    from bot.platform import registry as channels
    from bot.platform.models import Conversation

    account = desk.page["page_id"]
    channel = channels.channel_for("facebook", account)
    message = MessageContent(text="Thanks!", buttons=(Button(title="More", payload="MORE"),))
    campaigns.save(CampaignSpec(name="Hello", channel_id=channel.id, is_active=True,
                                actions=[ActionSpec(kind="send_message", message=message)]))
    app = admin_app.switch_page("app_pages/sandbox.py").run()
    assert not app.exception, app.exception
    next(t for t in app.text_input if t.label == "Name of a new customer").input("Pat")
    next(b for b in app.button if b.label == "Create customer").click().run()
    assert "Pat exists now" in texts(app)

    next(t for t in app.text_input if t.label == "Message").input("Hi from the sandbox")
    next(b for b in app.button if b.label == "Send DM").click().run()
    assert "Message sent" in texts(app)
    desk.wait(lambda: Conversation.select().where(Conversation.preview == "Hi from the sandbox").exists(),
              what="the DM in the inbox")

    next(b for b in app.button if b.label == "Publish a new post").click().run()
    next(t for t in app.text_input if t.label == "Comment").input("Love it")
    next(b for b in app.button if b.label == "Comment").click().run()
    assert "Comment posted" in texts(app)
    wait_until(lambda: desk.sandbox_get("sent", kind="private_reply")["sent"], 20, what="the private reply")
    app.run()
    assert "Thanks!" in str(app.dataframe[0].value)
    assert app.selectbox(key="sandbox_tap").options == ["Pat: “More”"]
    app.button(key="sandbox_tap_go").click().run()
    assert "Tapped." in texts(app)
