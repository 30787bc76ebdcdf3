"""Worker heartbeats: whether anything is consuming the queue right now.

A webhook accepted while no worker runs is stored but never processed, and nothing else would
notice: so every running Dramatiq worker (in-process threads or `socialdesk worker` processes)
beats every few seconds while it is up, and `/health` counts the beats that are fresh. With Redis
a beat is a member of one sorted set (score: when); in-process it is a timestamp in this process
(the worker and the API share it). A worker that stops says so; one that dies stops beating and
drops out after `STALE_MS`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

BEAT_SECONDS = 2.0
STALE_MS = 10_000
_local: dict[str, int] = {}  # in-process beats: worker id -> last beat (ms)


def _now_ms() -> int:
    return int(time.time() * 1000)


class WorkerHeartbeat(Middleware):
    """Beats from a thread while the worker this broker runs is up (Dramatiq's own hooks)."""

    def __init__(self) -> None:
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._stop.clear()
        beat(broker, self.worker_id)
        self._thread = threading.Thread(target=self._run, args=(broker,), name="heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        forget(broker, self.worker_id)

    def _run(self, broker: dramatiq.Broker) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            try:
                beat(broker, self.worker_id)
            except Exception:  # Redis away for a moment: the next beat tries again  # noqa: BLE001, S112
                continue


def beat(broker: dramatiq.Broker, worker_id: str) -> None:
    client = _redis(broker)
    if client is None:
        _local[worker_id] = _now_ms()
        return
    client.zadd(_key(broker), {worker_id: _now_ms()})


def forget(broker: dramatiq.Broker, worker_id: str) -> None:
    client = _redis(broker)
    if client is None:
        _local.pop(worker_id, None)
        return
    try:
        client.zrem(_key(broker), worker_id)
    except Exception:  # noqa: BLE001 - shutting down; the beat goes stale by itself
        return


def live_workers(broker: dramatiq.Broker) -> int:
    """How many workers beat within STALE_MS (stale Redis entries are pruned on the way)."""
    cutoff = _now_ms() - STALE_MS
    client = _redis(broker)
    if client is None:
        return sum(1 for at in _local.values() if at >= cutoff)
    client.zremrangebyscore(_key(broker), "-inf", cutoff - 1)
    return int(client.zcount(_key(broker), cutoff, "+inf"))


def _redis(broker: dramatiq.Broker) -> Any:
    return getattr(broker, "client", None)


def _key(broker: dramatiq.Broker) -> str:
    """The workers' set, under the install's Redis prefix (the broker's namespace)."""
    return f"{getattr(broker, 'namespace', 'socialdesk')}:workers"
