"""Issue 20 in real headless Chromium (fixtures of `test_browser`): a comment conversation shows the
private reply a campaign sent from it and leads to the DM it opened; there staff attach a file
from their computer, which goes through Meta's Attachment Upload API (the sandbox); the sandbox
page shows the person's phone (the reply with its button, the image) and taps the button.
Screenshots: test-artifacts/comment-thread.png and test-artifacts/sandbox-phone.png."""

from __future__ import annotations

import pytest

from tests.dashboard.test_browser import chromium, dashboard_url, page, shot, sign_in  # noqa: F401
from tests.servers import Stack, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND"
       b"\xaeB`\x82")  # one red pixel


def test_comment_thread_dm_file_and_the_sandbox_phone(desk: Stack, page: object,  # noqa: F811
                                                      dashboard_url: str) -> None:  # noqa: F811
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec
    from bot.core.compose import Button, MessageContent
    from bot.platform import registry as channels
    from bot.platform.models import Conversation, Message

    account = desk.page["page_id"]
    channel = channels.channel_for("facebook", account)
    offer = MessageContent(text="Thanks Sam! Your code: SPRING-10", buttons=(Button(title="Show me", payload="SHOW"),))
    campaigns.save(CampaignSpec(name="Spring", channel_id=channel.id, is_active=True,
                                actions=[ActionSpec(kind="send_message", message=offer)]))
    sam = desk.control("customers", account_id=account, name="Sam Shopper")["user_id"]
    post = desk.control("posts", account_id=account, message="Spring collection")["post_id"]
    desk.control("comment", account_id=account, post_id=post, user_id=sam, text="Is there a discount?")
    reply = desk.wait(lambda: Message.get_or_none((Message.send_kind == "private_reply") & (Message.status == "sent")),
                      what="the campaign's private reply")
    thread = Conversation.get(Conversation.kind == "facebook_comments")

    sign_in(page)
    page.goto(f"{dashboard_url}/conversation?conversation={thread.id}")
    page.get_by_test_id("stChatMessage").filter(has_text="Is there a discount?").first.wait_for()
    page.get_by_test_id("stChatMessage").filter(has_text="Your code: SPRING-10").first.wait_for()
    page.get_by_text("had its private reply").first.wait_for()
    page.get_by_role("link", name="Private reply: continue in the person's inbox conversation").wait_for()
    shot(page, "comment-thread")

    page.get_by_role("link", name="Open the inbox conversation").click()
    page.get_by_test_id("stChatMessage").filter(has_text="Your code: SPRING-10").first.wait_for()
    desk.control("dm", account_id=account, user_id=sam, text="Can I see it?")  # the window opens
    desk.wait(lambda: Message.get_or_none(Message.text == "Can I see it?"), what="the DM stored")
    # then the open thread's own refresh draws it (a loaded CI machine: more than the step's 20 s)
    page.get_by_test_id("stChatMessage").filter(has_text="Can I see it?").first.wait_for(timeout=45_000)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "boots.png", "mimeType": "image/png", "buffer": PNG}])
    page.get_by_text("boots.png").first.wait_for()
    page.get_by_role("button", name="Send").click()
    sent = desk.wait(lambda: Message.get_or_none((Message.conversation == reply.conversation_id)
                                                 & (Message.status == "sent") & Message.attachments.is_null(False)),
                     what="the file sent")
    assert sent.attachments[0]["name"] == "boots.png"
    uploads = [a for a in desk.sandbox_get("attempts")["attempts"] if a["path"].endswith("message_attachments")]
    assert [u["body"]["filedata"]["content_type"] for u in uploads] == ["image/png"]
    page.get_by_test_id("stChatMessage").filter(has_text="boots.png").filter(has=page.get_by_role("img")).first.wait_for()

    page.goto(f"{dashboard_url}/sandbox")
    phone = page.locator(".st-key-sandbox_phone")
    phone.get_by_text("Your code: SPRING-10").first.wait_for()
    phone.get_by_text("Reply to your comment").first.wait_for()
    phone.get_by_role("img").first.wait_for()
    shot(page, "sandbox-phone")
    phone.get_by_role("button", name="Show me").click()
    wait_until(lambda: desk.wait(lambda: Message.get_or_none(Message.kind == "postback"), what="the tap"), 30,
               what="the tap in socialdesk")
