"""Unsent staff replies, kept per (staff user, conversation) in the database.

A reply being typed must outlive what a dashboard session keeps: a browser reload, a new tab,
another computer. The dashboard saves the text whenever it changes, loads it when the reply box
first appears, and clears it once the reply is sent. Only the text and the chosen way of
answering are kept: attachments are links staff pick again, and no file bytes ever land here.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from bot.core.errors import Invalid, NotFound
from bot.platform.db import now_ms
from bot.platform.models import Conversation, ReplyDraft, User


class ReplyType(StrEnum):
    """How staff answer: the reply box's choice, kept with a draft and used by `bot.commands.reply`."""

    MESSAGE = "message"  # a DM in a Messenger / Instagram Direct thread
    PRIVATE = "private"  # the private reply to a comment (Messenger / Instagram Direct)
    COMMENT = "comment"  # a public reply under the comment


def parse_reply_type(value: ReplyType | str) -> ReplyType:
    """The way of answering named by `value`, or Invalid naming the field."""
    try:
        return ReplyType(value)
    except ValueError:
        raise Invalid("reply_type", "must be message, private or comment") from None


MAX_DRAFT_CHARS = 20_000  # well above any sendable text (Messenger: 2,000), far below abuse


class Draft(msgspec.Struct, frozen=True):
    text: str
    reply_type: str
    updated_at: int


def save(user_id: int, conversation_id: int, text: str, reply_type: ReplyType | str = ReplyType.MESSAGE
         ) -> Draft | None:
    """Keep what `user_id` has typed in `conversation_id` (one draft each, the newest wins).
    An empty text removes the draft instead: there is nothing left to lose."""
    kind = parse_reply_type(reply_type).value
    if len(text) > MAX_DRAFT_CHARS:
        raise Invalid("text", f"at most {MAX_DRAFT_CHARS} characters")
    if not User.select().where(User.id == user_id).exists():
        raise NotFound("user", user_id)
    if not Conversation.select().where(Conversation.id == conversation_id).exists():
        raise NotFound("conversation", conversation_id)
    if not text.strip():
        clear(user_id, conversation_id)
        return None
    fields = {"text": text, "reply_type": kind, "updated_at": now_ms()}
    ReplyDraft.insert(user=user_id, conversation=conversation_id, **fields).on_conflict(
        conflict_target=[ReplyDraft.user, ReplyDraft.conversation], update=fields).execute()
    return load(user_id, conversation_id)


def load(user_id: int, conversation_id: int) -> Draft | None:
    """The unsent reply of `user_id` in `conversation_id`, or None."""
    row = ReplyDraft.get_or_none((ReplyDraft.user == user_id) & (ReplyDraft.conversation == conversation_id))
    if row is None:
        return None
    return Draft(text=row.text, reply_type=row.reply_type, updated_at=row.updated_at)


def clear(user_id: int, conversation_id: int) -> None:
    """Forget the draft (the reply was sent); other staff members' drafts stay."""
    ReplyDraft.delete().where((ReplyDraft.user == user_id) & (ReplyDraft.conversation == conversation_id)).execute()

