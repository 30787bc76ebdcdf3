"""Deliveries the expander gave up on, for admins: what they are and why (`bot.inbound.ingest` puts a
delivery here after `MAX_ATTEMPTS` failed or interrupted expansions, so it stops holding up the
ones behind it). Retrying one is a staff command (`bot.commands.retry_delivery`).

The body is customer content from whoever signed it: only its size and its `object` are shown
here, as data, never the body itself.
"""

from __future__ import annotations

import msgspec
from peewee import fn

from bot.platform.models import Delivery

PAGE = 100


class QuarantinedDelivery(msgspec.Struct):
    """One quarantined delivery: when it came, how often expansion was tried, the last reason."""

    id: int
    received_at: int
    attempts: int
    reason: str | None
    size: int
    quarantined_at: int | None


def quarantined(limit: int = PAGE) -> list[QuarantinedDelivery]:
    """The newest quarantined deliveries first (the size is the body's length in bytes, computed by
    the database: SQLite's blob length and PostgreSQL's bytea length both count bytes)."""
    rows = (Delivery.select(Delivery.id, Delivery.received_at, Delivery.attempts, Delivery.reason,
                            Delivery.processed_at, fn.length(Delivery.body).alias("size"))
            .where(Delivery.status == "quarantined").order_by(Delivery.id.desc()).limit(limit))
    return [QuarantinedDelivery(id=row.id, received_at=row.received_at, attempts=row.attempts, reason=row.reason,
                                size=row.size or 0, quarantined_at=row.processed_at) for row in rows]


def count() -> int:
    return Delivery.select().where(Delivery.status == "quarantined").count()
