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

from bot import jobs
from bot.automation import notifications
from bot.channels import backfill, health, profile
from bot.helpdesk import snooze
from bot.inbound import ingest
from bot.outbound import moderation, outbox, outhooks, sendcheck
from bot.platform.db import connection, now_ms, retry_locked
from bot.platform.models import InboundEvent, Message
from bot.platform.queue import LIVE_TTL_MS, hold_lease, live_claims
from bot.platform.scheduler import enqueue_due_jobs

log = logging.getLogger(__name__)

STALE_MS = 10_000  # a row untouched this long after it should have run is re-enqueued
ORPHAN_AFTER_MS = 30_000  # a row `sending` no live process claims, older than any Graph call may take
SENDING_STUCK_MS = 120_000  # a row `sending` this long lost its sender (when live claims are unknown)


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


def sweep() -> None:
    """Re-enqueue work whose queue message was lost."""
    cutoff = now_ms() - STALE_MS
    for delivery_id in ingest.unprocessed_deliveries(STALE_MS):
        jobs.process_delivery.send(delivery_id)
    keys = {e.conversation_key for e in InboundEvent.select(InboundEvent.conversation_key).where(
        (InboundEvent.status == "pending") & (InboundEvent.created_at < cutoff)).limit(1000)}
    for key in keys:
        jobs.drain_conversation.send(key)
    for message in Message.select(Message.id).where(
            (Message.status == "pending") & (Message.next_attempt_at < cutoff)).limit(1000):
        jobs.send_message.send(message.id)
    for message_id in sendcheck.release_orphans(live_claims("send"), after_ms=ORPHAN_AFTER_MS,
                                                stuck_ms=SENDING_STUCK_MS, confirm_ms=LIVE_TTL_MS):
        jobs.send_message.send(message_id)
    for message_id in outbox.orphaned_parts(STALE_MS):
        jobs.send_message.send(message_id)
    for digest_id in notifications.due_digests(STALE_MS):
        jobs.send_email_digest.send(digest_id)
    for delivery_id in outhooks.due_deliveries(STALE_MS):
        jobs.deliver_outhook.send(delivery_id)
    for conversation_id, wake_at in snooze.lost_wakeups(STALE_MS):
        jobs.wake_snoozed.send(conversation_id, wake_at)
    for row_id in moderation.pending_ids(older_than_ms=STALE_MS):
        jobs.moderate_comment.send(row_id)
    for channel_id in profile.unpushed(STALE_MS):
        jobs.push_messenger_profile.send(channel_id)


def health_round() -> None:
    """Channel health checks that have come due (their schedule is in the database, so it
    survives restarts), and health e-mails or backfills whose queue message was lost."""
    for channel_id in health.claim_due_checks():
        jobs.check_channel_health.send(channel_id)
    for event_id in health.pending_emails(STALE_MS):
        jobs.send_health_email.send(event_id)
    for run_id in backfill.stale_runs(STALE_MS):
        jobs.run_backfill.send(run_id)
