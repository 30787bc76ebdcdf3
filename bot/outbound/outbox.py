"""Drafts become outgoing rows: the only writer of outbound `Message` rows.

A draft (from staff, the bot or a campaign) is split into the parts Meta takes one per call
(`compose.split_parts`), each a row with an idempotency key derived from the draft's key, so
the same draft added twice adds nothing. The database enforces "one private reply per comment"
(`Message.private_reply_to` is unique): two concurrent triggers cannot both win.

A private reply is one message (meta-platform.md §6): its first part goes as the private reply,
and the rest (media) is held in the person's DM thread until they answer and the 24-hour window
opens (`inbox._release_held`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import msgspec

from bot.core.compose import MessageContent, card_attachment, card_of, private_reply_parts, split_parts
from bot.inbound.contacts import identity_for
from bot.inbound.inbox import open_dm_thread
from bot.outbound import outhooks
from bot.outbound.sendpolicy import SendKind
from bot.platform import cache, statements
from bot.platform.db import now_ms
from bot.platform.models import Channel, Comment, Conversation, Message
from bot.platform.registry import channel_by_id

PRIVATE_REPLY_USED = "This comment has already had its one private reply."


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """Something to send, already rendered. `key` makes adding it idempotent."""

    key: str
    kind: SendKind
    content: MessageContent
    author: str  # staff | bot | campaign
    conversation_id: int | None = None  # the DM thread (direct) or the comment thread (comment reply)
    comment_id: str | None = None  # the comment answered (private or public reply)
    author_user_id: int | None = None
    origin: str | None = None


_sent_here: ContextVar[tuple[list[Message], int] | None] = ContextVar("outbox_sent_here", default=None)


@contextmanager
def sent_here(taken: list[Message], room: int) -> Iterator[None]:
    """Within the block, a private reply is inserted already claimed for the caller's own sender,
    up to `room` rows, each listed in `taken` (with the comment it answers, for the send policy),
    and the caller sends them itself (`sender.send_one(..., taken=row)`) once it has committed:
    the send then needs no claim statement, nor a second version of the row (issue 18). Only a
    caller that will send them at once asks: a job killed before the send leaves a row `sending`
    that no live process holds, which the clock gives back as ambiguous within a minute
    (`sendcheck.release_orphans`; a second private reply is refused by Meta, so the retry is safe)."""
    token = _sent_here.set((taken, room))
    try:
        yield
    finally:
        _sent_here.reset(token)


def _claim_here() -> list[Message] | None:
    """Where to list a row claimed at insert, or None (it goes in `pending`, for any sender)."""
    here = _sent_here.get()
    return here[0] if here is not None and len(here[0]) < here[1] else None


def add(draft: Draft) -> list[int]:
    """Store the draft's parts; returns ids of rows ready to send now (held/refused rows excluded)."""
    if draft.kind == SendKind.PRIVATE_REPLY:
        return _add_private_reply(draft)
    if draft.kind == SendKind.COMMENT_REPLY:
        return _add_comment_reply(draft)
    conversation = Conversation.get_by_id(draft.conversation_id)
    recipient = conversation.identity.scoped_id if conversation.identity_id else None
    ready = []
    for index, part in enumerate(split_parts(draft.content)):
        # Parts go in order: each waits ("queued") until the one before it is done (`promote_next`).
        row = _insert(draft, part, index, conversation.channel_id, conversation.id, SendKind.DIRECT,
                      recipient=recipient, status="pending" if index == 0 else "queued")
        if row:
            ready.append(row)
    return ready


def _add_private_reply(draft: Draft) -> list[int]:
    comment = cache.memo("comment", draft.comment_id, lambda: Comment.get(Comment.comment_id == draft.comment_id))
    channel: Channel = channel_by_id(comment.channel_id)
    identity, _ = identity_for(channel, comment.from_id, name=comment.from_name, username=comment.from_username)
    first, rest = private_reply_parts(draft.content, channel.platform)
    parts = [part for part in (first, *rest) if part is not None]
    # A thread the reply opens is inserted as the last part's `_touch` would leave it, and on
    # PostgreSQL with the private reply in the same statement.
    clocks = dict(last_message_at=now_ms(), preview=_preview(parts[-1]) if parts else "")
    taken = _claim_here()
    first_fields = None if first is None else _part_fields(
        draft, first, 0, channel.id, SendKind.PRIVATE_REPLY, recipient=comment.from_id, target=comment.comment_id,
        private=True, status="pending" if taken is None else "sending")
    thread, new, first_id = open_dm_thread(channel, identity, first=first_fields, **clocks)
    ready = []
    if first is not None:
        fields = {**first_fields, "conversation": thread.id}
        row = _store(fields, first, touch=not new, inserted=first_id)
        if row:
            ready.append(row)
            if taken is not None:
                taken.append(_claimed_row(row, fields, comment))
    for index, part in enumerate(rest, start=1):
        _insert(draft, part, index, channel.id, thread.id, SendKind.DIRECT, recipient=comment.from_id, status="held",
                reason="Waiting for the person to answer: a private reply carries one message only.", touch=not new)
    return ready


