"""Durable scheduled work: a row per job due later (campaign waits, flow timeouts), enqueued by
name when it comes due. The row is the record, so a restart loses nothing; the clock calls
`enqueue_due_jobs` every second."""

from __future__ import annotations

from bot.platform.db import insert_new, now_ms, transaction
from bot.platform.models import ScheduledJob
from bot.platform.queue import current_broker


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
