"""`GET /health`: is the database reachable, is the queue reachable."""

from __future__ import annotations

from litestar import Response, get

from bot.platform import queue
from bot.platform.db import connection, db


@get("/health", sync_to_thread=True)
def health() -> Response[dict]:
    status = {"database": _check(lambda: db.execute_sql("SELECT 1").fetchone() and "ok"),
              "queue": _check(queue.queue_ping)}
    healthy = status["database"] == "ok" and status["queue"] in ("ok", "in-process")
    status["status"] = "ok" if healthy else "degraded"
    return Response(status, status_code=200 if healthy else 503)


def _check(probe) -> str:  # noqa: ANN001 - a zero-argument callable
    try:
        with connection():
            return str(probe())
    except Exception as exc:  # report, never crash the probe
        return f"error: {type(exc).__name__}"
