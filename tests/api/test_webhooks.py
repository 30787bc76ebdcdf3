"""Meta's webhook endpoint over real HTTP with real workers: what each signed, real-shaped
delivery leaves in the database (contacts, tags, conversations, messages, statuses)."""

from __future__ import annotations

import random
import time

import pytest

from bot import commands
from bot.inbound.contacts import tags_of
from bot.platform.db import connection
from bot.platform.models import (
    Channel,
    Comment,
    Contact,
    Conversation,
    Delivery,
    IgnoredItem,
    InboundEvent,
    Message,
    Notification,
)
from tests.bot.meta import payloads as p
from tests.servers import Stack


def now_ms() -> int:
    return int(time.time() * 1000)


def ids(stack: Stack) -> tuple[str, str]:
    return stack.page["page_id"], stack.page["instagram_id"]


def wait_applied(stack: Stack, count: int) -> None:
    """Every stored event has been applied (none pending)."""
    stack.wait(lambda: InboundEvent.select().where(InboundEvent.status == "applied").count() >= count
               and not InboundEvent.select().where(InboundEvent.status == "pending").exists(),
               what=f"{count} applied events")


# --- the door: handshake, signature, size, JSON -------------------------------------------------------


def test_verification_handshake(stack: Stack) -> None:
    url = f"{stack.api.url}/webhooks/meta"
    ok = stack.http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": stack.settings.meta_verify_token,
                                     "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["content-type"].startswith("text/plain")
    bad = stack.http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
    assert bad.status_code == 403
    assert stack.http.get(url).status_code == 403


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc", "garbage"])
def test_bad_signature_is_403_and_stores_nothing(stack: Stack, signature: str) -> None:
    page_id, _ = ids(stack)
    body = p.messenger_message(page_id, "111", "m_sig", text="hi", timestamp=now_ms())
    response = stack.post_webhook(body, signature=signature)
    assert response.status_code == 403
    wrong_secret = stack.post_webhook(body, secret="another-secret")
    assert wrong_secret.status_code == 403
    with connection():
        assert Delivery.select().count() == 0


def test_malformed_and_oversize_bodies(stack: Stack) -> None:
    assert stack.post_webhook(b'{"object": "page", "entry": [').status_code == 400
    assert stack.post_webhook(b"[1, 2, 3]").status_code == 400
    huge = b'{"object":"page","entry":[],"pad":"' + b"x" * (17 * 1024 * 1024) + b'"}'
    assert stack.post_webhook(huge).status_code == 413
    with connection():
        assert Delivery.select().count() == 0


def test_answers_keep_litestars_shapes(stack: Stack) -> None:
    """The POST is served as raw ASGI in front of Litestar: its answers keep the shapes Litestar
    gave them (refusals as `{"status_code", "detail"}` JSON; a refused sender's connection closed)."""
    unsigned = stack.post_webhook(b"{}", signature="")
    assert unsigned.status_code == 403 and unsigned.headers["connection"] == "close"
    assert unsigned.json() == {"status_code": 403, "detail": "X-Hub-Signature-256 header is missing"}
    array = stack.post_webhook(b"[1, 2, 3]")
    assert array.headers["content-type"] == "application/json"
    assert array.json() == {"status_code": 400, "detail": "body must be a JSON object"}
    ok = stack.post_webhook({"object": "page", "entry": []})
    assert (ok.status_code, ok.text, ok.headers["content-type"]) == (200, "EVENT_RECEIVED", "text/plain; charset=utf-8")
    trailing = stack.http.post(f"{stack.api.url}/webhooks/meta/", content=b"{}")
    assert trailing.status_code == 403, "the path with a trailing slash is the same endpoint"
    with connection():
        assert Delivery.select().count() == 1


def test_big_batch_under_limit_is_accepted(stack: Stack) -> None:
    page_id, _ = ids(stack)
    base = now_ms()
    # 50 people writing 20 messages each: the size is the point, not 1,000 new contacts to profile
    bodies = [p.messenger_message(page_id, f"9{i % 50:05d}", f"m_big_{i}", text="x" * 3000, timestamp=base + i)
              for i in range(1000)]
    raw = p.encode(p.batch(*bodies))
    assert len(raw) > 3 * 1024 * 1024
    assert stack.post_webhook(raw).status_code == 200
    stack.wait(lambda: Message.select().where(Message.mid.startswith("m_big_")).count() == 1000, timeout=120,
               what="1000 messages")


