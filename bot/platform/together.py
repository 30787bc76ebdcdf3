"""Work of one job run side by side in a few helper threads of the process, the job waiting for
all of it: the replies a drain batch calls for each wait ~100 ms or more on Meta, so one after
the other the fourth conversation's reply would wait for three others (issue 18)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bot.platform import cache
from bot.platform.db import connection

FOLLOW_UP_THREADS = 8  # per worker process: conversations whose follow-ups run at the same time
_pool: dict[int, ThreadPoolExecutor] = {}


def side_by_side(tasks: list[Callable[[], object]]) -> None:
    """Run the tasks at the same time and wait for all: the first in this thread, the others in
    the process's follow-up threads, each with its own database connection and the configuration
    copies this job may read. Each task handles its own failures (the jobs wrap theirs in `_here`)."""
    version = cache.current()
    futures = [_follow_up_pool().submit(_helping, task, version) for task in tasks[1:]]
    for task in tasks[:1]:
        task()
    for future in futures:
        future.result()


def _helping(task: Callable[[], object], version: str | None) -> None:
    cache.adopt(version)
    try:
        with connection():
            task()
    finally:
        cache.end_job()


def _follow_up_pool() -> ThreadPoolExecutor:
    """One pool per process, created after the worker process forked."""
    pid = os.getpid()
    if pid not in _pool:
        _pool.clear()
        _pool[pid] = ThreadPoolExecutor(FOLLOW_UP_THREADS, thread_name_prefix="follow-up")
    return _pool[pid]
