"""The jobs workers run. Each is a few lines: call one service, enqueue what it returns.

Every job is idempotent (delivery is at least once: a killed worker's messages run again), and
the rows they work on are the record: if a queue message is lost, `bot.clock` finds the row
still unprocessed and enqueues it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

from bot.automation import campaigns, notifications
from bot.automation.flows import engine
from bot.automation.router import FollowUps, route
from bot.channels import backfill, health
from bot.channels import profile as messenger_profile
from bot.core import events as ev
from bot.helpdesk import snooze
from bot.inbound import inbox, ingest
from bot.inbound.contacts import PROFILE_RETRY_SOON_MS
from bot.inbound.contacts import refresh_profile as refresh
from bot.outbound import moderation, outbox, outhooks, sender
from bot.platform import cache, metrics, pressure, runtime
from bot.platform.db import is_sqlite, lock_key, now_ms, transaction
from bot.platform.mailer import MailError, send_mail
from bot.platform.models import Conversation, InboundEvent, Message
from bot.platform.queue import LIVE_TTL_MS, Hold, Job, job, key_lock, live_lock
from bot.platform.together import side_by_side

log = logging.getLogger(__name__)

LOCK_BUSY_RETRY_MS = 150
HOLDER_GONE_MS = LIVE_TTL_MS + 1_000  # a dead holder's lock is free by then


EXPAND_LOCK = "ingest:expand"


INLINE_DRAINS = 4  # conversations an expander drains itself once it let go of the lease (and per job)
INLINE_SENDS = 4  # replies a drain sends itself; more go to the queue (each its own job)


@job(max_retries=20)
def process_delivery(delivery_id: int) -> None:
    """Expand stored deliveries into events, oldest first, one expander at a time: a conversation's
    events then become pending in the order Meta sent them, even across POSTs handled by different
    workers. Then drain each conversation they touched: the first few in this job once the lease
    is released (a webhook nearly always touches one: no queue hop), the rest through the queue."""
    try:
        _expand_and_drain()
    finally:
        cache.end_job()


def _expand_and_drain() -> None:
    keys: list[str] = []
    with live_lock(EXPAND_LOCK) as lease:
        if lease is None:  # the expander at work takes every waiting delivery, this one included
            return
        while lease.held and (expanded := _expand_paced()) is not None:
            hand_out(keys)  # the expander goes on (under load): the last round's keys go to the queue
            keys = list(dict.fromkeys(expanded))
    # A delivery committed between our last look and the release found the lock taken: take it now.
    waiting = ingest.unprocessed_deliveries(older_than_ms=0, limit=1)
    if waiting:
        process_delivery.send(waiting[0])
    hand_out(keys[INLINE_DRAINS:])
    drain_conversations(keys[:INLINE_DRAINS])


def _expand_paced() -> list[str] | None:
    with _paced():
        return ingest.expand_next()


def hand_out(keys: list[str]) -> None:
    """Drain jobs for these conversations, a few per queue message."""
    for start in range(0, len(keys), INLINE_DRAINS):
        drain_conversations.send(keys[start:start + INLINE_DRAINS])


@job(max_retries=0)
def drain_conversations(keys: list[str]) -> None:
    """Drain a few conversations in one job (one queue message for several comments under load):
    their events are applied one conversation after the other, then what they call for runs side
    by side, a conversation's sends in order (each waits ~100 ms or more on Meta: one after the
    other, the fourth conversation's reply would wait for three others). A conversation that fails
    to drain is handed to its own `drain_conversation` job."""
    follows: list[FollowUps] = []
    try:
        for key in keys:
            follows.append(FollowUps())
            _drain_here(key, follows[-1])
    finally:
        try:
            side_by_side([partial(run_follow_ups, follow) for follow in follows])
        finally:
            cache.end_job()


def _drain_here(key: str, follow: FollowUps) -> None:
    """Drain in this job; if that fails, the queue's own drain job (with its retries) takes over
    (what was applied before the failure is committed, and its follow-ups run)."""
    try:
        _drain(key, follow)
    except Exception:
        log.exception("draining %s in a batch failed; queued on its own", key)
        drain_conversation.send(key)


@job(max_retries=20)
def drain_conversation(key: str) -> None:
    """Apply a conversation's pending events in Meta's order, a batch at a time, under its lock; then,
    with the lock released, run what they call for (the first replies are sent by this job)."""
    follow = FollowUps()
    try:
        _drain(key, follow)
    finally:
        try:
            run_follow_ups(follow)
        finally:
            cache.end_job()


def _drain(key: str, follow: FollowUps) -> None:
    """Apply the conversation's pending events in order, one drain at a time.

    PostgreSQL: each transaction holds the conversation's key from its first round trip
    (`inbox.take_next(lock=True)`); a second drain waits for the first one's transaction, then
    takes what is pending by then. No Redis lease: it cost two scripts per conversation drained
    (~200 µs of a worker's CPU, issue 18), and a killed worker's keys are free at once.
    SQLite: under the conversation's `key_lock`, and again while others knocked (their events
    came after a look of ours). One that finds the lock taken knocks and leaves: the holder
    looks again once it lets go, so its events wait for nothing; it comes back itself only
    after HOLDER_GONE_MS, in case the holder died first."""
    if not is_sqlite():
        _apply_pending(key, Hold(True), follow)
        return
    while True:
        with key_lock(key, knock=True) as hold:
            if not hold:
                drain_conversation.send(key, delay_ms=HOLDER_GONE_MS)
                return
            if not _apply_pending(key, hold, follow):
                return
        if not hold.knocked:
            return


def _apply_pending(key: str, hold: Hold, follow: FollowUps) -> bool:
    """Every pending event, in order, APPLY_BATCH to a transaction; False when the drain had to
    stop (its lease was lost, or an event waits for its comment), each case having arranged to
    come back. When a batch fails, its events are applied again one per transaction, so the
    failure is pinned on its own event (`_apply_next_or_record_failure`) and the others go in."""
    singly = 0  # events still to apply one per transaction, after a failed batch
    while True:
        if not hold.held:  # the lease was lost: whoever holds the lock now goes on
            drain_conversation.send(key, delay_ms=LOCK_BUSY_RETRY_MS)
            return False
        try:
            more = _apply_next_or_record_failure(key, follow, 1 if singly else APPLY_BATCH)
        except _Waits as waits:
            _defer(waits.row, key)
            return False
        except _BatchFailed as failed:
            singly = failed.size
            continue
        singly = max(singly - 1, 0)
        if not more:
            return True


# A conversation's waiting events applied in one transaction: one take and one commit for them
# all (a burst of one customer's messages, a backlog after an outage). A batch holds the
# conversation's rows until it commits; one customer rarely has more waiting.
APPLY_BATCH = 16
MAX_EVENT_ATTEMPTS = 5
DEFER_MS = 1000


def _defer(row: InboundEvent, key: str) -> None:
    """An event about a comment we do not know yet waits a little (the comment may be in flight
    under another ordering key); after a few tries it is applied as a no-op with a note."""
    attempts = row.attempts + 1
    if attempts >= MAX_EVENT_ATTEMPTS:
        InboundEvent.update(status="applied", applied_at=now_ms(), attempts=attempts,
                            reason="refers to a comment socialdesk never received").where(
            _still_pending(row)).execute()
        drain_conversation.send(key)
        return
    InboundEvent.update(attempts=attempts).where(_still_pending(row)).execute()
    drain_conversation.send(key, delay_ms=DEFER_MS * attempts)


class _Waits(Exception):
    """The event refers to a comment not stored yet (`inbox.NotYetKnown`): it stays pending."""

    def __init__(self, row: InboundEvent) -> None:
        self.row = row


class _BatchFailed(Exception):
    """Applying a batch of `size` events failed (all rolled back): apply them one at a time."""

    def __init__(self, size: int) -> None:
        self.size = size


def _apply_next_or_record_failure(key: str, follow: FollowUps, limit: int) -> bool:
    """Apply the conversation's next pending events (`apply_next`); whether more wait behind them.
    A failing event is retried a few times (the database may be busy); then it is marked failed
    with the error, so one poison event cannot block its conversation forever."""
    taken: list[InboundEvent] = []
    try:
        return apply_next(key, follow, taken, limit)
    except Exception as exc:
        if not taken:  # taking the events failed: nothing to pin on one (the job's retry)
            raise
        if len(taken) > 1:  # which event failed is learnt one at a time
            raise _BatchFailed(len(taken)) from exc
        if isinstance(exc, inbox.NotYetKnown):
            raise _Waits(taken[0]) from None
        if not _record_failure(taken[0], exc):
            raise
        return True  # the events behind it go on


def _record_failure(row: InboundEvent, exc: Exception) -> bool:
    """The event goes back to pending with its attempt and the error, or fails for good (True)."""
    attempts = row.attempts + 1
    status = "failed" if attempts >= MAX_EVENT_ATTEMPTS else "pending"
    log.exception("applying event %s failed (attempt %d)", row.event_key, attempts)
    InboundEvent.update(attempts=attempts, status=status, reason=f"{type(exc).__name__}: {exc}"[:500]).where(
        _still_pending(row)).execute()
    if status == "failed":
        metrics.event("failed")
    return status == "failed"


def _still_pending(row: InboundEvent):  # noqa: ANN202 - a peewee expression
    """The event's row, if it is still pending: what a failed apply records comes after its
    transaction (and, on PostgreSQL, its hold on the conversation) ended, and another drain may
    have applied the event since; its outcome is not undone."""
    return (InboundEvent.id == row.id) & (InboundEvent.status == "pending")


def apply_next(key: str, follow: FollowUps, taken: list[InboundEvent] | None = None, limit: int = 1) -> bool:
    """Take the conversation's next pending events, up to `limit`, and apply and route each, in
    one transaction that claims each row first (`inbox.take_next`): any failure rolls every
    claim back with everything else. Adds what they call for to `follow` once committed; `taken`
    gets the rows (for the caller's failure handling). Whether more events wait behind them. A
    private reply they add is inserted claimed for this job's own sender (`outbox.sent_here`;
    `run_follow_ups` sends it), as many as this job sends itself."""
    claimed: list[Message] = []
    done: list[FollowUps] = []
    more = True
    with _paced(), _apply_slot(), transaction(), outbox.sent_here(claimed, room=INLINE_SENDS - len(follow.claimed)):
        while more and len(done) < limit:
            row, more = inbox.take_next(key, lock=not done)  # the transaction's first take holds the key
            if row is None:
                break
            if taken is not None:
                taken.append(row)
            done.append(_apply_in_unit(row))
    for each in done:
        follow.extend(each)
        metrics.event("applied")
    follow.claimed.update((message.id, message) for message in claimed)
    return more and bool(done)


_slots: dict[int, threading.BoundedSemaphore] = {}
APPLY_CONCURRENCY_UNBOOTED = 2  # a process that was not booted (tools, unit tests)
APPLY_REST_UNBOOTED = 3


def _apply_slot() -> threading.BoundedSemaphore:
    """One of the process's `apply_concurrency` places to apply events in. Applying is CPU work
    (the worker's and its database's): with every thread of a process applying a backlog at
    once, the database ran as many backends as threads, at the API's priority, and a burst's
    acknowledgements waited behind them (bench.ingest --drain: 8 threads applying, 20 % of the
    no-op endpoint; 2, 34 %). Sends and other waits do not take a place. A thread holding row
    locks always holds its place (taken before the transaction), so none waits for one."""
    size = _apply_concurrency()
    slot = _slots.get(size)
    return slot if slot is not None else _slots.setdefault(size, threading.BoundedSemaphore(size))


def _apply_concurrency() -> int:
    return runtime.settings().apply_concurrency if runtime.booted() else APPLY_CONCURRENCY_UNBOOTED


def _paced() -> AbstractContextManager[None]:
    """Ingest first (`bot.platform.pressure`): while the webhook endpoint is saturated, this
    process applies and expands one transaction at a time, resting between them."""
    return pressure.paced(runtime.settings().apply_rest if runtime.booted() else APPLY_REST_UNBOOTED)


def _apply_in_unit(row: InboundEvent) -> FollowUps:
    """One event of a batch, its look-ups kept for itself (`cache.unit`): the next event reads
    the rows this one changed."""
    with cache.unit():
        return _apply_taken(row)


def apply_event(row: InboundEvent) -> FollowUps:
    """Apply one stored event by its row (tests, tools), as `apply_next` does: in one transaction
    that begins by claiming it; nothing when another worker applied it."""
    with transaction(), cache.unit():
        if not inbox.mark_applied(row.id):
            return FollowUps()
        follow = _apply_taken(row)
    metrics.event("applied")
    return follow


def _apply_taken(row: InboundEvent) -> FollowUps:
    """Apply a claimed event and route it, inside the caller's transaction."""
    settings = runtime.settings()
    applied = inbox.apply(ev.decode(bytes(row.payload)), source=row.source)
    follow = route(applied, emails_enabled=bool(settings.smtp_url),
                   coalesce_ms=int(settings.email_coalesce_seconds * 1000))
    if applied.note is not None:
        inbox.note_applied(row.id, applied.note)
    return follow


