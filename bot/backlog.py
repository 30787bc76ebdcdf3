"""What an operator reads about the work not done yet: gauges computed at scrape time from the
record of all work (the database) and the workers' heartbeats in Redis, so they are right for
the whole installation whichever process answers `/metrics` (the counters are
`bot.platform.metrics`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.channels import health
from bot.platform import heartbeat, queue
from bot.platform.db import delivery_journal, now_ms
from bot.platform.models import Channel, Delivery, InboundEvent, Message


class BacklogCollector(Collector):
    """Gauges read at scrape time from the record of all work (the database) and Redis."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("socialdesk_queue_depth", "Work not done yet, by stage", labels=["stage"])
        backlog = read_backlog()
        for stage, count in backlog.depth.items():
            depth.add_metric([stage], count)
        yield depth
        yield GaugeMetricFamily("socialdesk_oldest_unprocessed_delivery_seconds",
                                "Age of the oldest webhook delivery not processed yet (0: none)",
                                value=backlog.oldest_delivery_seconds)
        yield GaugeMetricFamily("socialdesk_channels_unhealthy", "Channels whose health is not good",
                                value=backlog.unhealthy_channels)
        yield GaugeMetricFamily("socialdesk_workers_consuming", "Workers with a fresh heartbeat",
                                value=backlog.workers)


@dataclass(frozen=True)
class Backlog:
    depth: dict[str, int]
    oldest_delivery_seconds: float
    unhealthy_channels: int
    workers: int


def read_backlog() -> Backlog:
    """One indexed count per stage (each on its (status, ...) index); the caller holds a connection.
    On SQLite, deliveries still in the journal beside the database wait too (bot.platform.journal)."""
    oldest = (Delivery.select(Delivery.received_at).where(Delivery.status == "received")
              .order_by(Delivery.received_at).first())
    journaled, journaled_since = _journaled()
    received = [at for at in (oldest.received_at if oldest else None, journaled_since) if at is not None]
    depth = {
        "deliveries": Delivery.select().where(Delivery.status == "received").count() + journaled,
        "events": InboundEvent.select().where(InboundEvent.status == "pending").count(),
        "outgoing": Message.select().where(Message.status.in_(["pending", "sending"])).count(),
    }
    unhealthy = Channel.select().where(Channel.is_active & Channel.health_status.not_in(list(health.GOOD))).count()
    return Backlog(depth=depth, oldest_delivery_seconds=max(0, now_ms() - min(received)) / 1000 if received else 0,
                   unhealthy_channels=unhealthy, workers=heartbeat.live_workers(queue.current_broker()))


def _journaled() -> tuple[int, int | None]:
    """(deliveries in the SQLite journal, when the oldest came in); none on PostgreSQL."""
    journal = delivery_journal()
    if journal is None or not journal.waiting():
        return 0, None
    return journal.count(), journal.oldest_received_at()
