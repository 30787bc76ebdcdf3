"""A circuit breaker for one Graph API host: while it refuses connections, calls fail at once.

With the host unreachable (a network outage, a firewall, DNS pointing nowhere), every call paid
httpx's connect attempts before failing: 0.5 s when refused, up to 15 s when connects time out
(5 s each, tried three times). Workers are threads: sends, profile fetches and drains then held
their threads that long per call, and a backlog crawled. After `THRESHOLD` calls in a row that
never connected, the breaker opens: calls fail at once with a retryable error (nothing was sent)
for a cool-down that doubles while the host stays away (2 s up to 60 s); then one call tries
again while the others still fail fast. Any answer from the host, even an error, closes it.

Per process and per host (each `GraphClient` has its own): a worker's threads learn from each
other, and another process finds out for itself with a few calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

THRESHOLD = 3  # calls in a row that never connected (each already tried to connect 3 times)
FIRST_COOL_DOWN_S = 2.0
MAX_COOL_DOWN_S = 60.0


class Breaker:
    """Whether a call may go to the host now (`allow`), told how each call ended."""

    def __init__(self, host: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._host = host
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0  # calls in a row that never connected
        self._cool_down = 0.0  # of the current opening (0: closed)
        self._open_until = 0.0
        self._probing = False  # one call is trying the host after a cool-down

    def allow(self) -> float | None:
        """None: call. Otherwise the seconds until the host is tried again (fail at once)."""
        with self._lock:
            if not self._cool_down:
                return None
            left = self._open_until - self._clock()
            if left > 0 or self._probing:
                return max(left, 0.0) or self._cool_down
            self._probing = True  # this call tries; the others wait for its outcome
            return None

    def connected(self) -> None:
        """The host answered (whatever it said): calls go through again."""
        with self._lock:
            if self._cool_down:
                log.warning("the Graph API at %s answers again", self._host)
            self._failures, self._cool_down, self._probing = 0, 0.0, False

    def undecided(self) -> None:
        """A call ended before it could tell (not the network's doing): if it was the one trying
        the host, the next call tries instead."""
        with self._lock:
            self._probing = False

    def not_connected(self) -> None:
        """A call could not connect (refused, timed out while connecting, no route)."""
        with self._lock:
            self._failures += 1
            if self._probing or (not self._cool_down and self._failures >= THRESHOLD):
                self._open()

    def _open(self) -> None:
        self._cool_down = min(max(self._cool_down * 2, FIRST_COOL_DOWN_S), MAX_COOL_DOWN_S)
        self._open_until = self._clock() + self._cool_down
        self._probing = False
        log.warning("the Graph API at %s does not accept connections (%d calls in a row): calls fail at once "
                    "for %.0f s", self._host, self._failures, self._cool_down)
