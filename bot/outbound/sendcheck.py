"""Did an ambiguous send arrive? Ask Meta instead of guessing.

A send whose answer was lost (the connection closed after the request left, a read timeout,
Meta's 1/1357046 "invalid JSON reply") may or may not have reached the person: sending again
could say it twice, giving up could lose it. So such a row is never left failed:

- a private reply is simply tried again: Meta allows one per comment (meta-platform.md §6), so
  the retry either goes through (the first did not) or is refused with 10900 "already replied",
  which then means the first one did (`sender._failed` records it as sent);
- a DM is settled by its echo, which carries the idempotency key we put in `metadata` and marks
  the row sent (`inbox._echo`); when no echo came within `ECHO_WAIT_MS`, the person's thread is
  read back (§10 Conversations API) and the row is sent again only when our message is not
  there;
- a public comment reply is looked for under the comment it answers: in the comments Meta's
  feed webhook brought us, then in Meta's own list of replies; sent again only when absent.

A row left `sending` by a worker that died mid-send is such a send too (the request may have
left): `release_orphans` gives it back as ambiguous, and it is settled the same way.
"""

from __future__ import annotations

from bot.core.events import MessageEcho
from bot.platform import runtime
from bot.platform.db import now_ms
from bot.platform.models import Channel, Comment, Message

AMBIGUOUS = "ambiguous"
ECHO_WAIT_MS = 3_000  # the echo webhook normally follows the send within a second
READBACK_SKEW_MS = 60_000  # Meta's clock against ours: how far before the row's creation to look
ORPHAN_REASON = "The worker sending it stopped; checking whether it arrived before sending again."


def delivered_mid(message: Message, channel: Channel, token: str) -> str | None:
    """Meta's id of this DM when the person's thread shows it arrived, else None. Raises
    GraphError when Meta cannot be asked (the caller retries later). Only the 20 most recent
    messages of a thread have details (§10): an ambiguous send is checked seconds later, so
    ours is among them unless twenty messages followed it."""
    graph = runtime.graph(channel.login)
    threads = graph.list_conversations(channel.account_id, channel.platform, token, limit=1,
                                       user_id=message.recipient_id)
    if not threads.conversations:
        return None
    since = message.created_at - READBACK_SKEW_MS
    for ref in graph.conversation_message_ids(threads.conversations[0].id, token):
        if (ref.created_time is not None and ref.created_time < since) or _recorded(ref.id):
            continue
        found = graph.get_message(channel.platform, channel.account_id, ref.id, token)
        if isinstance(found, MessageEcho) and same_message(found, message):
            return found.mid
    return None


def _recorded(mid: str) -> bool:
    """A message we already hold under its Meta id is another one (ours or a person's)."""
    return Message.select().where(Message.mid == mid).exists()


def same_message(echo: MessageEcho, message: Message) -> bool:
    """A message read back has no `metadata` among its documented fields (§10: id, created_time,
    from, to, message, attachments; that Meta never returns it is unconfirmed), so the page's
    message is recognised by what it says: the same text and the same number of attachments."""
    return (echo.text or "") == (message.text or "") and len(echo.attachments) == len(message.attachments or [])


def published_reply_id(message: Message, channel: Channel, token: str) -> str | None:
    """The id of this public reply when it is under the comment it answers, else None. Raises
    GraphError when Meta cannot be asked. (On Instagram a reply to a reply lands under the
    top-level comment, §6: such a reply is not found here and goes again.)"""
    since = message.created_at - READBACK_SKEW_MS
    stored = Comment.select(Comment.comment_id, Comment.text).where(
        (Comment.parent_id == message.target_comment_id) & Comment.by_account & (Comment.created_at >= since))
    for comment in stored:  # the page's comment webhook came, but not our answer
        if (comment.text or "") == (message.text or "") and not _ours(comment.comment_id):
            return comment.comment_id
    replies = runtime.graph(channel.login).comment_replies(channel.platform, channel.account_id,
                                                           message.target_comment_id, token)
    for reply in replies.comments:
        if (reply.by_account and (reply.text or "") == (message.text or "")
                and (reply.created_time or since) >= since and not _ours(reply.comment_id)):
            return reply.comment_id
    return None


def _ours(comment_id: str) -> bool:
    """Another of our sent replies already holds this comment (the page's own rows stored from
    the webhook do not count: that is this reply arriving first, folded in by the sender)."""
    return Message.select().where((Message.comment_id == comment_id) & (Message.author != "page")
                                  & (Message.direction == "out")).exists()


_suspects: dict[tuple[int, int], int] = {}  # (row, its claim time) -> when first seen unclaimed


def release_orphans(live: set[int] | None, *, after_ms: int, stuck_ms: int, confirm_ms: int) -> list[int]:
    """Rows `sending` whose sender is gone, given back as pending and ambiguous (checked before
    any second send): those no live process claims (`live`: every row they hold), claimed over
    `after_ms` ago (longer than a Graph call may take) and seen unclaimed already by a sweep at
    least `confirm_ms` earlier (a Redis restart or flush empties the claims until their holders
    publish them again); or, when the live claims are unknown (None), claimed over `stuck_ms` ago.
    Each row is taken back only as it was seen (same claim time), so a sender that claimed it
    again meanwhile keeps it. Returns the rows to enqueue."""
    now = now_ms()
    rows = Message.select(Message.id, Message.send_started_at).where(
        (Message.status == "sending") & (Message.send_started_at < now - (stuck_ms if live is None else after_ms))
    ).order_by(Message.send_started_at).limit(500)
    if live is None:
        return [row.id for row in rows if _release(row, now)]
    unclaimed = {(row.id, row.send_started_at): row for row in rows if row.id not in live}
    for key in [key for key in _suspects if key not in unclaimed]:  # claimed again, or settled
        del _suspects[key]
    confirmed = [row for key, row in unclaimed.items() if now - _suspects.setdefault(key, now) >= confirm_ms]
    return [row.id for row in confirmed if _release(row, now)]


def _release(row: Message, now: int) -> bool:
    return bool(Message.update(status="pending", next_attempt_at=now, error_kind=AMBIGUOUS,
                               status_reason=ORPHAN_REASON).where(
        (Message.id == row.id) & (Message.status == "sending")
        & (Message.send_started_at == row.send_started_at)).execute())