def test_unknown_page_and_objects_are_stored_as_ignored(stack: Stack) -> None:
    unknown = p.messenger_message("999999", "111", "m_unknown", text="hi", timestamp=now_ms())
    assert stack.post_webhook(unknown).status_code == 200
    assert stack.post_webhook({"object": "whatsapp_business_account", "entry": []}).status_code == 200
    reasons = stack.wait(lambda: [i.reason for i in IgnoredItem.select()] if IgnoredItem.select().count() >= 2
                         else None, what="ignored items")
    assert any("999999" in r for r in reasons)
    assert any("whatsapp_business_account" in r for r in reasons)
    with connection():
        assert Message.select().count() == 0
        assert Delivery.select().where(Delivery.status == "processed").count() == 2


# --- Messenger -------------------------------------------------------------------------------------------


def test_messenger_message_creates_contact_tag_conversation(stack: Stack) -> None:
    page_id, _ = ids(stack)
    t = now_ms()
    body = p.messenger_message(page_id, "5001", "m_hello", text="Hello there", timestamp=t,
                               attachments=[p.media("image", "https://cdn.example/a.jpg")], quick_reply="SIZE_42")
    assert stack.post_webhook(body).status_code == 200
    wait_applied(stack, 1)
    with connection():
        message = Message.get(Message.mid == "m_hello")
        assert (message.direction, message.author, message.text, message.payload) == ("in", "customer",
                                                                                      "Hello there", "SIZE_42")
        assert message.attachments == [{"type": "image", "url": "https://cdn.example/a.jpg"}]
        conversation = message.conversation
        assert conversation.kind == "messenger" and conversation.unread_count == 1
        assert conversation.last_customer_message_at == t
        assert tags_of(conversation.contact_id) == ["Facebook Messenger"]


def test_every_messenger_attachment_type_is_kept(stack: Stack) -> None:
    page_id, _ = ids(stack)
    attachments = [p.media("video", "https://v/1.mp4"), p.media("audio", "https://a/1.mp3"),
                   p.media("file", "https://f/1.pdf"), p.fallback("A link", "https://example.com"),
                   p.location(48.85, 2.35), *p.legacy_sticker_pair(369239263222822, "https://s/1.png"),
                   {"type": "brand_new_type", "payload": {"url": "https://x"}}]
    stack.post_webhook(p.messenger_message(page_id, "5002", "m_att", attachments=attachments, timestamp=now_ms()))
    wait_applied(stack, 1)
    with connection():
        kinds = [a["type"] for a in Message.get(Message.mid == "m_att").attachments]
    assert kinds == ["video", "audio", "file", "fallback", "location", "sticker", "unsupported"]


def test_redelivered_and_duplicated_batches_store_once(stack: Stack) -> None:
    page_id, _ = ids(stack)
    t = now_ms()
    body = p.batch(*(p.messenger_message(page_id, "5003", f"m_dup_{i}", text=str(i), timestamp=t + i)
                     for i in range(5)))
    for _ in range(3):
        assert stack.post_webhook(body).status_code == 200
    stack.wait(lambda: Delivery.select().where(Delivery.status == "processed").count() == 3, what="3 deliveries")
    wait_applied(stack, 5)
    with connection():
        assert Message.select().count() == 5
        assert Conversation.get().unread_count == 5
        assert Contact.select().count() == 1


def test_out_of_order_deliveries_are_applied_in_meta_order(stack: Stack) -> None:
    page_id, _ = ids(stack)
    t = now_ms()
    bodies = [p.messenger_message(page_id, "5004", f"m_ord_{i}", text=f"msg {i}", timestamp=t + i * 10)
              for i in range(8)]
    random.Random(7).shuffle(bodies)
    batch = p.batch(*bodies)
    assert stack.post_webhook(batch).status_code == 200
    wait_applied(stack, 8)
    with connection():
        thread = [m.text for m in Message.select().order_by(Message.occurred_at)]
        # The order they were applied in: each message is inserted as its event is applied (a
        # batch of events is applied in one transaction, within the same millisecond).
        applied = [m.text for m in Message.select().order_by(Message.id)]
        assert {e.status for e in InboundEvent.select()} == {"applied"}
    assert thread == [f"msg {i}" for i in range(8)]
    assert applied == [f"msg {i}" for i in range(8)]


