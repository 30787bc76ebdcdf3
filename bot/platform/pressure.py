"""Ingest first: while the webhook endpoint takes all it can, workers apply at a bounded pace.

A webhook must be answered within seconds (Meta retries, then disables a slow endpoint); an
event applied a few seconds later harms no one. Where the API and the workers share cores (one
machine, or one database), a worker applying a backlog at full speed took most of them during a
flood: `bench.ingest --drain` measured the worker at 96 µs and PostgreSQL at 151 µs of CPU per
request beside the API's 91, and the endpoint at 28 % of a no-op's rate (117 % with no worker).

The API's writer notes *pressure* when a group commit holds `ingest.PRESSURE_BATCH` deliveries
or more (that many requests queued while the previous commit ran: a flood). While it lasts
(`TTL_MS` after the last such commit) each worker process applies one transaction at a time and
rests `rest` times as long as it took (`paced`), so the worker and its database backend take at
most 1 / (1 + rest) of one core per process. When the flood ends they go back to full speed.
Across processes the note travels through Redis; with the in-process queue (`socialdesk run`)
the API and the workers share this module's state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from bot.platform import queue

log = logging.getLogger(__name__)

TTL_MS = 1_000  # pressure lasts this long after the last saturated commit
NOTE_EVERY_S = 0.2  # an API process tells Redis at most this often (`publish`)
LOOK_EVERY_S = 0.1  # a worker process asks Redis at most this often
MAX_REST_S = 1.0  # a long transaction is not followed by an equally long rest

_state: dict[str, float | bool] = {"noted_at": -1e9, "until": -1e9, "looked_at": -1e9, "busy": False,
                                   "unpublished": False}
_one_at_a_time = threading.Lock()


def note() -> None:
    """The endpoint is saturated now (called by the webhook writer after a large commit). Seen at
    once by this process's workers; other processes learn it from `publish`."""
    _state.update(until=time.monotonic() + TTL_MS / 1000, busy=True, unpublished=True)


def publish() -> None:
    """Tell the other processes (Redis) that pressure was noted, at most every NOTE_EVERY_S. Called
    by the writer's enqueuing thread, never on the commit path: a Redis that hangs must not hold
    acknowledgements back."""
    now = time.monotonic()
    if not _state["unpublished"] or now - float(_state["noted_at"]) < NOTE_EVERY_S:
        return
    _state.update(unpublished=False, noted_at=now)
    if queue.is_redis():
        try:
            queue.current_broker().client.set(_key(), 1, px=TTL_MS)
        except RedisError:  # the workers then apply at full speed: slower acks, nothing lost
            log.warning("could not tell the workers that ingest is under pressure")


def under_pressure() -> bool:
    """Whether some API process noted pressure within the last TTL_MS (asked at most every
    LOOK_EVERY_S per process; an unreachable Redis reads as no pressure)."""
    now = time.monotonic()
    if now - float(_state["looked_at"]) >= LOOK_EVERY_S:
        _state.update(looked_at=now, busy=now < float(_state["until"]) or _noted_in_redis())
    return bool(_state["busy"])


def _noted_in_redis() -> bool:
    if not queue.is_redis():
        return False
    try:
        return bool(queue.current_broker().client.exists(_key()))
    except RedisError:
        return False


def _key() -> str:
    return queue.redis_key("ingest-pressure")


@contextmanager
def paced(rest: float) -> Iterator[None]:
    """Around a unit of a worker's CPU work (a transaction applying events, an expansion): with
    no pressure, nothing; under pressure, one unit at a time in this process, each followed by
    `rest` times its duration (at most MAX_REST_S) before the next may start. Taken before any
    row lock, so no thread waits here holding one."""
    if rest <= 0 or not under_pressure():
        yield
        return
    with _one_at_a_time:
        started = time.monotonic()
        try:
            yield
        finally:
            time.sleep(min(MAX_REST_S, (time.monotonic() - started) * rest))


def forget() -> None:
    """Drop what this process noted and saw (tests)."""
    _state.update(noted_at=-1e9, until=-1e9, looked_at=-1e9, busy=False, unpublished=False)
