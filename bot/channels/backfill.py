"""Reading back what Meta holds for a period, after a gap or on an admin's request.

Webhooks lost while the app was unsubscribed, the token dead or socialdesk down are still on
Meta's side (meta-platform.md §10): DMs through the Conversations API, comments under the page's
recent posts. What is read back has the same ids (`mid`, comment id) as the webhooks would
have carried, so it becomes the same events with the same keys and goes through the same
ingest path (`ingest.store_events`, then the conversation drain). Whichever copy arrives first
is stored; the other adds nothing. A backfilled comment runs the campaigns like a live one,
once (the ledger's unique key), marked `source="backfill"`.

Meta's limits are kept: 2 calls per second per Page for the Conversations API (every backfill
read is paced so, and one backfill per Page runs at a time), details only for the 20 most
recent messages of a conversation, recent posts only. What could not be read back is written
on the run (`BackfillRun.unrecovered`) for staff to see, never silently skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from bot.core import events as ev
from bot.core.errors import GraphError, Invalid, NotFound
from bot.inbound import ingest
from bot.meta.graph import MessageRef
from bot.platform import runtime
from bot.platform.db import now_ms, transaction
from bot.platform.models import BackfillRun, Channel, InboundEvent, Message
from bot.platform.queue import key_lock
from bot.platform.registry import page_token

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_INTERVAL_S = 0.5  # Conversations API: 2 calls/s per Page or account (§8, §10)
BUSY_USAGE = 80.0  # Meta's usage header above this percentage: read four times slower (§8)
RECENT_MESSAGES = 20  # Meta details only the 20 most recent messages of a conversation (§10)
MAX_CONVERSATION_PAGES = 20  # of 25 conversations each
MAX_POSTS = 25  # the page's most recent posts (or Instagram media) whose comments are read
MAX_COMMENT_PAGES = 10  # of 50 comments each, per post
MAX_READ_RETRIES = 3
LOCK_TTL_MS = 30 * 60_000  # one backfill per Page at a time, across processes
STALE_RUN_MS = LOCK_TTL_MS + 5 * 60_000  # a run "running" longer than this lost its worker


class BackfillView(msgspec.Struct):
    """One backfill run as staff see it: the period, what was found and stored, and what Meta
    could not give back."""

    id: int
    channel_id: int
    since: int
    until: int
    trigger: str
    reason: str | None
    requested_by: int | None
    status: str
    messages_found: int
    messages_stored: int
    comments_found: int
    comments_stored: int
    graph_calls: int
    unrecovered: list[str]
    error: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None


def view_of(run: BackfillRun) -> BackfillView:
    return BackfillView(
        id=run.id, channel_id=run.channel_id, since=run.since, until=run.until, trigger=run.trigger,
        reason=run.reason, requested_by=run.requested_by_id, status=run.status, messages_found=run.messages_found,
        messages_stored=run.messages_stored, comments_found=run.comments_found, comments_stored=run.comments_stored,
        graph_calls=run.graph_calls, unrecovered=list(run.unrecovered or []), error=run.error,
        created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at)


def runs_of(channel_id: int, limit: int = 10) -> list[BackfillView]:
    """The channel's most recent backfills, newest first."""
    return [view_of(r) for r in BackfillRun.select().where(BackfillRun.channel == channel_id)
            .order_by(BackfillRun.id.desc()).limit(limit)]


def get_run(run_id: int) -> BackfillView:
    run = BackfillRun.get_or_none(BackfillRun.id == run_id)
    if run is None:
        raise NotFound("backfill", run_id)
    return view_of(run)


# ------------------------------------------------------------------ starting a run


def open_run(channel_id: int, since: int, until: int, *, trigger: str, reason: str | None = None,
             requested_by: int | None = None) -> int:
    """Store a run for the caller to enqueue; the row is the record (the clock re-enqueues a
    lost one)."""
    run_id = BackfillRun.insert(channel=channel_id, since=since, until=until, trigger=trigger, reason=reason,
                                requested_by=requested_by, status="pending", unrecovered=[],
                                created_at=now_ms()).execute()
    return run_id


def request(channel_id: int, since: int, until: int | None, *, requested_by: int | None) -> BackfillView:
    """An admin's "read back this period" (times in ms; `until` defaults to now)."""
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    if not channel.is_active:
        raise Invalid("channel_id", "the channel is disconnected")
    now = now_ms()
    until = min(until if until is not None else now, now)
    if since < 0:
        raise Invalid("since", "must be a time in milliseconds since the epoch")
    if since >= until:
        raise Invalid("since", "must be before until (and before now)")
    run_id = open_run(channel_id, since, until, trigger="admin", reason="requested by an admin",
                      requested_by=requested_by)
    return get_run(run_id)


