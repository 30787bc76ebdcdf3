"""`GET /health`: the database, the queue and its workers, each reported on its own (a database
outage is not a queue outage), and unhealthy when any of them is: a queue nobody consumes
accepts webhooks that are never processed."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Response, get

from bot.platform import heartbeat, queue
from bot.platform.db import connection, db


@get("/health", sync_to_thread=True)
def health() -> Response[dict]:
    status = {"database": _check(_database, with_db=True), "queue": _check(queue.queue_ping),
              "workers": _check(_workers)}
    healthy = (status["database"] == "ok" and status["queue"] in ("ok", "in-process")
               and not status["workers"].startswith(("error", "no worker")))
    status["status"] = "ok" if healthy else "degraded"
    return Response(status, status_code=200 if healthy else 503)


def _database() -> str:
    db.execute_sql("SELECT 1").fetchone()
    return "ok"


def _workers() -> str:
    """'N consuming', or 'no worker consuming' (what to run is in the README: `socialdesk worker`)."""
    count = heartbeat.live_workers(queue.current_broker())
    return f"{count} consuming" if count else "no worker consuming"


def _check(probe: Callable[[], str], *, with_db: bool = False) -> str:
    try:
        if with_db:
            with connection():
                return probe()
        return probe()
    except Exception as exc:  # report, never crash the probe
        return f"error: {type(exc).__name__}"
