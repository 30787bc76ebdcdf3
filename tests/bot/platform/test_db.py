"""The database handle (bot/platform/db.py): on PostgreSQL a transaction's BEGIN travels with its
first statement, and transactions still commit, roll back and nest as peewee's do."""

from __future__ import annotations

from collections.abc import Iterator

import peewee
import psycopg2
import psycopg2.extensions
import pytest

from bot.platform import db as db_module
from bot.platform.db import transaction
from bot.platform.models import Tag


class _Counting(psycopg2.extensions.cursor):
    sent: list[str] = []

    def execute(self, query, vars=None):  # noqa: A002, ANN001, ANN201 - psycopg2's signature
        _Counting.sent.append(query if isinstance(query, str) else query.decode())
        return super().execute(query, vars)


@pytest.fixture
def pg(db: peewee.Database) -> Iterator[peewee.Database]:
    """The migrated PostgreSQL database, every round trip of this thread's connection recorded."""
    db.connection().cursor_factory = _Counting
    _Counting.sent = []
    yield db
    db.connection().cursor_factory = psycopg2.extensions.cursor


@pytest.fixture(params=["postgres"])
def database_url(request: pytest.FixtureRequest, pg_url: str) -> str:
    """These tests are about PostgreSQL's round trips (SQLite takes its write lock at BEGIN)."""
    from tests.conftest import reset_postgres

    reset_postgres(pg_url)
    return pg_url


def _others_see(pg_url: str, name: str) -> bool:
    """Whether a second connection (another process, say) sees the tag: committed or not."""
    with psycopg2.connect(pg_url) as other, other.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tag WHERE name = %s", (name,))
        return cursor.fetchone()[0] == 1


def test_begin_goes_with_the_first_statement(pg: peewee.Database, pg_url: str) -> None:
    with transaction():
        Tag.create(name="vip")
        assert not _others_see(pg_url, "vip")  # inside a transaction: nobody else sees it yet
        Tag.create(name="new")
    assert _others_see(pg_url, "vip") and _others_see(pg_url, "new")
    assert [query.split(" ", 2)[:2] for query in _Counting.sent] == [["BEGIN;", "INSERT"], ["INSERT", "INTO"],
                                                                     ["COMMIT"]]


def test_a_failure_rolls_back_the_statement_that_carried_begin(pg: peewee.Database, pg_url: str) -> None:
    with pytest.raises(RuntimeError), transaction():
        Tag.create(name="vip")
        raise RuntimeError("the apply failed")
    assert not _others_see(pg_url, "vip")
    assert _Counting.sent[-1] == "ROLLBACK"
    with transaction():  # the connection is fine afterwards, and a new transaction begins again
        Tag.create(name="vip")
    assert _others_see(pg_url, "vip") and _Counting.sent[-2].startswith("BEGIN; INSERT")


def test_a_statement_error_leaves_nothing_half_done(pg: peewee.Database, pg_url: str) -> None:
    Tag.create(name="vip")
    with pytest.raises(peewee.IntegrityError), transaction():
        Tag.create(name="new")
        Tag.create(name="vip")  # unique name
    assert not _others_see(pg_url, "new")


def test_a_transaction_that_sent_nothing_sends_nothing(pg: peewee.Database) -> None:
    with transaction():
        pass
    with pytest.raises(RuntimeError), transaction():
        raise RuntimeError
    assert _Counting.sent == []


def test_savepoints_nest_inside(pg: peewee.Database, pg_url: str) -> None:
    with transaction():
        with pytest.raises(peewee.IntegrityError), pg.atomic():  # a savepoint: the first statement here
            Tag.create(name="vip")
            Tag.create(name="vip")
        Tag.create(name="new")
    assert not _others_see(pg_url, "vip") and _others_see(pg_url, "new")
    assert _Counting.sent[0].startswith("BEGIN; SAVEPOINT")


