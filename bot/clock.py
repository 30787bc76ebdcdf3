"""The clock: a background thread in the worker that keeps the promise "nothing is lost".

Every second it enqueues scheduled work that has come due; every few seconds it looks for rows
whose queue message must have been lost (a killed worker, a restarted Redis, the in-process
queue after a restart) and enqueues them again. Jobs are idempotent, so a spurious re-enqueue
costs a query, never a duplicate. With several worker processes only one clock acts (a lease in
Redis).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid

from bot.db import connection, insert_new, now_ms, retry_locked, transaction
from bot.models import InboundEvent, Message, ScheduledJob
from bot.queue import current_broker, hold_lease

log = logging.getLogger(__name__)

STALE_MS = 10_000  # a row untouched this long after it should have run is re-enqueued
SENDING_STUCK_MS = 120_000


class Clock:
    """Runs `tick` every `interval` seconds in a daemon thread until `stop`."""

    def __init__(self, interval: float = 1.0, sweep_every: int = 5) -> None:
        self.interval = interval
        self.sweep_every = sweep_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="socialdesk-clock", daemon=True)
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._ticks = 0

    def start(self) -> Clock:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with connection():
                    self.tick()
            except Exception:  # the clock must survive a database or Redis hiccup
                log.exception("clock tick failed")

    def tick(self) -> None:
        """One round. Each step is short and idempotent, so on the embedded SQLite a write that
        met a webhook's or a channel connect's commit ("database is locked") is simply run again."""
        if not hold_lease("clock", self._owner, ttl_ms=int(self.interval * 5000)):
            return
        retry_locked(enqueue_due_jobs)
        self._ticks += 1
        if self._ticks % self.sweep_every == 0:
            retry_locked(sweep)
            retry_locked(health_round)


def schedule(actor: str, args: list, due_at: int, dedupe_key: str | None = None) -> bool:
    """Durably schedule `actor(*args)` at `due_at` (ms); survives restarts. Returns False when a
    job with the same dedupe key already exists."""
    inserted = insert_new(ScheduledJob.insert(actor=actor, args=args, due_at=due_at, dedupe_key=dedupe_key,
                                              created_at=now_ms()))
    return bool(inserted)


def enqueue_due_jobs(limit: int = 500) -> int:
    """Enqueue scheduled jobs that have come due; each is claimed once (status flip)."""
    broker = current_broker()
    count = 0
    due = list(ScheduledJob.select().where((ScheduledJob.status == "scheduled") & (ScheduledJob.due_at <= now_ms()))
               .order_by(ScheduledJob.due_at).limit(limit))
    for row in due:
        with transaction():
            claimed = ScheduledJob.update(status="enqueued", enqueued_at=now_ms()).where(
                (ScheduledJob.id == row.id) & (ScheduledJob.status == "scheduled")).execute()
        if claimed:
            broker.get_actor(row.actor).send(*row.args)
            count += 1
    return count


def sweep() -> None:
    """Re-enqueue work whose queue message was lost."""
    from bot import ingest, notifications, outbox, outhooks, tasks

    cutoff = now_ms() - STALE_MS
    for delivery_id in ingest.unprocessed_deliveries(STALE_MS):
        tasks.process_delivery.send(delivery_id)
    keys = {e.conversation_key for e in InboundEvent.select(InboundEvent.conversation_key).where(
        (InboundEvent.status == "pending") & (InboundEvent.created_at < cutoff)).limit(1000)}
    for key in keys:
        tasks.drain_conversation.send(key)
    for message in Message.select(Message.id).where(
            (Message.status == "pending") & (Message.next_attempt_at < cutoff)).limit(1000):
        tasks.send_message.send(message.id)
    for message in Message.select(Message.id).where(
            (Message.status == "sending") & (Message.send_started_at < now_ms() - SENDING_STUCK_MS)).limit(100):
        tasks.send_message.send(message.id)
    for message_id in outbox.orphaned_parts(STALE_MS):
        tasks.send_message.send(message_id)
    for digest_id in notifications.due_digests(STALE_MS):
        tasks.send_email_digest.send(digest_id)
    for delivery_id in outhooks.due_deliveries(STALE_MS):
        outhooks.deliver_outhook.send(delivery_id)


def health_round() -> None:
    """Channel health checks that have come due (their schedule is in the database, so it
    survives restarts), and health e-mails or backfills whose queue message was lost."""
    from bot import backfill, health, tasks

    health.enqueue_due_checks()
    for event_id in health.pending_emails(STALE_MS):
        tasks.send_health_email.send(event_id)
    for run_id in backfill.stale_runs(STALE_MS):
        tasks.run_backfill.send(run_id)
