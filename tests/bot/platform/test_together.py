"""A drain batch's follow-ups run side by side (bot/platform/together.py): at the same time, each
helper with its own database connection and the configuration version the job observed."""

from __future__ import annotations

import threading

import peewee

from bot.platform import cache
from bot.platform.db import db as proxy
from bot.platform.together import side_by_side


def test_tasks_run_at_the_same_time_and_the_job_waits_for_all(db: peewee.Database) -> None:
    """Four tasks that each wait for the other three: they finish only if they run together."""
    barrier = threading.Barrier(4, timeout=10)
    done: list[str] = []

    def task(name: str) -> None:
        barrier.wait()  # raises BrokenBarrierError after 10 s if the tasks ran one after the other
        done.append(name)

    side_by_side([lambda n=n: task(n) for n in "abcd"])
    assert sorted(done) == list("abcd")


def test_helpers_read_the_jobs_configuration_copies_on_their_own_connection(db: peewee.Database) -> None:
    cache.observe("epoch:7")
    seen: list[tuple[str | None, bool, int]] = []

    def look() -> None:
        seen.append((cache.current(), not db_closed(), threading.get_ident()))

    try:
        side_by_side([look, look, look])
    finally:
        cache.end_job()
    helpers = [entry for entry in seen if entry[2] != threading.get_ident()]
    assert len(helpers) == 2 and all(version == "epoch:7" and open_ for version, open_, _ in helpers)
    assert cache.current() is None  # (this thread's job ended above)


def db_closed() -> bool:
    return proxy.is_closed()


def test_the_database_pool_has_room_for_every_thread_and_its_helpers(pg_url: str) -> None:
    """A worker process with 32 threads, each batch sending through up to 8 helpers, must not wait
    for a connection that a thread waiting on its helpers holds."""
    from bot.platform import runtime
    from bot.platform.settings import load_settings
    from bot.platform.together import FOLLOW_UP_THREADS
    from tests.conftest import make_env

    settings = load_settings(make_env(pg_url, SOCIALDESK_WORKER_THREADS="32"))
    runtime.boot(settings)
    assert proxy.obj._max_connections == runtime.pool_size(settings) >= 32 + FOLLOW_UP_THREADS
