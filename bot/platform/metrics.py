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

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
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
    """A POST to the webhook was answered: 200 is received, anything else refused. Counted on
    every POST, so each status's child counter is looked up once (`labels` takes a lock and
    builds its key each time)."""
    counter = _delivery_counters.get(status_code)
    if counter is None:
        outcome = "received" if status_code == 200 else "refused"
        counter = _delivery_counters[status_code] = DELIVERIES.labels(outcome, str(status_code))
    counter.inc()


_delivery_counters: dict[int, Counter] = {}


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


def render(*collectors: Collector) -> bytes:
    """The exposition text: this process's (or, in multiprocess mode, every local process's)
    counters plus `collectors` (the backlog gauges, `bot.backlog`)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:  # not the default registry: its process/platform metrics would differ by mode
        for collector in (DELIVERIES, EVENTS, SENDS, GRAPH_SECONDS):
            registry.register(collector)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
