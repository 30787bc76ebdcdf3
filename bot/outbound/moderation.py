"""Moderating a comment on Meta (like it, hide it), at most once per comment and action.

The same guarantees as a send: a request is a `CommentModeration` row, unique per (comment,
action), so a campaign firing twice, a redelivered comment or a staff member clicking again
like or hide a comment once; `decide` is the moderation policy, pure and asked before every
Graph call (meta-platform.md §6 and §12), and a refusal is stored with its reason and Meta is
never called; the outcome (done, Meta's error) is recorded on the row, which is the ledger.

What Meta allows, per §12:
- like: Facebook only, `POST /{comment-id}/likes`. Instagram has no documented "like a comment"
  for an account: refused with that reason.
- hide: Facebook `POST /{comment-id}` `is_hidden=true`, Instagram `POST /{ig-comment-id}`
  `hide=true`.
- The account's own comments: §12 is silent (unconfirmed). We assume Meta refuses hiding the
  page's or account's own comment (its comment node offers no hide to its author), and liking
  one's own comment is refused as a product rule: campaigns never act on their own comments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec
import peewee

from bot.core.errors import GraphError
from bot.outbound.sendcheck import AMBIGUOUS
from bot.outbound.sender import backoff_ms
from bot.platform import cache, runtime
from bot.platform.db import now_ms, transaction
from bot.platform.models import Channel, Comment, CommentModeration, Message
from bot.platform.registry import page_token

log = logging.getLogger(__name__)

ACTIONS = ("like", "hide")
MAX_ATTEMPTS = 6
STUCK_MS = 120_000
HEALTH_BY_KIND = {"token": "needs_reconnecting"}


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What the moderation policy looks at, gathered from stored facts."""

    action: str
    platform: str
    comment_known: bool = True
    comment_deleted: bool = False
    comment_by_account: bool = False
    comment_hidden: bool = False


class Allowed(msgspec.Struct, frozen=True):
    """Call Meta."""


class Refusal(msgspec.Struct, frozen=True):
    """Not done: `code` is stable (stats, tests), `reason` is for staff. `settled` says the
    outcome is already what was asked (a hidden comment needs no second hide)."""

    code: str
    reason: str
    settled: bool = False


def decide(facts: Facts) -> Allowed | Refusal:
    """The moderation policy: may socialdesk like or hide this comment now?"""
    if facts.action == "like" and facts.platform == "instagram":
        return Refusal("like_not_on_instagram",
                       "Instagram does not let an account like a comment through Meta's API.")
    if not facts.comment_known:
        return Refusal("comment_unknown", "socialdesk has not received this comment.")
    if facts.comment_deleted:
        return Refusal("comment_deleted", "The comment was deleted.")
    if facts.comment_by_account:
        return Refusal("own_comment", "This comment was written by your own page or account.")
    if facts.action == "hide" and facts.comment_hidden:
        return Refusal("already_hidden", "The comment is already hidden.", settled=True)
    return Allowed()


def facts_for(action: str, channel: Channel, comment: Comment | None) -> Facts:
    return Facts(action=action, platform=channel.platform, comment_known=comment is not None,
                 comment_deleted=bool(comment and comment.deleted_at),
                 comment_by_account=bool(comment and comment.by_account),
                 comment_hidden=bool(comment and comment.hidden))


# --- the ledger ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requested:
    """What asking for a moderation act did: the row (new or the earlier one), and whether this
    request created it (False: the comment was already liked/hidden, or is being, by `origin`)."""

    row: CommentModeration
    created: bool


def request(channel_id: int, comment_id: str, action: str, origin: str) -> Requested:
    """Record a like/hide to do, once per comment and action; the policy runs at once so a
    refusal is in the ledger immediately (and again before the call, when things may have changed)."""
    comment = Comment.get_or_none(Comment.comment_id == comment_id)
    channel = Channel.get_by_id(channel_id)
    decision = decide(facts_for(action, channel, comment))
    now = now_ms()
    fields = dict(channel=channel_id, comment_id=comment_id, action=action, origin=origin, status="pending",
                  next_attempt_at=now, created_at=now)
    if isinstance(decision, Refusal):
        fields.update(status="skipped" if decision.settled else "refused", reason=decision.reason, done_at=now)
    existing = _existing(comment_id, action)
    if existing is not None:
        return Requested(existing, False)
    try:
        with CommentModeration._meta.database.atomic():
            row_id = CommentModeration.insert(**fields).execute()
    except peewee.IntegrityError:  # a concurrent request for the same comment and action won
        return Requested(_existing(comment_id, action), False)  # type: ignore[arg-type]
    if fields["status"] == "pending":
        cache.memo("moderation_requested", comment_id, list).append(row_id)  # `requested_here`
    return Requested(CommentModeration.get_by_id(row_id), True)


def requested_here(comment_id: str) -> list[int]:
    """Rows waiting for their Graph call that this unit of work (an event's transaction) requested
    for a comment: for a comment the unit itself stored, the only ones there can be (a request
    made before the comment was stored is refused as unknown), so no read is needed."""
    return list(cache.memo("moderation_requested", comment_id, list))


def _existing(comment_id: str, action: str) -> CommentModeration | None:
    return CommentModeration.get_or_none((CommentModeration.comment_id == comment_id)
                                         & (CommentModeration.action == action))