def test_echoes_postbacks_referrals_reactions_edits_deletes(stack: Stack) -> None:
    page_id, _ = ids(stack)
    t = now_ms()
    bodies = [
        p.messenger_message(page_id, "5005", "m_a", text="first", timestamp=t),
        p.messenger_echo(page_id, "5005", "m_echo", text="Answered from Business Suite", timestamp=t + 1,
                         app_id=263902037430900),
        p.messenger_postback(page_id, "5005", "GET_COUPON", title="Get my coupon", mid="m_pb", timestamp=t + 2),
        p.messenger_referral(page_id, "5005", timestamp=t + 3),
        p.messenger_reaction(page_id, "5005", "m_echo", timestamp=t + 4),
        p.messenger_edit(page_id, "5005", "m_a", "first (edited)", num_edit=1, timestamp=t + 5),
        p.messenger_message(page_id, "5005", "m_b", text="oops", timestamp=t + 6),
        p.messenger_message(page_id, "5005", "m_b", is_deleted=True, timestamp=t + 7),
    ]
    assert stack.post_webhook(p.batch(*bodies)).status_code == 200
    wait_applied(stack, 8)
    with connection():
        echo = Message.get(Message.mid == "m_echo")
        assert (echo.direction, echo.author, echo.status) == ("out", "page", "sent")
        assert echo.reactions == {"5005": "\u2764"}
        postback = Message.get(Message.mid == "m_pb")
        assert (postback.kind, postback.payload, postback.text) == ("postback", "GET_COUPON", "Get my coupon")
        assert Message.get(Message.kind == "referral").payload == "summer_sale"
        first = Message.get(Message.mid == "m_a")
        assert first.text == "first (edited)" and first.edited_at is not None
        assert Message.get(Message.mid == "m_b").deleted_at is not None
        conversation = Conversation.get()
        assert conversation.unread_count == 4  # two messages, the postback and the referral; not the echo
        assert conversation.last_customer_message_at == t + 6


def test_reads_and_deliveries_move_our_messages_forward(stack: Stack) -> None:
    page_id, _ = ids(stack)
    user = stack.control("customers", account_id=page_id, name="Ray Reader")["user_id"]
    stack.control("dm", account_id=page_id, user_id=user, text="hi")
    conversation = stack.wait(lambda: Conversation.get_or_none(Conversation.kind == "messenger"), what="dm")
    with connection():
        from bot.staff.auth import add_user

        staff = add_user("agent@example.com", "long enough", "agent")
        rows = commands.reply(staff.id, conversation.id, text="Hello Ray")
    stack.wait(lambda: Message.get_by_id(rows[0].id).status == "sent", what="sent")
    stack.control("delivery", account_id=page_id, user_id=user)
    stack.wait(lambda: Message.get_by_id(rows[0].id).status == "delivered", what="delivered")
    stack.control("read", account_id=page_id, user_id=user)
    stack.wait(lambda: Message.get_by_id(rows[0].id).status == "read", what="read")


# --- Instagram -----------------------------------------------------------------------------------------


def test_instagram_messages_story_replies_and_seen(stack: Stack) -> None:
    _, ig_id = ids(stack)
    t = now_ms()
    bodies = [
        p.instagram_message(ig_id, "7001", "ig_m1", text="Love this", reply_to_story=("st1", "https://story/1"),
                            timestamp=t),
        p.instagram_message(ig_id, "7001", "ig_m2", attachments=[p.media("story_mention", "https://story/2")],
                            timestamp=t + 1),
        p.instagram_echo(ig_id, "7001", "ig_echo", text="Thanks!", timestamp=t + 2),
        p.instagram_message(ig_id, "7001", "ig_m3", text="gone", timestamp=t + 3),
        p.instagram_message(ig_id, "7001", "ig_m3", is_deleted=True, timestamp=t + 4),
    ]
    assert stack.post_webhook(p.batch(*bodies)).status_code == 200
    wait_applied(stack, 5)
    with connection():
        conversation = Conversation.get(Conversation.kind == "instagram")
        assert tags_of(conversation.contact_id) == ["Instagram Direct"]
        assert Message.get(Message.mid == "ig_m2").attachments[0]["type"] == "story_mention"
        assert Message.get(Message.mid == "ig_echo").author == "page"
        assert Message.get(Message.mid == "ig_m3").deleted_at is not None


