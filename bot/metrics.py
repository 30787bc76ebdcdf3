"""What an operator watches, in Prometheus' format (`GET /metrics`).

Two kinds of numbers:
- Counters and the Graph latency histogram count what happens in the process where it happens
  (a webhook answered in the API, an event applied or a message sent in a worker). With several
  processes on one machine (`api --workers N`, `socialdesk worker`), set
  `PROMETHEUS_MULTIPROC_DIR` to an empty directory shared by them: prometheus-client then
  writes each process's values there and `/metrics` adds them up (its multiprocess mode; the
  directory must be emptied before the processes start). Workers on other machines are not
  seen by this API's `/metrics`; the database gauges below still are.
- Gauges about the backlog (queue depth, age of the oldest unprocessed delivery, unhealthy
  channels, live workers) are read from the database and Redis at scrape time, so they are
  right for the whole installation whichever process answers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DELIVERIES = Counter("socialdesk_webhook_deliveries", "Webhook POSTs answered, by outcome (received/refused)",
                     ["outcome", "status"])
EVENTS = Counter("socialdesk_events", "Inbound events by outcome (applied/failed)", ["outcome"])
SENDS = Counter("socialdesk_sends", "Send API outcomes by status and Meta error code", ["outcome", "meta_code"])
GRAPH_SECONDS = Histogram("socialdesk_graph_call_seconds", "Graph API call latency, by operation",
                          ["method", "operation"],
                          buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
_OPERATION = re.compile(r"^[a-z_]+$")


def delivery(status_code: int) -> None:
    """A POST to the webhook was answered: 200 is received, anything else refused."""
    DELIVERIES.labels("received" if status_code == 200 else "refused", str(status_code)).inc()


def event(outcome: str) -> None:
    EVENTS.labels(outcome).inc()


def send(outcome: str, meta_code: int | None = None) -> None:
    SENDS.labels(outcome, str(meta_code) if meta_code is not None else "").inc()


def graph_answered(method: str, path: str, seconds: float) -> None:
    """One answered Graph call (any status; a transport failure is an error, not a latency). The
    operation is the path's edge: ids never become label values."""
    GRAPH_SECONDS.labels(method, operation(path)).observe(seconds)


def operation(path: str) -> str:
    last = path.strip("/").rsplit("/", 1)[-1]
    return last if _OPERATION.match(last) else "node"


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
    """One indexed count per stage (each on its (status, ...) index); the caller holds a connection."""
    from bot import health, heartbeat, queue
    from bot.db import now_ms
    from bot.models import Channel, Delivery, InboundEvent, Message

    oldest = (Delivery.select(Delivery.received_at).where(Delivery.status == "received")
              .order_by(Delivery.received_at).first())
    depth = {
        "deliveries": Delivery.select().where(Delivery.status == "received").count(),
        "events": InboundEvent.select().where(InboundEvent.status == "pending").count(),
        "outgoing": Message.select().where(Message.status.in_(["pending", "sending"])).count(),
    }
    unhealthy = Channel.select().where(Channel.is_active & Channel.health_status.not_in(list(health.GOOD))).count()
    return Backlog(depth=depth, oldest_delivery_seconds=max(0, now_ms() - oldest.received_at) / 1000 if oldest else 0,
                   unhealthy_channels=unhealthy, workers=heartbeat.live_workers(queue.current_broker()))


def render() -> bytes:
    """The exposition text: this process's (or, in multiprocess mode, every local process's)
    counters plus the backlog gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:  # not the default registry: its process/platform metrics would differ by mode
        for collector in (DELIVERIES, EVENTS, SENDS, GRAPH_SECONDS):
            registry.register(collector)
    registry.register(BacklogCollector())
    return generate_latest(registry)
