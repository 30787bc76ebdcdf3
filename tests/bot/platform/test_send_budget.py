"""The Send API budget with Redis: a worker takes a few slots of the page's second at once and
spends them itself, and all workers together never get more than the budget."""

from __future__ import annotations

import types

import pytest

from bot.platform import queue
from tests.servers import reset_redis


@pytest.fixture
def budget(redis_url: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    reset_redis(redis_url)
    queue.setup_broker(redis_url, send_rate=50, media_send_rate=10, prefix="budget")
    monkeypatch.setattr(queue, "time", types.SimpleNamespace(time=lambda: 1_000.5))  # one second throughout
    yield
    queue._reserved.clear()
    queue.setup_broker(None)


def other_process() -> None:
    queue._reserved.clear()  # what another worker process holds is not this one's


def test_workers_together_never_exceed_the_budget_of_a_second(budget) -> None:
    taken = [queue.send_slot("page-1", media=False) for _ in range(30)]
    other_process()
    taken += [queue.send_slot("page-1", media=False) for _ in range(30)]
    assert taken.count(0) == 50  # 2 slots per round trip (a 25th of 50), none lost with one worker at a time
    assert all(wait > 0 for wait in taken[50:])
    client = queue.current_broker().client
    assert int(client.get("budget:send:page-1:text@1000")) >= 50  # the shared count: one INCRBY per 2 slots


def test_a_slot_one_process_holds_is_not_given_to_another(budget) -> None:
    assert queue.send_slot("page-2", media=False) == 0  # took 2 of the second's 50, holds 1
    held = dict(queue._reserved)
    other_process()
    taken = [queue.send_slot("page-2", media=False) for _ in range(49)]
    assert taken.count(0) == 48 and taken[-1] > 0
    queue._reserved.update(held)  # back in the first process: its slot is still there
    assert queue.send_slot("page-2", media=False) == 0


def test_media_is_taken_one_slot_at_a_time(budget) -> None:
    assert all(queue.send_slot("page-3", media=True) == 0 for _ in range(10))  # a 25th of 10 rounds to 1
    assert queue.send_slot("page-3", media=True) > 0