# --- comments --------------------------------------------------------------------------------------------


def test_facebook_comments_replies_and_page_comments(stack: Stack) -> None:
    page_id, _ = ids(stack)
    post = f"{page_id}_42"
    ts = int(time.time())
    bodies = [
        p.feed_comment(page_id, "42_1", post, message="How much?", from_id="5010", from_name="Cara Comment",
                       created_time=ts, permalink_url="https://facebook.com/42"),
        p.feed_comment(page_id, "42_2", post, message="Thanks Cara!", from_id=page_id, from_name="Acme",
                       parent_id="42_1", created_time=ts + 1),
        p.feed_comment(page_id, "42_3", post, message="And shipping?", from_id="5010", from_name="Cara Comment",
                       parent_id="42_1", created_time=ts + 2),
        p.feed_comment(page_id, "42_1", post, verb="edited", message="How much is it?", from_id="5010",
                       time=ts + 3),
        p.feed_comment(page_id, "42_3", post, verb="hide", from_id="5010", time=ts + 4),
        p.feed_item(page_id, "status", message="new status"),
    ]
    assert stack.post_webhook(p.batch(*bodies)).status_code == 200
    wait_applied(stack, 5)
    with connection():
        conversation = Conversation.get(Conversation.kind == "facebook_comments")
        assert conversation.post_id == post and conversation.post_permalink == "https://facebook.com/42"
        thread = [(m.author, m.text) for m in Message.select().where(Message.conversation == conversation)
                  .order_by(Message.occurred_at)]
        assert thread == [("customer", "How much is it?"), ("page", "Thanks Cara!"), ("customer", "And shipping?")]
        assert Comment.get(Comment.comment_id == "42_2").by_account
        assert Comment.get(Comment.comment_id == "42_3").parent_id == "42_1"
        assert Message.get(Message.comment_id == "42_3").hidden
        assert tags_of(conversation.contact_id) == ["Facebook Comments"]
        assert any("post without post_id" in i.reason for i in IgnoredItem.select())  # a status with no post id
    stack.post_webhook(p.feed_comment(page_id, "42_1", post, verb="remove", from_id="5010", time=ts + 9))
    stack.wait(lambda: Message.get(Message.comment_id == "42_1").deleted_at is not None, what="removed")


def test_dm_and_comment_of_one_person_are_one_contact(stack: Stack) -> None:
    page_id, _ = ids(stack)
    stack.post_webhook(p.messenger_message(page_id, "5020", "m_same", text="hi", timestamp=now_ms()))
    stack.post_webhook(p.feed_comment(page_id, "77_1", f"{page_id}_77", from_id="5020", created_time=int(time.time())))
    wait_applied(stack, 2)
    with connection():
        assert Contact.select().count() == 1
        assert Conversation.select().count() == 2
        contact = Contact.get()
        assert tags_of(contact.id) == ["Facebook Comments", "Facebook Messenger"]


def test_instagram_comments(stack: Stack) -> None:
    _, ig_id = ids(stack)
    stack.post_webhook(p.instagram_comment(ig_id, "ig_c1", "media_1", text="Price?", from_id="7100",
                                           username="pat.buyer"))
    stack.post_webhook(p.instagram_comment(ig_id, "ig_c2", "media_1", text="DM sent", from_id=ig_id,
                                           username="acme.shoes", parent_id="ig_c1"))
    wait_applied(stack, 2)
    with connection():
        conversation = Conversation.get(Conversation.kind == "instagram_comments")
        assert [m.text for m in Message.select().where(Message.conversation == conversation)
                .order_by(Message.id)] == ["Price?", "DM sent"]
        assert conversation.identity.username == "pat.buyer"


# --- channel settings ---------------------------------------------------------------------------------------


def test_receive_messages_off_ignores_dms(stack: Stack) -> None:
    page_id, _ = ids(stack)
    with connection():
        commands.update_channel_settings(Channel.get(Channel.account_id == page_id).id, receive_messages=False)
    stack.post_webhook(p.messenger_message(page_id, "5030", "m_off", text="hi", timestamp=now_ms()))
    stack.wait(lambda: IgnoredItem.select().where(IgnoredItem.reason.contains("receive messages")).exists(),
               what="ignored")
    with connection():
        assert Message.select().count() == 0