def dispatch(follow: FollowUps) -> None:
    """Enqueue the follow-ups of a committed event."""
    for message_id in follow.send:
        send_message.send(message_id)
    for identity_id in follow.profiles:
        refresh_profile.send(identity_id)
    _enqueue_rest(follow)


def _enqueue_rest(follow: FollowUps) -> None:
    for digest_id, delay_ms in follow.digests:
        send_email_digest.send(digest_id, delay_ms=delay_ms)
    for delivery_id in follow.hooks:
        deliver_outhook.send(delivery_id)
    for row_id in follow.moderate:
        moderate_comment.send(row_id)


@job(max_retries=0)
def moderate_comment(row_id: int) -> None:
    """Like or hide one comment on Meta (issue 22); a retryable failure schedules itself again."""
    outcome = moderation.perform(row_id)
    if outcome.finding is not None:
        status, reason = outcome.finding
        follow_health(health.record(outcome.channel_id, status, reason, source="send"))
    if outcome.retry_in is not None:
        moderate_comment.send(row_id, delay_ms=outcome.retry_in)


@job(max_retries=5, min_backoff=60_000)
def push_messenger_profile(channel_id: int) -> None:
    """Push a channel's saved Messenger profile; a retryable Graph error is retried by the queue."""
    messenger_profile.push(channel_id)


