"""The sandbox page (issue 20, problem 6): play a customer over the sandbox's control API and see
their phone: the page's messages as bubbles with cards, buttons to tap and quick replies, the
comment threads with "reply under this comment", and the user token needed to reconnect."""

from __future__ import annotations

import pytest

from dashboard.widgets import plain
from tests.dashboard.conftest import texts
from tests.servers import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_play_a_customer_and_see_their_phone(desk, admin_app) -> None:
    """The campaign's private reply is a card (over the real Send API): the phone draws its image,
    title, subtitle and button; tapping the card's button sends the postback by card and button,
    and the text the card held back arrives whole."""
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec
    from bot.core.compose import Button, Card, MessageContent
    from bot.platform import registry as channels
    from bot.platform.models import Conversation, Message

    account = desk.page["page_id"]
    channel = channels.channel_for("facebook", account)
    picture = "https://cdn.example.com/spring.png"
    message = MessageContent(text="Thanks! Here is your code: SPRING-10 " + "x" * 80, card=Card(
        title="Spring sale", subtitle="10% off this week", image_url=picture,
        buttons=(Button(title="Shop", url="https://shop.example.com/spring"), Button(title="More", payload="MORE"))))
    campaigns.save(CampaignSpec(name="Hello", channel_id=channel.id, is_active=True,
                                actions=[ActionSpec(kind="send_message", message=message)]))
    app = admin_app.switch_page("app_pages/sandbox.py").run()
    assert not app.exception, app.exception
    assert app.code[0].value == desk.sandbox_get("config")["user_token"]  # to reconnect in Settings
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
    page = texts(app)
    assert "Reply to your comment: “Love it”" in page and "**Spring sale**" in page and "10% off this week" in page
    assert plain(message.text) not in page  # held: it goes out when the person answers
    assert [image.value for image in app.image] == [[picture]]
    assert [b.proto.label for b in app.get("link_button")] == ["Shop"]
    more = next(b for b in app.button if b.label == "More")
    more.click().run()
    assert "Tapped" in texts(app)
    tap = desk.wait(lambda: Message.get_or_none(Message.kind == "postback"), what="the tap reaching socialdesk")
    assert tap.text == "More" and tap.payload.endswith(":MORE")  # the campaign's own payload, tagged
    wait_until(lambda: plain(message.text) in texts(app.run()), 20, what="the held text on the phone")

    comment_id = next(iter(desk.sandbox_get("state")["comments"]))["id"]
    app.text_input(key=f"reply_under_{comment_id}").input("Me too")
    app.button(key=f"reply_under_{comment_id}_go").click().run()
    assert "Reply posted under the comment" in texts(app)
    desk.wait(lambda: Message.get_or_none(Message.parent_comment_id == comment_id), what="the reply under it")
