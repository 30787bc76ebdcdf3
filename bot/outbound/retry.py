"""Sending a failed outgoing message again, as a new attempt.

The failed row stays as it is (the record of what Meta said); the retry is a new outgoing row
added through the outbox, so it meets the send policy at send time like any message (a closed
window refuses it with the reason). Its key derives from the failed row: retrying twice queues
one attempt. A private reply is not retried here: Meta allows one per comment and a failed call
may still have reached the person (Meta does not say; unconfirmed), so staff answer in the thread.
"""

from __future__ import annotations

import msgspec

from bot.core.compose import MessageContent
from bot.outbound.outbox import Draft
from bot.outbound.sendpolicy import SendKind
from bot.platform.models import Message

RETRYABLE_KINDS = (SendKind.DIRECT.value, SendKind.COMMENT_REPLY.value)


def retry_key(message_id: int) -> str:
    return f"retry:{message_id}"


def problem(message: Message) -> str | None:
    """Why retrying this message cannot help (None: it can)."""
    if message.direction != "out" or message.status != "failed":
        return "only a failed outgoing message can be sent again"
    if message.send_kind not in RETRYABLE_KINDS:
        return "a private reply is sent once per comment: answer in the person's thread instead"
    if Message.select().where(Message.idempotency_key.startswith(retry_key(message.id) + ":")).exists():
        return "this message was already sent again"
    return None


def draft(message: Message, user_id: int) -> Draft:
    """The new attempt: the failed row's content, to the same thread or comment, by this staff member."""
    content = msgspec.convert({"text": message.text, "attachments": message.attachments or [],
                               "buttons": message.buttons or [], "quick_replies": message.quick_replies or []},
                              MessageContent)
    return Draft(key=retry_key(message.id), kind=SendKind(message.send_kind), content=content, author="staff",
                 conversation_id=message.conversation_id, comment_id=message.target_comment_id,
                 author_user_id=user_id, origin=retry_key(message.id))
