"""Ingest first: the webhook writer notes pressure when requests queue up behind its commit, every
worker process sees it for a while, and work `paced` under it runs one unit at a time, each
followed by its rest."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import peewee
import pytest

from bot.inbound import ingest
from bot.platform import pressure, queue
from bot.platform.models import Channel
from tests.bot.meta import payloads as p
from tests.servers import wait_until


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    queue.setup_broker(None)  # a test on Redis sets its own broker up (a note left there lasts TTL_MS)
    pressure.forget()
    yield
    pressure.forget()


class Clock:
    """pressure's view of time: a monotonic clock the test moves, and the rests it asked for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.rests: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.rests.append(round(seconds, 3))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(pressure, "time", SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


def test_a_note_lasts_its_ttl_and_reaches_other_processes_once_published(broker_url: str | None) -> None:
    """Noted on the writer's commit path (in-process only), published to Redis from its enqueuing
    thread: a worker process sees it for TTL_MS."""
    queue.setup_broker(broker_url)
    assert not pressure.under_pressure()
    pressure.note()
    assert pressure.under_pressure()
    pressure.forget()
    assert not pressure.under_pressure()  # not published: nothing reached Redis
    pressure.note()
    pressure.publish()
    pressure.forget()  # what a worker process, which noted nothing itself, sees
    assert pressure.under_pressure() is (broker_url is not None)
    wait_until(lambda: not pressure.under_pressure(), 5 * pressure.TTL_MS / 1000, what="the note to expire")


def test_under_pressure_each_unit_is_followed_by_a_rest_in_proportion(clock: Clock) -> None:
    with pressure.paced(3):
        clock.now += 0.1
    assert clock.rests == []  # no pressure: full speed
    pressure.note()
    with pressure.paced(3):
        clock.now += 0.1
    with pressure.paced(3):
        clock.now += 5  # a long unit: the rest is bounded
    with pressure.paced(0):  # SOCIALDESK_APPLY_REST=0
        clock.now += 0.1
    assert clock.rests == [0.3, pressure.MAX_REST_S]


@pytest.mark.parametrize("pressed", [False, True])
def test_under_pressure_a_process_runs_one_unit_at_a_time(clock: Clock, pressed: bool) -> None:
    """Two threads try to be inside at once: without pressure they meet there; under it the first
    waits for the second in vain (bounded) and the second enters after the first is done."""
    if pressed:
        pressure.note()
    meeting = threading.Barrier(2, timeout=1.0)
    met: list[bool] = []

    def unit() -> None:
        with pressure.paced(3):
            try:
                meeting.wait()
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)

    threads = [threading.Thread(target=unit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert met == ([False, False] if pressed else [True, True])


def test_the_webhook_writer_notes_pressure_when_requests_queue_behind_its_commit(
        db: peewee.Database, broker_url: str | None) -> None:
    """Noted at once for this process; the writer's enqueuing thread (off the commit path) tells
    Redis, where the worker processes look."""
    broker = queue.setup_broker(broker_url)
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    writer = ingest.DeliveryWriter(lambda ids: None)

    async def answers(count: int) -> list[int]:
        return await asyncio.wait_for(asyncio.gather(*(writer.submit_async(
            p.encode(p.feed_comment("1", f"1_{time.monotonic_ns()}_{n}", "1_post"))) for n in range(count))), 20)

    for _ in range(3):
        asyncio.run(answers(1))  # one at a time: each commit holds one delivery
    assert not pressure.under_pressure()
    asyncio.run(answers(4 * ingest.PRESSURE_BATCH))  # the rest queue up behind the first commit
    assert pressure.under_pressure()
    if broker_url is not None:
        key = queue.redis_key("ingest-pressure")
        wait_until(lambda: broker.client.exists(key), 10, what="the writer's enqueuing thread to tell Redis")
