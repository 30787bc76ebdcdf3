"""Ambiguous sends are settled, never left failed (issue 17, point 8): the sandbox closes the
connection of one send with no answer, either before Meta handled it or after it took effect.
A private reply is tried again (Meta's 10900 then means the first went through); a DM is
confirmed by its echo or by reading the thread back, and sent again only when it is not there."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot import commands
from bot.platform.db import connection
from bot.platform.models import Conversation, Identity, Message
from bot.staff.auth import add_user
from tests.servers import Stack


@pytest.fixture
def staff(stack: Stack) -> int:
    with connection():
        return add_user("agent@example.com", "long enough", "agent").id


def customer_writes(stack: Stack) -> tuple[str, int]:
    user = stack.control("customers", account_id=stack.page["page_id"], name="Dana Diaz")["user_id"]
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="hi",
                  timestamp_ms=int(time.time() * 1000))
    conversation = stack.wait(lambda: Conversation.get_or_none(Conversation.identity.in_(
        [i.id for i in Identity.select().where(Identity.scoped_id == user)])), what="conversation")
    return user, conversation.id


def commented(stack: Stack, *, instagram: bool = False) -> tuple[str, int]:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    post = stack.control("posts", account_id=account, message="New shoes!")["post_id"]
    user = stack.control("customers", account_id=account, name="Cole Commenter")["user_id"]
    comment = stack.control("comment", account_id=account, post_id=post, user_id=user, text="Price?")["comment_id"]
    thread = stack.wait(lambda: Message.get_or_none(Message.comment_id == comment), what="comment stored")
    return comment, thread.conversation_id


def drop_one_send(stack: Stack, when: str, send: Any) -> list[Message]:
    """Run `send` with every Graph connection dropped `when` ("before"/"after"), until one send
    was dropped; then the network heals."""
    stack.control("config", drop_rate=1.0, drop_kinds=[when])
    with connection():
        rows = send()
    stack.wait(lambda: sends(stack, dropped=when), timeout=10, what="a dropped send")
    stack.control("config", drop_rate=0.0)
    return rows


def sends(stack: Stack, **match: Any) -> list[dict]:
    attempts = stack.sandbox_get("attempts")["attempts"]
    return [a for a in attempts if a["path"].endswith(("/messages", "/comments", "/replies"))
            and all(a.get(key) == value for key, value in match.items())]


def settled(stack: Stack, message_id: int, timeout: float = 20) -> Message:
    return stack.wait(lambda: (m := Message.get_by_id(message_id)).status not in ("pending", "sending") and m,
                      timeout=timeout, what="the send settled")


def test_a_private_reply_whose_answer_was_lost_is_sent_once_and_recorded_sent(stack: Stack, staff: int) -> None:
    comment, thread = commented(stack)
    stack.control("deliveries/hold", hold=True)  # no echo: Meta's 10900 must tell us
    [row] = drop_one_send(stack, "after", lambda: commands.reply(staff, thread, text="Code: FAN10",
                                                                 reply_type="private"))
    row = settled(stack, row.id)
    assert (row.status, row.error_kind, row.attempts, row.mid) == ("sent", None, 2, None)
    delivered = [s for s in stack.sandbox_get("sent")["sent"] if s["private_reply"]]
    assert [s["body"]["recipient"]["comment_id"] for s in delivered] == [comment], "reached Meta exactly once"
    retry = sends(stack, dropped=None)
    assert [(a["status"], a["response"]["error"]["code"]) for a in retry] == [(400, 10900)]
    stack.control("deliveries/hold", hold=False)
    stack.control("deliveries/flush", batch=False)
    stack.wait(lambda: Message.get_by_id(row.id).mid == delivered[0]["message_id"], what="the echo's mid")


def test_a_private_reply_lost_before_meta_saw_it_is_sent_on_the_retry(stack: Stack, staff: int) -> None:
    comment, thread = commented(stack)
    [row] = drop_one_send(stack, "before", lambda: commands.reply(staff, thread, text="Code: FAN10",
                                                                  reply_type="private"))
    row = settled(stack, row.id)
    delivered = [s for s in stack.sandbox_get("sent")["sent"] if s["private_reply"]]
    assert [s["body"]["recipient"]["comment_id"] for s in delivered] == [comment]
    assert (row.status, row.mid, row.attempts) == ("sent", delivered[0]["message_id"], 2)


def test_a_dm_whose_answer_and_echo_were_lost_is_confirmed_by_reading_the_thread(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack)
    stack.control("deliveries/hold", hold=True)  # Meta's echo webhook does not come
    [row] = drop_one_send(stack, "after", lambda: commands.reply(staff, conversation, text="Your order shipped"))
    row = settled(stack, row.id)
    delivered = stack.sandbox_get("sent", recipient_id=user)["sent"]
    assert [s["body"]["message"]["text"] for s in delivered] == ["Your order shipped"], "never sent twice"
    assert (row.status, row.mid) == ("sent", delivered[0]["message_id"])
    assert len(sends(stack)) == 1, "confirmed without a second send"
    stack.control("deliveries/hold", hold=False)
    stack.control("deliveries/flush", batch=False)
    with connection():
        assert Message.select().where(Message.mid == row.mid).count() == 1, "the late echo is the same message"


def test_a_dm_lost_before_meta_saw_it_is_sent_again(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack)
    stack.control("deliveries/hold", hold=True)
    [row] = drop_one_send(stack, "before", lambda: commands.reply(staff, conversation, text="Your order shipped"))
    row = settled(stack, row.id)
    delivered = stack.sandbox_get("sent", recipient_id=user)["sent"]
    assert [s["body"]["message"]["text"] for s in delivered] == ["Your order shipped"]
    assert (row.status, row.mid, row.attempts) == ("sent", delivered[0]["message_id"], 2)


def test_a_dm_whose_answer_was_lost_is_confirmed_by_its_echo(stack: Stack, staff: int) -> None:
    user, conversation = customer_writes(stack)
    [row] = drop_one_send(stack, "after", lambda: commands.reply(staff, conversation, text="On its way"))
    row = settled(stack, row.id)
    delivered = stack.sandbox_get("sent", recipient_id=user)["sent"]
    assert (row.status, row.mid) == ("sent", delivered[0]["message_id"]) and len(delivered) == 1
    assert len(sends(stack)) == 1
    stack.wait(lambda: Message.get_by_id(row.id).error_kind is None, what="the doubt cleared")


@pytest.mark.parametrize("instagram", [False, True], ids=["facebook", "instagram"])
def test_a_public_reply_whose_answer_and_webhook_were_lost_is_found_under_the_comment(
        stack: Stack, staff: int, instagram: bool) -> None:
    comment, thread = commented(stack, instagram=instagram)
    stack.control("deliveries/hold", hold=True)  # the feed webhook of our reply does not come
    [row] = drop_one_send(stack, "after", lambda: commands.reply(staff, thread, text="Check your inbox!",
                                                                 reply_type="comment"))
    row = settled(stack, row.id)
    replies = [s for s in stack.sandbox_get("sent")["sent"] if s.get("reply_comment_id")]
    assert [r["body"].get("message") for r in replies] == ["Check your inbox!"], "never published twice"
    assert (row.status, row.comment_id, row.error_kind) == ("sent", replies[0]["reply_comment_id"], None)
    assert len(sends(stack)) == 1


def test_a_public_reply_lost_before_meta_saw_it_is_published_again(stack: Stack, staff: int) -> None:
    comment, thread = commented(stack)
    stack.control("deliveries/hold", hold=True)
    [row] = drop_one_send(stack, "before", lambda: commands.reply(staff, thread, text="Check your inbox!",
                                                                  reply_type="comment"))
    row = settled(stack, row.id)
    replies = [s for s in stack.sandbox_get("sent")["sent"] if s.get("reply_comment_id")]
    assert [r["body"].get("message") for r in replies] == ["Check your inbox!"]
    assert (row.status, row.comment_id, row.attempts) == ("sent", replies[0]["reply_comment_id"], 2)
