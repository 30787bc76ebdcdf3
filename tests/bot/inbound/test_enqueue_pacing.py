"""The webhook writer's enqueuing thread rests after each round of enqueues (bot/inbound/ingest.py,
`enqueue_rest`): briefly after a quiet spell's single conversation, so the next comment's drain
is not held back, and longer after anything more, so that under load later commits share a
round (one expander job takes every waiting delivery)."""

from __future__ import annotations

import threading
import time

import peewee
import pytest

from bot.inbound import ingest
from tests.servers import wait_until


@pytest.fixture
def rests(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every rest the enqueuing thread takes, in order (other threads sleep as before)."""
    taken: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread().name == "delivery-enqueue":
            taken.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return taken


def test_a_quiet_round_rests_briefly_and_a_busier_one_longer(db: peewee.Database, rests: list[float]) -> None:
    expanded: list[int] = []
    drained: list[str] = []
    writer = ingest.DeliveryWriter(expanded.extend, drain=drained.extend)
    writer._ensure_thread()  # the threads a first webhook would start
    rounds = [([], ["c1"]), ([], ["c2", "c3"]), ([7], []), ([], ["c4"])]
    for number, (ids, keys) in enumerate(rounds, start=1):
        writer._hand_over(ids, keys)
        # the thread's first rest is before any round; each round is followed by its own rest
        wait_until(lambda n=number: len(rests) > n, 10, what=f"the rest after round {number}")
    assert rests[1:] == [ingest.ENQUEUE_QUIET_S, ingest.ENQUEUE_EVERY_S, ingest.ENQUEUE_EVERY_S,
                         ingest.ENQUEUE_QUIET_S]
    assert drained == ["c1", "c2", "c3", "c4"] and expanded == [7]


def test_the_quiet_rest_is_the_shorter_one() -> None:
    assert ingest.enqueue_rest([], ["c"]) < ingest.enqueue_rest([], ["c", "d"]) == ingest.enqueue_rest([1], [])
