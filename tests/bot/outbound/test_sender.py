"""The outbound path end to end: outbox -> worker -> send policy -> Graph API client -> the sandbox
over real HTTP, and what the sandbox received for each message shape and each Meta error class."""

from __future__ import annotations

import threading
import time

import pytest

from bot import commands, jobs
from bot.automation.router import FollowUps
from bot.core.compose import Button, MediaAttachment, MessageContent
from bot.outbound import outbox
from bot.outbound.sendpolicy import SendKind
from bot.platform.db import connection, transaction
from bot.platform.models import Channel, Conversation, Message
from bot.staff.auth import add_user
from tests.servers import Stack

HOUR_MS = 3600 * 1000


@pytest.fixture
def staff(stack: Stack) -> int:
    with connection():
        return add_user("agent@example.com", "long enough", "agent").id


def customer_writes(stack: Stack, *, instagram: bool = False, ago_ms: int = 0, text: str = "hi") -> tuple[str, int]:
    """A customer DMs the page (or the Instagram account); returns (their id, conversation id)."""
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    user = stack.control("customers", account_id=account, name="Dana Diaz", first_name="Dana")["user_id"]
    stack.control("dm", account_id=account, user_id=user, text=text, timestamp_ms=int(time.time() * 1000) - ago_ms)
    conversation = stack.wait(lambda: Conversation.get_or_none(Conversation.identity.in_(
        _identity_ids(user))), what="conversation")
    return user, conversation.id


def _identity_ids(user: str) -> list[int]:
    from bot.platform.models import Identity

    return [i.id for i in Identity.select().where(Identity.scoped_id == user)]


def sent_to(stack: Stack, **filters: str) -> list[dict]:
    return stack.sandbox_get("sent", **filters)["sent"]


def wait_status(stack: Stack, message_id: int, *statuses: str) -> Message:
    return stack.wait(lambda: (m := Message.get_by_id(message_id)).status in statuses and m, what=str(statuses))


def test_text_reply_reaches_messenger_with_our_key(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack)
    with connection():
        [row] = commands.reply(staff, conversation, text="Hello Dana")
    sent = wait_status(stack, row.id, "sent")
    [delivered] = sent_to(stack, recipient_id=user)
    assert delivered["body"]["message"]["text"] == "Hello Dana"
    assert delivered["body"]["messaging_type"] == "RESPONSE"
    assert delivered["body"]["message"]["metadata"] == sent.idempotency_key
    assert delivered["message_id"] == sent.mid


@pytest.mark.parametrize("instagram", [False, True], ids=["messenger", "instagram"])
def test_buttons_and_attachments_become_one_call_each(stack: Stack, staff: int, instagram: bool) -> None:
    user, conversation = customer_writes(stack, instagram=instagram)
    buttons = [Button(title="Shop now", url="https://shop.example/sale"), Button(title="Talk to us", payload="TALK")]
    attachments = [MediaAttachment(type="image", url="https://cdn.example/a.jpg"),
                   MediaAttachment(type="video", url="https://cdn.example/b.mp4"),
                   MediaAttachment(type="file", url="https://cdn.example/c.pdf")]
    with connection():
        rows = commands.reply(staff, conversation, text="Our sale", buttons=buttons, attachments=attachments)
    assert len(rows) == 4
    for row in rows:
        wait_status(stack, row.id, "sent")
    bodies = [s["body"]["message"] for s in sent_to(stack, recipient_id=user)]
    template = bodies[0]["attachment"]
    assert template["type"] == "template" and template["payload"]["text"] == "Our sale"
    assert template["payload"]["buttons"] == [
        {"type": "web_url", "url": "https://shop.example/sale", "title": "Shop now"},
        {"type": "postback", "title": "Talk to us", "payload": "TALK"}]
    assert [b["attachment"]["type"] for b in bodies[1:]] == ["image", "video", "file"]
    assert sorted(b["attachment"]["payload"]["url"] for b in bodies[1:]) == sorted(a.url for a in attachments)


def test_outside_window_is_refused_without_calling_meta(stack: Stack, staff: int) -> None:
    _, conversation = customer_writes(stack, ago_ms=25 * HOUR_MS)
    with connection():
        [row] = commands.reply(staff, conversation, text="Too late?")
    refused = wait_status(stack, row.id, "refused")
    assert "24 hours" in refused.status_reason and refused.error_kind == "outside_window"
    assert [a for a in stack.sandbox_get("attempts")["attempts"] if a["path"].endswith("/messages")] == []


