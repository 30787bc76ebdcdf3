"""TEMPORARY: screenshots of every page for a visual check (deleted before the report)."""
from __future__ import annotations

import pytest

from tests.dashboard.test_browser import dashboard_url, page, shot, sign_in  # noqa: F401
from tests.servers import Stack, wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_tour(desk: Stack, page) -> None:
    from bot import campaigns, channels
    from bot.campaigns import ActionSpec, CampaignSpec, TriggerSpec
    from bot.compose import Button, MessageContent
    from bot.models import Conversation, Message

    account = desk.page["page_id"]
    ig = desk.page.get("instagram_id")
    channel = channels.channel_for("facebook", account)
    post = desk.control("posts", account_id=account, message="New red sneakers! Comment WANT for a coupon",
                        picture_url="https://picsum.photos/id/21/400/300")["post_id"]
    desk.control("posts", account_id=account, message="Summer sale starts Monday")
    campaigns.save(CampaignSpec(name="Sneaker coupon", channel_id=channel.id, is_active=True,
                                trigger=TriggerSpec(all_posts=False, post_ids=[post], keywords_any=["want"]),
                                actions=[ActionSpec(kind="send_message", message=MessageContent(
                                    text="Hi {{ first_name }}! Your coupon: RED10",
                                    buttons=(Button(title="Shop now", url="https://example.com/shop"),
                                             Button(title="Not now", payload="NO")))),
                                         ActionSpec(kind="reply_comment", text="Sent you a DM!",
                                                    variations=["Check your inbox!"]),
                                         ActionSpec(kind="add_tag", tag="coupon"),
                                         ActionSpec(kind="wait", seconds=7200)]))
    people = {}
    for name in ("Dana Buyer", "Sam Shopper", "Lee Looker"):
        people[name] = desk.control("customers", account_id=account, name=name)["user_id"]
    desk.control("dm", account_id=account, user_id=people["Dana Buyer"], text="Hi! Size 42 *available*?",
                 attachments=[{"type": "image", "url": "https://picsum.photos/id/30/300/200"}])
    desk.control("comment", account_id=account, post_id=post, user_id=people["Sam Shopper"], text="WANT please")
    desk.control("comment", account_id=account, post_id=post, user_id=people["Lee Looker"], text="nice colour")
    if ig:
        igc = desk.control("customers", account_id=ig, name="Ivy Insta")["user_id"]
        desk.control("dm", account_id=ig, user_id=igc, text="Hello from Instagram")
    desk.wait(lambda: Conversation.select().count() >= 4, what="conversations")
    desk.wait(lambda: Message.select().where(Message.direction == "out", Message.status != "pending").count() >= 2,
              what="campaign sends")

    sign_in(page)
    page.get_by_text("Sam Shopper").first.wait_for()
    shot(page, "tour-01-inbox")
    sam = Conversation.get(Conversation.kind == "facebook_comments", Conversation.preview == "WANT please").id
    page.locator(f".st-key-open_{sam} button").click()
    page.get_by_text("Campaigns", exact=True).wait_for()
    page.get_by_text("matched").first.click()
    shot(page, "tour-02-comment-conversation")
    page.get_by_role("link", name="Inbox").first.click()
    dana = Conversation.get(Conversation.preview.contains("Size 42")).id
    page.locator(f".st-key-open_{dana} button").click()
    page.get_by_text("Size 42").wait_for()
    shot(page, "tour-03-dm-conversation")
    page.get_by_role("link", name="Contacts").click()
    page.get_by_text("Dana Buyer").wait_for()
    shot(page, "tour-04-contacts")
    page.get_by_test_id("stButton").filter(has_text="Open").first.click()
    page.get_by_text("Identities").wait_for()
    shot(page, "tour-05-contact")
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("button", name="Edit").click()
    page.get_by_text("Watch this post").first.wait_for()
    shot(page, "tour-06-campaign-editor")
    page.get_by_role("link", name="Stats").click()
    page.get_by_text("Funnel").first.wait_for()
    shot(page, "tour-07-stats")
    page.get_by_role("link", name="Settings").click()
    page.get_by_text("Last webhook").first.wait_for()
    shot(page, "tour-08-settings")
    page.get_by_role("tab", name="Connect a page").click()
    shot(page, "tour-09-connect")
    page.get_by_role("tab", name="Webhook").click()
    shot(page, "tour-10-webhook")
    page.get_by_role("tab", name="Staff").click()
    shot(page, "tour-11-staff")
    page.get_by_role("link", name="Sandbox").click()
    page.get_by_text("What the page sent").wait_for()
    shot(page, "tour-12-sandbox")
    page.get_by_test_id("stPopover").first.click()
    shot(page, "tour-13-bell")