def _claimed_row(row_id: int, fields: dict, comment: Comment) -> Message:
    """The row as the claim would have read it back, with the comment it answers."""
    message = Message(id=row_id, **fields)
    message.target_comment = comment
    return message


def _add_comment_reply(draft: Draft) -> list[int]:
    comment = Comment.get(Comment.comment_id == draft.comment_id)
    conversation_id = draft.conversation_id
    if conversation_id is None:  # stays None when the channel does not show comments in the inbox
        existing = Message.get_or_none(Message.comment_id == comment.comment_id)
        conversation_id = existing.conversation_id if existing else None
    content = MessageContent(text=draft.content.text)
    row = _insert(draft, content, 0, comment.channel_id, conversation_id, SendKind.COMMENT_REPLY,
                  recipient=comment.from_id, target=comment.comment_id)
    return [row] if row else []


def _insert(draft: Draft, part: MessageContent, index: int, channel_id: int, conversation_id: int | None,
            kind: SendKind, *,
            recipient: str | None, target: str | None = None, private: bool = False, status: str = "pending",
            reason: str | None = None, touch: bool = True) -> int | None:
    """Insert one part; None when it already exists (same key) or could not be sent at all.
    `touch` False: the thread was just inserted with this part's clocks."""
    fields = _part_fields(draft, part, index, channel_id, kind, recipient=recipient, target=target, private=private,
                          status=status, reason=reason)
    return _store({**fields, "conversation": conversation_id}, part, touch=touch)


def _part_fields(draft: Draft, part: MessageContent, index: int, channel_id: int, kind: SendKind, *,
                 recipient: str | None, target: str | None = None, private: bool = False, status: str = "pending",
                 reason: str | None = None) -> dict:
    """The row of one part, but its conversation."""
    now = now_ms()
    return dict(
        channel=channel_id, direction="out", author=draft.author, author_user=draft.author_user_id,
        kind="comment" if kind == SendKind.COMMENT_REPLY else "message", text=part.text,
        attachments=_stored_attachments(part),
        buttons=[msgspec.to_builtins(b) for b in part.buttons] or None,
        quick_replies=[msgspec.to_builtins(q) for q in part.quick_replies] or None,
        occurred_at=now, status=status, status_reason=reason, idempotency_key=f"{draft.key}:{index}",
        send_kind=kind.value, recipient_id=recipient, target_comment_id=target,
        private_reply_to=target if private else None, next_attempt_at=now, origin=draft.origin, created_at=now,
        **({"send_started_at": now, "attempts": 1} if status == "sending" else {}),  # claimed as `sender._claim` does
    )


def _store(fields: dict, part: MessageContent, *, touch: bool, inserted: int | None = None) -> int | None:
    """Insert the part's row unless `inserted` (its id: it went in with its thread); the id when
    it is ready to send. A taken key is this draft added before, or another draft's private reply."""
    row_id = inserted or statements.insert_new(Message, fields)  # one statement: nothing when either key is taken
    if row_id is None:
        if Message.select().where(Message.idempotency_key == fields["idempotency_key"]).exists():
            return None  # this draft was added before (or by a concurrent add)
        # Another draft already holds this comment's private reply: record the refusal, send nothing.
        refused = {**fields, "private_reply_to": None, "status": "refused", "status_reason": PRIVATE_REPLY_USED,
                   "error_kind": "private_reply_used", "send_started_at": None, "attempts": 0}
        refused_id = statements.insert(Message, refused)
        # Its `message.failed` is recorded in this transaction; the clock's sweep delivers it (no
        # send job will ever look at this row).
        outhooks.message_outcome(refused_id)
        return None
    if fields["conversation"] is not None and touch:
        _touch(fields["conversation"], fields["occurred_at"], part)
    return row_id if fields["status"] in ("pending", "sending") else None


def _stored_attachments(part: MessageContent) -> list[dict] | None:
    """A part's media, or its card stored as the template Meta would echo (see `part_content`)."""
    stored = [msgspec.to_builtins(a) for a in part.attachments]
    if part.card is not None:
        stored.append(card_attachment(part.card))
    return stored or None


def _touch(conversation_id: int, at: int, part: MessageContent) -> None:
    """Our message is now the latest in its thread (a private reply may open the thread)."""
    Conversation.update(last_message_at=at, preview=_preview(part)).where(
        (Conversation.id == conversation_id)
        & (Conversation.last_message_at.is_null() | (Conversation.last_message_at <= at))).execute()