def test_a_prepared_statement_is_prepared_again_after_a_while_for_the_tables_as_they_grew(
        pg: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generic plan made while a table was empty (a new install) would be kept for the
    connection's life: prepared again 5, 10, 20, 40 s after, then every minute, the plan reads the
    grown table by its index."""
    clock = [1000.0]
    monkeypatch.setattr(db_module, "_clock", lambda: clock[0])
    pg.execute_sql("CREATE TEMP TABLE probe (id serial PRIMARY KEY, k integer)")
    try:
        pg.execute_sql("CREATE INDEX probe_k ON probe (k)")
        pg.execute_sql("ANALYZE probe")  # empty, and known to be
        assert "Seq Scan on probe" in _generic_plan(pg)
        pg.execute_sql("INSERT INTO probe (k) SELECT n FROM generate_series(1, 20000) AS n")  # no ANALYZE
        clock[0] += db_module.REPREPARE_FIRST_S - 0.1
        assert "Seq Scan on probe" in _generic_plan(pg)  # the plan made for the empty table, kept
        clock[0] += 0.1
        assert "probe_k" in _generic_plan(pg)  # its time has come: an index scan (plain or bitmap)
        waits = []
        for _ in range(6):
            due = db_module._prepared_on[pg.connection()]["socialdesk_test_probe"][0]
            waits.append(due - clock[0])
            clock[0] = due
            _generic_plan(pg)
        assert waits == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    finally:
        pg.execute_sql("DROP TABLE probe")


def test_a_preparation_that_fails_after_the_old_one_went_is_tried_afresh(
        pg: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """DEALLOCATE then PREPARE: if the PREPARE fails (a lock wait cut short, say), the next use
    prepares again instead of deallocating a statement that no longer exists."""
    clock = [1000.0]
    monkeypatch.setattr(db_module, "_clock", lambda: clock[0])
    text = "SELECT id FROM tag WHERE name = %s"
    pg.execute_sql(db_module.prepared("socialdesk_test_again", text), ("a",))
    clock[0] += db_module.REPREPARE_FIRST_S
    execute_sql = pg.execute_sql

    def failing_prepare(sql: str, *args: object) -> object:
        if sql.startswith("PREPARE socialdesk_test_again"):
            raise peewee.OperationalError("canceling statement due to lock timeout")
        return execute_sql(sql, *args)

    monkeypatch.setattr(pg, "execute_sql", failing_prepare)
    with pytest.raises(peewee.OperationalError):
        db_module.prepared("socialdesk_test_again", text)
    monkeypatch.setattr(pg, "execute_sql", execute_sql)
    assert pg.execute_sql(db_module.prepared("socialdesk_test_again", text), ("a",)).fetchall() == []


def _generic_plan(pg: peewee.Database) -> str:
    statement = db_module.prepared("socialdesk_test_probe", "SELECT id FROM probe WHERE k = %s")
    pg.execute_sql("SET plan_cache_mode = force_generic_plan")
    try:
        return "\n".join(row[0] for row in pg.execute_sql(f"EXPLAIN {statement}", (7,)).fetchall())
    finally:
        pg.execute_sql("RESET plan_cache_mode")


def test_a_connection_handed_back_just_now_is_handed_out_without_a_round_trip(
        pg: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """peewee's pool asks the server (`SELECT 1`) before it hands a pooled connection out; one
    handed back less than PING_AFTER_S ago is trusted, an older one is still asked about."""
    clock = [1000.0]
    monkeypatch.setattr(db_module, "_clock", lambda: clock[0])
    first = pg.connection()
    pg.close()
    _Counting.sent = []
    assert pg.connection() is first and _Counting.sent == []
    pg.close()
    clock[0] += db_module.PING_AFTER_S
    assert pg.connection() is first and _Counting.sent == ["SELECT 1"]


def test_a_pooled_connection_the_server_ended_is_replaced(pg: peewee.Database, pg_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(db_module, "_clock", lambda: clock[0])
    first = pg.connection()
    pg.close()
    with psycopg2.connect(pg_url) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", (first.get_backend_pid(),))
    clock[0] += db_module.PING_AFTER_S
    assert pg.connection() is not first
    assert Tag.select().count() == 0