def test_human_agent_tag_within_seven_days_when_enabled(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack, ago_ms=3 * 24 * HOUR_MS)
    with connection():
        commands.update_channel_settings(Channel.get(Channel.account_id == stack.page["page_id"]).id, human_agent=True)
        [row] = commands.reply(staff, conversation, text="Sorry for the wait")
    wait_status(stack, row.id, "sent")
    [delivered] = sent_to(stack, recipient_id=user)
    assert (delivered["body"]["messaging_type"], delivered["body"]["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def comment_thread(stack: Stack, *, instagram: bool = False) -> tuple[str, str, int]:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    post = stack.control("posts", account_id=account, message="New shoes!")["post_id"]
    user = stack.control("customers", account_id=account, name="Cole Commenter")["user_id"]
    comment = stack.control("comment", account_id=account, post_id=post, user_id=user, text="Price?")["comment_id"]
    conversation = stack.wait(lambda: Message.get_or_none(Message.comment_id == comment), what="comment")
    return user, comment, conversation.conversation_id


@pytest.mark.parametrize("instagram", [False, True], ids=["facebook", "instagram"])
def test_private_and_public_replies_to_a_comment(stack: Stack, staff: int, instagram: bool) -> None:
    user, comment, conversation = comment_thread(stack, instagram=instagram)
    with connection():
        [private] = commands.reply(staff, conversation, text="Sent you the price", reply_type="private")
        [public] = commands.reply(staff, conversation, text="Check your inbox!", reply_type="comment")
    private = wait_status(stack, private.id, "sent")
    public = wait_status(stack, public.id, "sent")
    [pr] = sent_to(stack, comment_id=comment, kind="private_reply") or sent_to(stack, comment_id=comment)[:1]
    assert pr["body"]["recipient"] == {"comment_id": comment} and pr["private_reply"]
    assert private.recipient_id == user
    replies = [s for s in stack.sandbox_get("sent")["sent"] if s.get("reply_comment_id")]
    assert [r["body"].get("message") for r in replies] == ["Check your inbox!"]
    assert public.comment_id == replies[0]["reply_comment_id"]
    with connection():
        [second] = commands.reply(staff, conversation, text="Again?", reply_type="private")
    assert second.status == "refused" and "one private reply" in second.status_reason


def test_retryable_errors_retry_then_send_once(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack)
    stack.control("config", error_rate=1.0, error_kinds=["server"])
    with connection():
        [row] = commands.reply(staff, conversation, text="Eventually")
    stack.wait(lambda: Message.get_by_id(row.id).attempts >= 2, what="two attempts")
    with connection():
        pending = Message.get_by_id(row.id)
    assert pending.status in ("pending", "sending") and pending.error_kind in ("server", "temporary")
    stack.control("config", error_rate=0.0)
    wait_status(stack, row.id, "sent")
    assert len(sent_to(stack, recipient_id=user)) == 1


def test_rate_limited_sends_back_off_and_go(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack)
    stack.control("config", rate_limit_per_second=1)
    with connection():
        rows = [commands.reply(staff, conversation, text=f"part {i}")[0] for i in range(3)]
    for row in rows:
        wait_status(stack, row.id, "sent")
    assert sorted(s["body"]["message"]["text"] for s in sent_to(stack, recipient_id=user)) == [
        "part 0", "part 1", "part 2"]


def test_revoked_token_fails_once_and_flags_the_channel(stack: Stack, staff: int) -> None:
    _, conversation = customer_writes(stack)
    stack.control("tokens/revoke", token=stack.page["page_token"])
    with connection():
        [row] = commands.reply(staff, conversation, text="Hello?")
    failed = wait_status(stack, row.id, "failed")
    assert failed.error_code == 190 and failed.attempts == 1 and failed.error_kind == "token"
    stack.wait(lambda: Channel.get(Channel.account_id == stack.page["page_id"]).health_status == "needs_reconnecting",
               what="the channel flagged by the send job")


def test_duplicate_and_redelivered_jobs_send_once(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack)
    with connection():
        [row] = commands.reply(staff, conversation, text="Just once")
    wait_status(stack, row.id, "sent")
    with connection():
        jobs.send_message(row.id)  # a redelivered job after the send was recorded
        jobs.send_message.send(row.id)  # a duplicated queue message
        jobs.send_message.send(row.id)
    stack.wait(lambda: True)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # bounded look for a second delivery that must not come
        assert len(sent_to(stack, recipient_id=user)) == 1
        time.sleep(0.1)


def test_two_concurrent_triggers_give_one_private_reply(stack: Stack) -> None:
    user, comment, _ = comment_thread(stack)
    barrier = threading.Barrier(2)
    ready: list[int] = []

    def trigger(key: str) -> None:
        with connection():
            barrier.wait()
            with transaction():
                ready.extend(outbox.add(outbox.Draft(key=key, kind=SendKind.PRIVATE_REPLY, author="campaign",
                                                     content=MessageContent(text=f"from {key}"), comment_id=comment)))
    threads = [threading.Thread(target=trigger, args=(k,)) for k in ("campaign:a", "campaign:b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with connection():
        jobs.dispatch(FollowUps(send=ready))
    stack.wait(lambda: Message.select().where(Message.status.in_(["sent", "refused"])).count() == 2, what="both")
    assert len([s for s in stack.sandbox_get("sent")["sent"] if s["private_reply"]]) == 1
    with connection():
        refused = Message.get(Message.status == "refused")
    assert refused.error_kind == "private_reply_used"


def test_usage_headers_near_the_limit_slow_sending_down() -> None:
    from bot.outbound.sender import usage_delay_ms

    assert usage_delay_ms(10) == 0 and usage_delay_ms(74.9) == 0
    assert 0 < usage_delay_ms(80) < usage_delay_ms(95) < usage_delay_ms(100) == 2000
    assert usage_delay_ms(250) == 2000


def test_a_part_left_queued_by_a_crash_is_sent_by_the_sweep(stack: Stack, staff: int) -> None:
    """The worker that sent part 1 died before promoting part 2: the clock's sweep finds it."""
    from bot import clock
    from bot.outbound import sender

    user, conversation = customer_writes(stack)
    stack.stop_workers()
    with connection():
        first, second = commands.reply(staff, conversation, text="Our sale",
                                       attachments=[MediaAttachment(type="image", url="https://cdn.example/a.jpg")])
        assert Message.get_by_id(second.id).status == "queued"
        sender.send_one(first.id)  # sent (and promoted part 2) ...
        Message.update(status="queued", created_at=first.created_at - clock.STALE_MS - 1000).where(
            Message.id == second.id).execute()  # ... but that promotion never committed
    stack.start_workers()
    with connection():
        clock.sweep()
    assert wait_status(stack, second.id, "sent").status == "sent"
    assert [b["body"]["message"].get("attachment", {}).get("type") for b in sent_to(stack, recipient_id=user)] == [
        None, "image"]