def run_follow_ups(follow: FollowUps) -> None:
    """The follow-ups of committed events, run by the job that committed them: the rows it
    inserted claimed, the first `INLINE_SENDS` sends and the profile fetches here (no queue hop;
    each other row is claimed here, and every send asks the send policy), the rest enqueued.
    Anything that fails here unexpectedly is handed to its own job."""
    for index, message_id in enumerate(follow.send):
        taken = follow.claimed.get(message_id)
        if taken is not None:  # inserted claimed for this very job: only it sends the row
            _here(partial(send_and_follow, taken=taken), send_message, message_id)
        elif index < INLINE_SENDS:
            _here(send_and_follow, send_message, message_id)
        else:
            send_message.send(message_id)
    for identity_id in follow.profiles:
        _here(lambda row_id: refresh(row_id, follow.identities.get(row_id)), refresh_profile, identity_id)
    _enqueue_rest(follow)


def _here(work: Callable[[int], object], fallback: Job, row_id: int) -> None:
    """Run `work` in this job; on failure hand the row to its own job. If even that enqueue fails
    (Redis unreachable), the row is the record: the clock's sweep finds it and enqueues it."""
    try:
        work(row_id)
    except Exception as exc:
        if not getattr(exc, "retryable", False):
            log.exception("%s(%s) in the draining job failed; queued", fallback.name, row_id)
        try:
            fallback.send(row_id)
        except Exception:
            log.warning("could not queue %s(%s); the clock will pick it up", fallback.name, row_id, exc_info=True)