def stale_runs(grace_ms: int) -> list[int]:
    """Runs whose job was lost (pending too long, or running on a worker that died): for the
    clock. A dead worker's run goes back to pending; reading again is harmless."""
    now = now_ms()
    BackfillRun.update(status="pending").where(
        (BackfillRun.status == "running") & (BackfillRun.started_at < now - STALE_RUN_MS)).execute()
    return [r.id for r in BackfillRun.select(BackfillRun.id).where(
        (BackfillRun.status == "pending") & (BackfillRun.created_at < now - grace_ms)).limit(50)]


# ------------------------------------------------------------------ running it


class _Tally:
    """What a run found, stored and could not recover, and the Graph calls it made."""

    def __init__(self) -> None:
        self.messages_found = self.messages_stored = 0
        self.comments_found = self.comments_stored = 0
        self.calls = 0
        self.unrecovered: list[str] = []

    def fields(self) -> dict[str, Any]:
        return {"messages_found": self.messages_found, "messages_stored": self.messages_stored,
                "comments_found": self.comments_found, "comments_stored": self.comments_stored,
                "graph_calls": self.calls, "unrecovered": self.unrecovered}


class _Reader:
    """Paces Graph reads to Meta's 2 calls per second per Page, slower when Meta reports high
    usage, and retries a rate-limited or failed read a few times after Meta's own delay."""

    def __init__(self, tally: _Tally) -> None:
        self.tally = tally
        self._next = 0.0

    def __call__(self, call: Callable[..., T], *args: Any) -> T:
        for attempt in range(MAX_READ_RETRIES + 1):
            self._wait()
            self.tally.calls += 1
            try:
                return call(*args)
            except GraphError as exc:
                if not exc.retryable or attempt == MAX_READ_RETRIES:
                    raise
                self._next = time.monotonic() + max(exc.retry_after or 0.0, READ_INTERVAL_S * 2 ** (attempt + 1))
        raise AssertionError("unreachable")

    def _wait(self) -> None:
        pause = self._next - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # a worker thread of this run only; ingest and sends use others
        slow = 4 if runtime.graph().last_usage >= BUSY_USAGE else 1
        self._next = time.monotonic() + READ_INTERVAL_S * slow


@dataclass(frozen=True)
class Ran:
    """How a run ended, and the runs of the same Page that waited for it (to enqueue now)."""

    status: str
    waiting: tuple[int, ...] = ()


def run(run_id: int, drain: Callable[[str], None]) -> Ran:
    """Run one backfill: read back, store through ingest, hand each conversation key with new
    events to `drain` (the job's enqueue). When another backfill of the same Page is running the
    run goes back to pending, and the clock offers it again a few seconds later."""
    run_row = _claim(run_id)
    if run_row is None:
        return Ran("skipped")
    channel: Channel = run_row.channel
    with key_lock(f"backfill:{channel.page_id}", ttl_ms=LOCK_TTL_MS) as acquired:
        if not acquired:
            BackfillRun.update(status="pending").where(BackfillRun.id == run_id).execute()
            return Ran("pending")
        status = _run_locked(run_row, channel, drain)
    return Ran(status, _waiting(channel.page_id))


def _run_locked(run_row: BackfillRun, channel: Channel, drain: Callable[[str], None]) -> str:
    tally = _Tally()
    try:
        _read_back(channel, run_row, _Reader(tally), tally, drain)
    except (GraphError, NotFound) as exc:
        reason = exc.describe() if isinstance(exc, GraphError) else str(exc)
        tally.unrecovered.append(f"Stopped early ({reason}): the rest of the period was not read back.")
        _finish(run_row.id, "failed", tally, reason)
        return "failed"
    _finish(run_row.id, "done", tally, None)
    return "done"


def _waiting(page_id: str) -> tuple[int, ...]:
    """Runs of the same Page that found it busy can go now (else the clock offers them later)."""
    return tuple(row.id for row in BackfillRun.select(BackfillRun.id).join(Channel).where(
        (Channel.page_id == page_id) & (BackfillRun.status == "pending")).limit(10))


def _claim(run_id: int) -> BackfillRun | None:
    with transaction():
        claimed = BackfillRun.update(status="running", started_at=now_ms()).where(
            (BackfillRun.id == run_id) & (BackfillRun.status == "pending")).execute()
    if not claimed:
        return None
    run_row = BackfillRun.get_by_id(run_id)
    if not run_row.channel.is_active:
        _finish(run_id, "failed", _Tally(), "the channel is disconnected")
        return None
    return run_row


def _finish(run_id: int, status: str, tally: _Tally, error: str | None) -> None:
    BackfillRun.update(status=status, error=error, finished_at=now_ms(), **tally.fields()).where(
        BackfillRun.id == run_id).execute()


def _read_back(channel: Channel, run_row: BackfillRun, read: _Reader, tally: _Tally,
               drain: Callable[[str], None]) -> None:
    token = page_token(channel)
    # Meta's times are whole seconds (comments' `created_time`): widen the period to them.
    since, until = run_row.since // 1000 * 1000, -(-run_row.until // 1000) * 1000
    if channel.receive_messages:
        _messages(channel, token, since, until, read, tally, drain)
    else:
        tally.unrecovered.append("Direct messages were not read back: the channel's 'receive messages' is off.")
    _comments(channel, token, since, until, read, tally, drain)


