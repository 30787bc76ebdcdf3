"""The embedded default's delivery journal (bot/platform/journal.py): a webhook answered while
SQLite was busy is committed there, survives a restart, and reaches `delivery` exactly once and
in order. SQLite only: on PostgreSQL writers do not exclude each other and there is no journal."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import migrations
from bot.inbound import ingest
from bot.platform import journal as journal_module
from bot.platform.db import connection, delivery_journal, open_database
from bot.platform.journal import DeliveryJournal
from bot.platform.models import Delivery, IgnoredItem
from tests.bot.meta import payloads as p
from tests.servers import wait_until


def body(n: int) -> bytes:
    return p.encode(p.messenger_message(p.PAGE_ID, p.PSID, f"m_journal_{n}", text=f"hello {n}", timestamp=1000 + n))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "socialdesk.db"
    migrations.upgrade(open_database(f"sqlite:///{path}"))
    with connection():
        yield path


def reopen(path: Path) -> None:
    """What a restarted process has: a new database handle and a new journal object, same files."""
    journal_module._journals.clear()
    open_database(f"sqlite:///{path}")


def stored_bodies() -> list[bytes]:
    return [bytes(d.body) for d in Delivery.select().order_by(Delivery.id)]


def test_a_journaled_delivery_survives_a_restart_and_is_moved_once(sqlite_db: Path) -> None:
    delivery_journal().append(1234, [body(1), body(2)])
    reopen(sqlite_db)
    with connection():
        waiting = ingest.unprocessed_deliveries(older_than_ms=0)
        assert len(waiting) == 2 and stored_bodies() == [body(1), body(2)]
        assert [d.received_at for d in Delivery.select()] == [1234, 1234]
        assert not delivery_journal().waiting()
        assert ingest.move_journaled() == [] and len(stored_bodies()) == 2
        ingest.expand_deliveries(waiting)
        ingest.expand_deliveries(waiting)  # a redelivered queue message
        assert {d.status for d in Delivery.select()} == {"processed"}
        assert IgnoredItem.select().count() == 2, "each expanded once (no channel here: ignored with a reason)"


def test_a_death_between_the_move_and_the_journal_cleanup_moves_nothing_twice(
        sqlite_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    delivery_journal().append(1, [body(1)])

    def killed(self: DeliveryJournal, mark: int) -> None:
        raise KeyboardInterrupt("killed before deleting from the journal")

    with monkeypatch.context() as patched:
        patched.setattr(DeliveryJournal, "forget_through", killed)
        with pytest.raises(KeyboardInterrupt):
            ingest.move_journaled()
    reopen(sqlite_db)
    with connection():
        assert delivery_journal().waiting(), "the row is still in the journal"
        assert ingest.move_journaled() == []
        assert not delivery_journal().waiting()
        assert stored_bodies() == [body(1)]


def test_a_new_journal_file_is_not_mistaken_for_the_moved_one(sqlite_db: Path) -> None:
    delivery_journal().append(1, [body(1)])
    assert len(ingest.move_journaled()) == 1
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_db}-deliveries{suffix}").unlink(missing_ok=True)
    reopen(sqlite_db)
    with connection():
        delivery_journal().append(2, [body(2)])  # journal id 1 again, in a new generation
        assert len(ingest.move_journaled()) == 1
        assert stored_bodies() == [body(1), body(2)]


def test_the_sweep_moves_only_what_waited(sqlite_db: Path) -> None:
    delivery_journal().append(int(time.time() * 1000), [body(1)])
    assert ingest.unprocessed_deliveries(older_than_ms=60_000) == []
    assert delivery_journal().waiting()
    assert len(ingest.unprocessed_deliveries(older_than_ms=0)) == 1


def answered(writer: ingest.DeliveryWriter, raw: bytes) -> int:
    """What the endpoint awaits before its 200 (bounded)."""
    async def submit() -> int:
        return await asyncio.wait_for(writer.submit_async(raw), timeout=10)

    return asyncio.run(submit())


def test_webhooks_are_answered_from_the_journal_while_the_database_is_locked(sqlite_db: Path) -> None:
    enqueued: list[int] = []
    writer = ingest.DeliveryWriter(enqueued.extend)
    blocker = sqlite3.connect(sqlite_db, isolation_level=None, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # a worker applying a long batch
    try:
        first = answered(writer, body(1))
        second = answered(writer, body(2))
        journaled = sqlite3.connect(f"{sqlite_db}-deliveries").execute(
            "SELECT id, body FROM pending ORDER BY id").fetchall()
        assert [(i, bytes(b)) for i, b in journaled] == [(first, body(1)), (second, body(2))]
        assert enqueued == []
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_until(lambda: len(enqueued) == 2, 20, what="the journal moved and enqueued")
    third = answered(writer, body(3))
    wait_until(lambda: len(enqueued) == 3, 20, what="the next delivery stored directly")
    with connection():
        assert stored_bodies() == [body(1), body(2), body(3)], "moved once, in the order received"
        assert enqueued == [d.id for d in Delivery.select().order_by(Delivery.id)] and enqueued[-1] == third
        assert not delivery_journal().waiting()



def test_journaled_deliveries_count_in_the_backlog_gauges(sqlite_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lag alert (/metrics) sees a delivery waiting in the journal like one in `delivery`."""
    from bot import backlog

    monkeypatch.setattr(backlog.heartbeat, "live_workers", lambda broker: 0)
    monkeypatch.setattr(backlog.queue, "current_broker", lambda: None)
    delivery_journal().append(int(time.time() * 1000) - 90_000, [body(1), body(2)])
    waiting = backlog.read_backlog()
    assert waiting.depth["deliveries"] == 2
    assert 90 <= waiting.oldest_delivery_seconds < 120
    ingest.move_journaled()
    assert backlog.read_backlog().depth["deliveries"] == 2, "moved, still waiting for the expander"