@job(max_retries=0)
def send_message(message_id: int) -> None:
    """Send one outgoing message; a retryable failure schedules the next attempt itself."""
    try:
        send_and_follow(message_id)
    finally:
        cache.end_job()


def send_and_follow(message_id: int, taken: Message | None = None) -> None:
    """Send the row if due (`sender.send_one` claims it: one sender wins; `taken`: claimed at
    insert by this job), then enqueue what the outcome calls for: health findings, outgoing
    webhooks, the retry, the next part."""
    outcome = sender.send_one(message_id, taken)
    if outcome.finding is not None:
        status, reason = outcome.finding
        follow_health(health.record(outcome.channel_id, status, reason, source="send"))
    for delivery_id in outhooks.message_outcome(message_id):
        deliver_outhook.send(delivery_id)
    if outcome.retry_in is not None:
        send_message.send(message_id, delay_ms=outcome.retry_in)
    if outcome.next_id is not None:
        send_message.send(outcome.next_id)


@job(max_retries=5, min_backoff=5_000)
def refresh_profile(identity_id: int) -> None:
    """A fetch the drain could not make (or left to the queue); a retry finds the profile due a
    minute ahead (`contacts.PROFILE_RETRY_SOON_MS`) and tries again."""
    refresh(identity_id, ahead_ms=PROFILE_RETRY_SOON_MS)


@job(max_retries=20)
def continue_campaign(run_id: int, position: int) -> None:
    """Resume a campaign run after its Wait step (scheduled durably by the clock)."""
    dispatch(FollowUps(send=campaigns.continue_run(run_id, position), moderate=moderation.pending_ids()))