def pending_ids(comment_ids: list[str] | None = None, *, older_than_ms: int = 0, limit: int = 500) -> list[int]:
    """Rows waiting for their Graph call (of these comments), for the jobs to enqueue; the
    clock's sweep passes `older_than_ms` to find rows whose queue message was lost."""
    now = now_ms()
    waiting = (CommentModeration.status == "pending") & (CommentModeration.next_attempt_at <= now - older_than_ms)
    if older_than_ms:  # the sweep also takes rows whose worker died mid-call
        waiting |= (CommentModeration.status == "sending") & (CommentModeration.started_at < now - STUCK_MS)
    query = CommentModeration.select(CommentModeration.id).where(waiting)
    if comment_ids is not None:
        if not comment_ids:
            return []
        query = query.where(CommentModeration.comment_id.in_(comment_ids))
    return [r.id for r in query.order_by(CommentModeration.id).limit(limit)]


def for_comments(comment_ids: list[str]) -> dict[str, list[CommentModeration]]:
    """The moderation ledger of these comments (the conversation view shows it)."""
    found: dict[str, list[CommentModeration]] = {}
    if comment_ids:
        for row in CommentModeration.select().where(CommentModeration.comment_id.in_(comment_ids)).order_by(
                CommentModeration.id):
            found.setdefault(row.comment_id, []).append(row)
    return found


# --- doing it -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the job does next: try again in `retry_in` ms, and/or record `finding` (a channel
    health status and Meta's reason) for `channel_id`."""

    retry_in: int | None = None
    finding: tuple[str, str] | None = None
    channel_id: int | None = None


def perform(row_id: int) -> Outcome:
    """Claim the row, ask the policy, call Meta, record the outcome."""
    row = _claim(row_id)
    if row is None:
        return Outcome()
    channel: Channel = row.channel
    comment = Comment.get_or_none(Comment.comment_id == row.comment_id)
    decision = decide(facts_for(row.action, channel, comment))
    if isinstance(decision, Refusal):
        _finish(row, "skipped" if decision.settled else "refused", decision.reason)
        return Outcome()
    try:
        _call_meta(row, channel)
    except GraphError as exc:
        return _failed(row, channel, exc)
    _finish(row, "done", None)
    if row.action == "hide":  # Meta sends no webhook for a hide the app did itself (unconfirmed)
        Comment.update(hidden=True).where(Comment.comment_id == row.comment_id).execute()
        Message.update(hidden=True).where(Message.comment_id == row.comment_id).execute()
    return Outcome()


def _claim(row_id: int) -> CommentModeration | None:
    now = now_ms()
    with transaction():
        claimable = (CommentModeration.status == "pending") | (
            (CommentModeration.status == "sending") & (CommentModeration.started_at < now - STUCK_MS))
        claimed = CommentModeration.update(status="sending", started_at=now,
                                           attempts=CommentModeration.attempts + 1).where(
            (CommentModeration.id == row_id) & claimable).execute()
    return CommentModeration.get_by_id(row_id) if claimed else None


def _call_meta(row: CommentModeration, channel: Channel) -> None:
    graph = runtime.graph()
    token = page_token(channel)
    if row.action == "like":
        graph.like_comment(row.comment_id, token)
    else:
        graph.hide_comment(channel.platform, row.comment_id, token, True)


def _finish(row: CommentModeration, status: str, reason: str | None, code: int | None = None) -> None:
    CommentModeration.update(status=status, reason=reason, error_code=code, done_at=now_ms()).where(
        CommentModeration.id == row.id).execute()


def _failed(row: CommentModeration, channel: Channel, exc: GraphError) -> Outcome:
    """Like and hide are idempotent on Meta's side (liking twice, hiding a hidden comment), so
    a retryable error, an ambiguous one included, is simply tried again a few times."""
    health = HEALTH_BY_KIND.get(exc.kind)
    finding = (health, exc.describe()) if health else None
    if (exc.retryable or exc.kind == AMBIGUOUS) and row.attempts < MAX_ATTEMPTS:
        delay = backoff_ms(row.attempts, exc.retry_after)
        CommentModeration.update(status="pending", next_attempt_at=now_ms() + delay, reason=exc.describe(),
                                 error_code=exc.code).where(CommentModeration.id == row.id).execute()
        return Outcome(retry_in=delay, finding=finding, channel_id=channel.id)
    _finish(row, "failed", exc.describe(), exc.code)
    log.info("moderation %s (%s) failed: %s", row.id, row.action, exc.describe())
    return Outcome(finding=finding, channel_id=channel.id)


class ModerationView(msgspec.Struct, frozen=True):
    """One ledger row as staff and integrations see it."""

    id: int
    comment_id: str
    action: str
    status: str  # pending | sending | done | skipped | refused | failed
    reason: str | None
    by: str  # campaign | staff
    created_at: int
    done_at: int | None


def view_of(row: CommentModeration) -> ModerationView:
    return ModerationView(id=row.id, comment_id=row.comment_id, action=row.action, status=row.status,
                          reason=row.reason, by=row.origin.split(":")[0], created_at=row.created_at,
                          done_at=row.done_at)