def _preview(part: MessageContent) -> str:
    """The thread list's line for an outgoing part."""
    preview = part.text or (f"[card] {part.card.title}" if part.card is not None else "") or (
        f"[{part.attachments[0].type}]" if part.attachments else "")
    return preview[:200]


def promote_next(message: Message) -> int | None:
    """The part after `message` in its draft may go now (whatever became of this one); returns
    its id when it was waiting. After a draft's last part, a message parked behind the thread
    (`queue_behind`) may go once nothing before it is still on its way."""
    key = _sibling_key(message.idempotency_key, +1)
    following = Message.get_or_none(Message.idempotency_key == key) if key else None
    if following is None:
        parked = _parked_first(message.conversation_id)
        return parked if parked is not None and _promote(parked) else None
    if following.status != "queued":
        return None
    return following.id if _promote(following.id) else None


def queue_behind(released: list[int], ready: list[int]) -> list[int]:
    """Park what was just added (`ready`: the bot's answer to the person's reply) behind the parts
    that same reply released (`released`: held from a campaign's private reply), in the same thread.

    Why: both become sendable by one event; sent side by side, the bot's next question could
    arrive before the campaign's images it follows. A parked first part waits as "queued" and is
    promoted by `promote_next` when the thread's earlier parts are done. Returns what may go now."""
    if not released or not ready:
        return ready
    threads = Message.select(Message.conversation).where(Message.id.in_(released))
    parked = {row.id for row in Message.select(Message.id).where(
        Message.id.in_(ready) & Message.conversation.in_(threads) & (Message.status == "pending"))}
    if parked:
        Message.update(status="queued").where(Message.id.in_(list(parked))).execute()
    return [message_id for message_id in ready if message_id not in parked]


def _parked_first(conversation_id: int | None) -> int | None:
    """The thread's earliest outgoing row still on its way, when it is a parked first part (a
    draft's part 0 waiting as "queued"): nothing before it is left, so it may go."""
    if conversation_id is None:
        return None
    earliest = Message.select(Message.id, Message.idempotency_key, Message.status).where(
        (Message.conversation == conversation_id) & (Message.direction == "out")
        & Message.status.in_(("pending", "sending", "queued"))).order_by(Message.id).first()
    if earliest is None or earliest.status != "queued" or not (earliest.idempotency_key or "").endswith(":0"):
        return None
    return earliest.id


def _sibling_key(key: str | None, step: int) -> str | None:
    """The key of the part `step` places after (or before) the part keyed `key` in its draft
    ("<draft key>:<index>"), or None when `key` is not a part's key or there is no such index."""
    prefix, _, index = (key or "").rpartition(":")
    if not prefix or not index.isdigit() or int(index) + step < 0:
        return None
    return f"{prefix}:{int(index) + step}"


def _promote(message_id: int) -> bool:
    """A queued part may go now (one winner when two workers try)."""
    return bool(Message.update(status="pending", next_attempt_at=now_ms()).where(
        (Message.id == message_id) & (Message.status == "queued")).execute())


WAITING_STATUSES = ("pending", "sending", "queued", "held")  # a part behind one of these still waits


def orphaned_parts(older_than_ms: int, limit: int = 100) -> list[int]:
    """Promote parts still queued behind a predecessor that has finished (sent, failed, refused)
    or is gone: the worker that finished it died before `promote_next`. For the clock's sweep;
    returns the ids now pending."""
    cutoff = now_ms() - older_than_ms
    promoted: list[int] = []
    # Read to the end before promoting: a write while the SELECT is still stepped fails on SQLite
    # with "database is locked" when another connection committed meanwhile (see bot.platform.db.retry_locked).
    for row in list(Message.select(Message.id, Message.idempotency_key, Message.conversation).where(
            (Message.status == "queued") & (Message.created_at < cutoff)).limit(limit)):
        if not _sibling_key(row.idempotency_key, 0):
            continue
        if row.idempotency_key.endswith(":0") and _parked_first(row.conversation_id) != row.id:
            continue  # parked behind its thread (`queue_behind`), and something before it still goes
        key = _sibling_key(row.idempotency_key, -1)
        before = Message.get_or_none(Message.idempotency_key == key) if key else None
        if before is not None and before.status in WAITING_STATUSES:
            continue
        if _promote(row.id):
            promoted.append(row.id)
    return promoted


def part_content(message: Message) -> MessageContent:
    """The stored part, back as content for composing Meta's body."""
    stored = message.attachments or []
    cards = [card for card in map(card_of, stored) if card is not None]
    media = [a for a in stored if card_of(a) is None]
    return msgspec.convert({"text": message.text, "attachments": media, "buttons": message.buttons or [],
                            "quick_replies": message.quick_replies or [],
                            "card": msgspec.to_builtins(cards[0]) if cards else None}, MessageContent)
