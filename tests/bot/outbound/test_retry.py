"""Retrying a failed send (issue 20): a staff command queues it again as a new attempt through
the outbox, once per failed message, credited to the staff member who retried it."""

from __future__ import annotations

import pytest

from bot import commands, queries
from bot.core.errors import Invalid, NotFound
from bot.platform.db import connection
from bot.platform.models import Message
from tests.bot.outbound.test_sender import customer_writes, sent_to, staff, wait_status
from tests.servers import Stack

__all__ = ["staff"]  # the fixture, imported for the tests below


def failed_reply(stack: Stack, staff: int) -> tuple[str, int, Message, str]:
    """A reply that fails because the page token was revoked; returns (customer, conversation,
    failed row, the replacement token Meta would give on reconnecting)."""
    user, conversation = customer_writes(stack)
    replacement = stack.control("tokens/revoke", token=stack.page["page_token"])["replacement"]
    with connection():
        [row] = commands.reply(staff, conversation, text="Your order shipped")
    return user, conversation, wait_status(stack, row.id, "failed"), replacement


def test_a_failed_reply_is_sent_again_once_after_reconnecting(stack: Stack, staff: int) -> None:
    user, conversation, failed, token = failed_reply(stack, staff)
    with connection():
        [shown] = [m for m in queries.conversation(conversation).messages if m.id == failed.id]
        assert shown.can_retry and shown.status == "failed" and shown.error_code == 190
        commands.connect_page(stack.page["page_id"], "Shop", token, instagram_id=stack.page["instagram_id"])
        [again] = commands.retry_message(staff, failed.id, conversation)
        assert again.id != failed.id and again.author_user_id == staff
        assert Message.get_by_id(failed.id).status == "failed"  # the record of what Meta said stays
    sent = wait_status(stack, again.id, "sent")
    assert sent.text == "Your order shipped"
    assert [s["body"]["message"]["text"] for s in sent_to(stack, recipient_id=user)] == ["Your order shipped"]
    with connection():
        with pytest.raises(Invalid, match="already sent again"):
            commands.retry_message(staff, failed.id)
        views = {m.id: m for m in queries.conversation(conversation).messages}
    assert not views[failed.id].can_retry and views[again.id].author_name == "agent"


def test_only_failed_outgoing_messages_of_the_conversation_are_retried(stack: Stack, staff: int) -> None:
    _, conversation = customer_writes(stack)
    with connection():
        incoming = Message.get((Message.conversation == conversation) & (Message.direction == "in"))
        with pytest.raises(NotFound):
            commands.retry_message(staff, incoming.id)
        [row] = commands.reply(staff, conversation, text="fine")
    wait_status(stack, row.id, "sent")
    with connection():
        with pytest.raises(Invalid, match="only a failed"):
            commands.retry_message(staff, row.id)
        with pytest.raises(NotFound):
            commands.retry_message(staff, row.id, conversation + 1000)
