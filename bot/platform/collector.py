"""CPython's cyclic garbage collector, set for a long-running server process (issue 18).

A webhook or a drain job allocates thousands of short-lived objects. With CPython's default
thresholds a young collection runs every 700 container allocations and walks whatever of a
request is still alive at that moment, promoting it towards the full collections, and a full
collection walks every object in the process: ~117,000 after the API's boot (modules, the app,
the models, the settings), 26 ms on the measured machine. Those never become garbage, so once
boot is done they are frozen out of every later collection, and the young threshold is raised
so that most of a request's objects are freed by reference counting before a collection ever
walks them. Cyclic garbage made later is still collected, only less often.

Only server processes settle (the API, the workers, the sandbox): a test process builds many
apps, and whatever a frozen object holds would never be collected there. The dashboard's server
freezes its warm-up (`freeze_boot`) but keeps CPython's thresholds (not measured there).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # container allocations between young collections (CPython's default: 700)
OLDER_THRESHOLDS = (20, 10)  # young collections per middle one, middle ones per full (defaults 10, 10)


def settle() -> None:
    """After boot, in a server process: freeze what boot made, raise the thresholds."""
    freeze_boot()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def freeze_boot() -> None:
    """Collect what boot left as garbage, then freeze the rest out of every later collection."""
    gc.collect()
    gc.freeze()