def test_receive_comments_off_opens_no_conversation(stack: Stack) -> None:
    page_id, _ = ids(stack)
    with connection():
        commands.update_channel_settings(Channel.get(Channel.account_id == page_id).id, receive_comments=False)
    stack.post_webhook(p.feed_comment(page_id, "88_1", f"{page_id}_88", from_id="5040",
                                      created_time=int(time.time())))
    wait_applied(stack, 1)
    with connection():
        assert Comment.select().count() == 1
        assert Conversation.select().count() == 0


def test_notifications_per_staff_user(stack: Stack) -> None:
    from bot.automation.notifications import unread_count
    from bot.staff.auth import add_user

    page_id, _ = ids(stack)
    with connection():
        ann = add_user("ann@example.com", "long enough", "admin")
        bob = add_user("bob@example.com", "long enough", "agent")
    t = now_ms()
    stack.post_webhook(p.batch(*(p.messenger_message(page_id, "5050", f"m_n{i}", text="hi", timestamp=t + i)
                                 for i in range(3))))
    wait_applied(stack, 3)
    with connection():
        assert unread_count(ann.id) == 3 and unread_count(bob.id) == 3
        commands.update_channel_settings(Channel.get(Channel.account_id == page_id).id, notifications=False)
    stack.post_webhook(p.messenger_message(page_id, "5050", "m_n9", text="hi", timestamp=t + 9))
    wait_applied(stack, 4)
    with connection():
        assert Notification.select().count() == 6


def test_nul_characters_are_stored_not_lost(stack: Stack) -> None:
    page_id, _ = ids(stack)
    stack.post_webhook(p.messenger_message(page_id, "5060", "m_nul", text="a\u0000b", timestamp=now_ms()))
    stack.post_webhook(p.feed_comment(page_id, "66_1", f"{page_id}_66", message="c\u0000d", from_id="5060",
                                      created_time=int(time.time())))
    wait_applied(stack, 2)
    with connection():
        assert Message.get(Message.mid == "m_nul").text == "a\ufffdb"
        assert Comment.get(Comment.comment_id == "66_1").text == "c\ufffdd"


def test_profiles_are_fetched_in_the_background(stack: Stack) -> None:
    from bot.platform.models import Identity

    page_id, ig_id = ids(stack)
    user = stack.control("customers", account_id=page_id, name="Paula Profile", first_name="Paula",
                         last_name="Profile", profile_pic="https://cdn.example/paula.jpg")["user_id"]
    stack.control("dm", account_id=page_id, user_id=user, text="hello")
    contact = stack.wait(lambda: Contact.get_or_none(Contact.first_name == "Paula"), what="profile fetched")
    assert contact.last_name == "Profile" and contact.picture_url == "https://cdn.example/paula.jpg"
    ig_user = stack.control("customers", account_id=ig_id, name="Iggy", username="iggy.pop", follower_count=321)[
        "user_id"]
    stack.control("dm", account_id=ig_id, user_id=ig_user, text="hi")
    identity = stack.wait(lambda: Identity.get_or_none((Identity.scoped_id == ig_user)
                                                       & Identity.profile_fetched_at.is_null(False)), what="ig profile")
    assert (identity.username, identity.follower_count) == ("iggy.pop", 321)
    # A commenter who never wrote has no profile access (meta-platform.md §9): no doomed Graph call is
    # made (each would count against the page's rate limit; test_comment_store checks the decision);
    # the name comes with the comment.
    stack.post_webhook(p.feed_comment(page_id, "99_1", f"{page_id}_99", from_id="5099", from_name="Never Wrote",
                                      created_time=int(time.time())))
    stack.wait(lambda: Message.get_or_none(Message.comment_id == "99_1"), what="the comment stored")
    with connection():
        commenter = Identity.get(Identity.scoped_id == "5099")
        assert (commenter.name, commenter.profile_fetched_at, commenter.profile_error) == ("Never Wrote", None, None)
        assert Message.get(Message.comment_id == "99_1").text == "Is this still available?"