def _messages(channel: Channel, token: str, since: int, until: int, read: _Reader, tally: _Tally,
              drain: Callable[[str], None]) -> None:
    """Conversations newest first (no time filter exists: stop at the first one last updated
    before `since`), then each conversation's recent messages in the period."""
    graph = runtime.graph(channel.login)
    after = None
    for _ in range(MAX_CONVERSATION_PAGES):
        page = read(graph.list_conversations, channel.page_id, channel.platform, token, after)
        for conversation in page.conversations:
            if conversation.updated_time is not None and conversation.updated_time < since:
                return
            refs = read(graph.conversation_message_ids, conversation.id, token)
            _conversation(channel, token, conversation.id, refs, since, until, read, tally, drain)
        if page.after is None:
            return
        after = page.after
    tally.unrecovered.append(f"More than {MAX_CONVERSATION_PAGES * 25} conversations were active in the period: "
                             "older ones were not read back.")


def _conversation(channel: Channel, token: str, conversation_id: str, refs: list[MessageRef], since: int,
                  until: int, read: _Reader, tally: _Tally, drain: Callable[[str], None]) -> None:
    in_period = [r for r in refs if r.created_time is None or since <= r.created_time <= until]
    oldest = min((r.created_time for r in refs if r.created_time is not None), default=None)
    if len(refs) >= RECENT_MESSAGES and oldest is not None and oldest > since:
        tally.unrecovered.append(
            f"Conversation {conversation_id}: Meta gives only the {RECENT_MESSAGES} most recent messages; "
            f"messages before {oldest} in the period may be missing.")
    tally.messages_found += len(in_period)
    events: list[ev.Event] = []
    for ref in (r for r in in_period if not _known_message(r.id)):
        try:
            event = read(runtime.graph(channel.login).get_message, channel.platform, channel.account_id, ref.id, token)
        except GraphError as exc:
            if exc.invalidates_token or exc.retryable:
                raise
            tally.unrecovered.append(f"Message {ref.id}: Meta did not return it ({exc.describe()}).")
            continue
        if since <= event.timestamp <= until:
            events.append(event)
    tally.messages_stored += _store(events, drain)


def _known_message(mid: str) -> bool:
    """Already stored (from a webhook, a backfill or our own send): not worth a Graph call."""
    return (Message.select().where(Message.mid == mid).exists()
            or InboundEvent.select().where(InboundEvent.event_key.in_([f"msg:{mid}", f"echo:{mid}"])).exists())


def _comments(channel: Channel, token: str, since: int, until: int, read: _Reader, tally: _Tally,
              drain: Callable[[str], None]) -> None:
    """Comments of the period under the page's most recent posts (Instagram: media)."""
    graph = runtime.graph(channel.login)
    posts = read(graph.list_posts, channel.account_id, channel.platform, token, None, MAX_POSTS)
    if posts.after is not None:
        tally.unrecovered.append(f"Only the {MAX_POSTS} most recent posts were read: comments in the period on "
                                 "older posts were not read back.")
    if channel.platform == "instagram":
        tally.unrecovered.append("Replies under Instagram comments are not read back (top-level comments only).")
    for post in posts.posts:
        if post.created_time is not None and post.created_time > until:
            continue
        _post_comments(channel, token, post.id, since, until, read, tally, drain)


def _post_comments(channel: Channel, token: str, post_id: str, since: int, until: int, read: _Reader,
                   tally: _Tally, drain: Callable[[str], None]) -> None:
    graph = runtime.graph(channel.login)
    newest_first = channel.platform != "instagram"  # Facebook: filter=stream, reverse chronological
    after = None
    for _ in range(MAX_COMMENT_PAGES):
        page = read(graph.get_post_comments, channel.platform, channel.account_id, post_id, token, after)
        in_period = [c for c in page.comments if since <= c.timestamp <= until]
        tally.comments_found += len(in_period)
        tally.comments_stored += _store(in_period, drain)
        reached_start = newest_first and any(c.timestamp < since for c in page.comments)
        if page.after is None or reached_start:
            return
        after = page.after
    tally.unrecovered.append(f"Post {post_id}: more than {MAX_COMMENT_PAGES * 50} comments; older ones were not "
                             "read back.")


def _store(events: Iterable[ev.Event], drain: Callable[[str], None]) -> int:
    """The webhook path's own store: a copy already there (webhook first) adds nothing.
    Returns how many events were new."""
    events = list(events)
    if not events:
        return 0
    keys = [e.event_key for e in events]
    existing = {row.event_key for row in InboundEvent.select(InboundEvent.event_key)
                .where(InboundEvent.event_key.in_(keys))}
    with transaction():
        conversation_keys = ingest.store_events(events, delivery_id=None, source="backfill")
    for key in conversation_keys:
        drain(key)
    return len({k for k in keys if k not in existing})
