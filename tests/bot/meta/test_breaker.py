"""bot.meta.breaker: calls to a Graph API host that refuses connections fail at once after a few,
one call tries again after a cool-down that doubles while the host stays away, and any answer
closes the breaker."""

from __future__ import annotations

from bot.meta import breaker
from bot.meta.breaker import Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> Breaker:
    """A breaker that has just opened: THRESHOLD calls in a row could not connect."""
    gate = Breaker("graph.facebook.com", clock)
    for _ in range(breaker.THRESHOLD):
        gate.not_connected()
    return gate


def test_opens_after_calls_in_a_row_that_never_connected_and_any_answer_resets_the_count() -> None:
    gate = Breaker("graph.facebook.com", Clock())
    for _ in range(breaker.THRESHOLD - 1):
        assert gate.allow() is None
        gate.not_connected()
    gate.connected()  # an answer in between: the count starts again
    for _ in range(breaker.THRESHOLD - 1):
        gate.not_connected()
    assert gate.allow() is None
    gate.not_connected()
    assert gate.allow() == breaker.FIRST_COOL_DOWN_S


def test_after_the_cool_down_one_call_tries_while_the_others_still_fail_at_once() -> None:
    clock = Clock()
    gate = opened(clock)
    clock.now += breaker.FIRST_COOL_DOWN_S
    assert gate.allow() is None  # the probe
    assert gate.allow() is not None  # everyone else waits for it
    gate.not_connected()  # still away: twice as long
    assert gate.allow() == 2 * breaker.FIRST_COOL_DOWN_S
    clock.now += 2 * breaker.FIRST_COOL_DOWN_S
    assert gate.allow() is None
    gate.connected()
    assert [gate.allow() for _ in range(3)] == [None, None, None]


def test_the_cool_down_stops_growing() -> None:
    clock = Clock()
    gate = opened(clock)
    for _ in range(12):
        clock.now += breaker.MAX_COOL_DOWN_S
        assert gate.allow() is None
        gate.not_connected()
    assert gate.allow() == breaker.MAX_COOL_DOWN_S


def test_a_trying_call_that_ended_undecided_lets_the_next_one_try() -> None:
    clock = Clock()
    gate = opened(clock)
    clock.now += breaker.FIRST_COOL_DOWN_S
    assert gate.allow() is None
    gate.undecided()  # e.g. its body could not be encoded: it never reached the network
    assert gate.allow() is None  # the next call tries instead of waiting for an outcome never coming