@job(max_retries=20)
def flow_timeout(conversation_id: int, step: int) -> None:
    """"No answer within a time": step the flow under the conversation's lock, like its events,
    so a timeout and a late answer never both move it. Scheduled durably by the flow engine."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        return
    ready = _timeout_step(conversation, step) if is_sqlite() else _timeout_step_held(conversation, step)
    if ready is not None:
        dispatch(FollowUps(send=ready))


def _timeout_step_held(conversation: Conversation, step: int) -> list[int]:
    """PostgreSQL: in a transaction that holds the conversation's key first, as drains do."""
    with transaction():
        lock_key(conversation.thread_key)
        return engine.on_timeout(conversation.id, step)


def _timeout_step(conversation: Conversation, step: int) -> list[int] | None:
    """SQLite: under the conversation's `key_lock`; None when it was taken (the job comes back)."""
    with key_lock(conversation.thread_key) as hold:
        if not hold:
            flow_timeout.send(conversation.id, step, delay_ms=LOCK_BUSY_RETRY_MS)
            return None
        with transaction():
            ready = engine.on_timeout(conversation.id, step)
    if hold.knocked:  # a drain found the thread locked by this step: it looks to us to come back
        drain_conversation.send(conversation.thread_key)
    return ready


@job(max_retries=20)
def wake_snoozed(conversation_id: int, wake_at: int) -> None:
    """A snoozed conversation's time has come (scheduled durably by `bot.helpdesk.snooze`);
    `conversation.unsnoozed` is enqueued when it did wake."""
    with transaction():
        woke = snooze.wake(conversation_id, wake_at)
        hooks = outhooks.conversation_changed(outhooks.CONVERSATION_UNSNOOZED, conversation_id,
                                              {"reason": "time", "wake_at": wake_at}) if woke else []
    dispatch(FollowUps(hooks=hooks))


EMAIL_RETRY_MS = (30_000, 120_000, 600_000, 1_800_000, 3_600_000)


@job(max_retries=0)
def send_email_digest(digest_id: int) -> None:
    """Send one coalesced staff e-mail; SMTP failures retry later with backoff, then give up."""
    settings = runtime.settings()
    claimed = notifications.claim_digest(digest_id)
    if claimed is None or not settings.smtp_url:
        return
    digest, messages, staff = claimed
    if not staff or not messages:
        notifications.finish_digest(digest_id, error=None)
        return
    subject, body = notifications.digest_text(digest, messages, settings.public_url)
    try:
        send_mail(settings.smtp_url, staff, subject, body)
    except MailError as exc:
        attempt = digest.attempts
        retry_at = now_ms() + EMAIL_RETRY_MS[attempt] if attempt < len(EMAIL_RETRY_MS) else None
        notifications.finish_digest(digest_id, error=str(exc), retry_at=retry_at)
        if retry_at is not None:
            send_email_digest.send(digest_id, delay_ms=EMAIL_RETRY_MS[attempt])
        return
    notifications.finish_digest(digest_id, error=None)


# --- channel health and backfill (issue 12) ------------------------------------------------------


@job(max_retries=3, min_backoff=30_000)
def check_channel_health(channel_id: int) -> None:
    """One periodic health check (enqueued by the clock when due; never in ingest or sends)."""
    follow_check(health.check_channel(channel_id))


@job(max_retries=0, time_limit=35 * 60_000)
def run_backfill(run_id: int) -> None:
    """Read back a period from Meta; new events drain like webhook ones."""
    ran = backfill.run(run_id, drain=drain_conversation.send)
    for waiting in ran.waiting:
        run_backfill.send(waiting)


@job(max_retries=5, min_backoff=30_000)
def send_health_email(event_id: int) -> None:
    """Staff e-mail about a channel's health change; an SMTP failure is retried by the queue."""
    health.send_email(event_id)


@job(max_retries=0)
def deliver_outhook(delivery_id: int) -> None:
    """Deliver one outgoing webhook; on failure the job schedules its own next attempt."""
    retry_in = outhooks.attempt(delivery_id)
    if retry_in is not None:
        deliver_outhook.send(delivery_id, delay_ms=retry_in)


def follow_check(result: health.CheckResult | None) -> health.CheckResult | None:
    """Enqueue what a health check found to do: staff e-mails and gap backfills."""
    if result is not None:
        for event_id in result.email_event_ids:
            send_health_email.send(event_id)
        for run_id in result.backfill_run_ids:
            run_backfill.send(run_id)
    return result


def follow_health(recorded: health.Recorded | None) -> None:
    """Enqueue what a recorded health change calls for: the staff e-mail and the gap backfill
    (their rows are the record; the clock re-enqueues a lost one)."""
    if recorded is None:
        return
    if recorded.email:
        send_health_email.send(recorded.event_id)
    if recorded.backfill_run_id is not None:
        run_backfill.send(recorded.backfill_run_id)
