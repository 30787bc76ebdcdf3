"""The one database handle: a peewee proxy bound at start to SQLite (embedded) or pooled PostgreSQL.

Connections are per thread (peewee's default): every request handler and every job opens one
with `connection()` and closes it when done, so pooled PostgreSQL connections go back to the
pool. SQLite runs in WAL mode with a busy timeout, so the API, the worker threads and the
dashboard process can write to the same file.
"""

from __future__ import annotations

import os
import re
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import peewee
import psycopg2.extensions
from playhouse.db_url import parse as parse_db_url
from playhouse.pool import PooledPostgresqlDatabase

from bot.platform.journal import DeliveryJournal, journal_for
from bot.platform.settings import sqlite_path

db = peewee.DatabaseProxy()
T = TypeVar("T")

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",  # safe in WAL: a crash may lose the last commits, never corrupts
    "busy_timeout": 15000,
    "foreign_keys": 1,
    "cache_size": -64000,
}


def open_database(database_url: str, *, max_connections: int = 20) -> peewee.Database:
    """Build the database for `database_url` and bind the proxy to it."""
    if database_url.startswith(("postgres://", "postgresql://")):
        params = parse_db_url(database_url)
        database = PostgresDatabase(
            params.pop("database"), max_connections=max_connections, stale_timeout=300, timeout=30,
            autoconnect=True, **params,
        )
    else:
        path = sqlite_path(database_url)
        _create_private(path)
        database = peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=15, autoconnect=True)
    _let_go_of(db.obj)
    db.initialize(database)
    return database


class PostgresDatabase(PooledPostgresqlDatabase):
    """Pooled PostgreSQL whose BEGIN goes out with the transaction's first statement, in the same
    round trip ("BEGIN; <statement>": PostgreSQL runs both, and the transaction stays open). A
    round trip costs the backend a wake-up, a read and a write whatever it carries: with BEGIN on
    its own, applying a comment took eight of them, now seven (issue 18). Nothing changes in what
    a transaction sees (PostgreSQL takes the snapshot at its first statement, not at BEGIN), and a
    transaction that sent nothing sends neither COMMIT nor ROLLBACK. Every statement goes through
    `execute_sql` (peewee's queries and ours), which is where BEGIN is put in front."""

    def begin(self, isolation_level: str | None = None) -> None:
        if isolation_level is not None or self._isolation_level:
            super().begin(isolation_level)
            return
        self._state.begin_on = self.connection()  # this connection's next statement carries it

    def execute_sql(self, sql: str, params: Sequence | None = None):  # noqa: ANN201 - peewee's cursor
        if self._begin_pending():
            self._state.begin_on = None
            sql = f"BEGIN; {sql}"
        return super().execute_sql(sql, params)

    def commit(self) -> None:
        if not self._begin_pending():
            super().commit()
        self._state.begin_on = None

    def rollback(self) -> None:
        if not self._begin_pending():
            super().rollback()
        self._state.begin_on = None

    def _begin_pending(self) -> bool:
        conn = self._state.conn
        return conn is not None and getattr(self._state, "begin_on", None) is conn

    # peewee's pool asks the server whether a pooled connection still works (a `SELECT 1` round
    # trip) every time it hands one out: once per job and per request, as many as the statements
    # of a private reply's send (bench.e2e: 1.1 per reply, not in its count, which sees only what
    # goes through `execute_sql`). A connection handed back less than PING_AFTER_S ago is handed
    # out without asking: it answered its last statement then, and psycopg2 marks a connection
    # whose last statement met a broken link as closed. One the server ended within that second
    # (a restart, a terminated backend) fails its next statement, as it would had it been ended
    # just after a ping: the job is retried, the webhook answered 500 and sent again.
    def _close(self, conn, close_conn: bool = False) -> None:  # noqa: ANN001 - a psycopg2 connection
        _returned_at[conn] = _clock()
        super()._close(conn, close_conn)

    def _is_closed(self, conn) -> bool:  # noqa: ANN001 - a psycopg2 connection
        returned = _returned_at.get(conn)
        if (returned is not None and _clock() - returned < PING_AFTER_S and not conn.closed
                and conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE):
            return False
        return super()._is_closed(conn)


PING_AFTER_S = 1.0
_returned_at: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # pooled connection -> when it came back


def _let_go_of(previous: peewee.Database | None) -> None:
    """A process that opens another database (tests do, one per test) closes the previous pool's
    idle connections now, not whenever the garbage collector gets to them: a cluster allows a
    hundred or so connections, and a pool keeps up to `max_connections`."""
    if isinstance(previous, PooledPostgresqlDatabase):
        previous.close_idle()


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (0600, whatever the umask): it holds
    customers' messages and encrypted page tokens. SQLite gives its -wal and -shm files the same
    mode. An existing file keeps the mode its operator chose."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)  # the umask may have removed bits, never added: make it exact


def is_sqlite() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)


def delivery_journal() -> DeliveryJournal | None:
    """The journal file beside the SQLite database (`bot.platform.journal`), None on PostgreSQL
    (where writers do not exclude each other, so webhooks are committed to `delivery` directly)."""
    database = db.obj
    if not isinstance(database, peewee.SqliteDatabase) or database.database == ":memory:":
        return None
    return journal_for(Path(database.database))


# A transaction-level advisory lock on a text key (its 64-bit hash: two keys that collide only
# wait for each other). PostgreSQL holds it until the transaction ends, commit or rollback, and
# for nobody once the backend is gone (a killed worker's keys are free at once, no TTL). Taken
# first in its transaction, before any row lock, so a transaction waiting for it holds nothing
# another could wait for: it cannot be part of a deadlock.
LOCK_KEY_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def lock_key(key: str) -> None:
    """PostgreSQL: hold `key` until this transaction ends; another transaction asking waits."""
    db.execute_sql(LOCK_KEY_SQL, (key,))


@contextmanager
def connection() -> Iterator[None]:
    """A connection for one unit of work (a request, a job), returned to the pool afterwards."""
    if db.is_closed():
        db.connect()
        try:
            yield
        finally:
            db.close()
    else:
        yield


def transaction() -> peewee._atomic:
    """A write transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so
    read-then-write sequences from several threads or processes cannot deadlock on upgrade."""
    if is_sqlite():
        return db.atomic("IMMEDIATE")
    return db.atomic()


LOCK_RETRIES = 5


def retry_locked(work: Callable[[], T], *, attempts: int = LOCK_RETRIES, pause: float = 0.05) -> T:
    """Run `work` again when SQLite answers "database is locked" (a write that met another
    writer's snapshot: SQLITE_BUSY_SNAPSHOT is returned at once, the busy timeout does not apply).
    For short, idempotent units of background bookkeeping (the clock's rounds); waits grow
    (50 ms, 100 ms, ...) and the last failure is raised. PostgreSQL errors are never retried here."""
    for attempt in range(attempts):
        try:
            return work()
        except peewee.OperationalError as exc:
            if attempt == attempts - 1 or not locked(exc):
                raise
            time.sleep(pause * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def locked(exc: BaseException) -> bool:
    """Whether an error is SQLite's "database is locked" (another writer held on past the wait)."""
    return is_sqlite() and isinstance(exc, peewee.OperationalError) and "database is locked" in str(exc)


def insert_new(query: peewee.Insert) -> int | None:
    """Run an INSERT that must not overwrite: the new row's id, or None when a row with the same
    unique key already exists. (SQLite's lastrowid is stale after an ignored insert, so the row
    count decides there; PostgreSQL's RETURNING gives nothing for an ignored row.)"""
    query = query.on_conflict_ignore()
    if is_sqlite():
        cursor = db.execute(query)
        return cursor.lastrowid if cursor.rowcount == 1 else None
    return query.execute() or None


_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> {name: (due again, wait)}
_PLACEHOLDER = re.compile(r"%s")
# A prepared statement's generic plan is made from the tables as they are at its first executions
# and kept while the connection lives, unless an ANALYZE of a table it reads replaces it. In a new
# install the tables are empty then, and where autovacuum is off (or slow to analyze a table that
# only grows) a plan chosen for empty tables was kept for good: bench.e2e found the webhook
# statement walking the whole message table per echo. PostgreSQL plans with each table's size on
# disk at the time, so preparing again now and then gives plans for the tables as they have grown:
# soon after the first time (a new install's tables grow fastest in relation to their size), then
# at most every REPREPARE_AFTER_S.
REPREPARE_FIRST_S = 5.0
REPREPARE_AFTER_S = 60.0
_clock = time.monotonic


def prepared(name: str, text: str, types: Sequence[str] = ()) -> str:
    """PostgreSQL: `text` (with `%s` placeholders) prepared once on this thread's connection under
    `name`, and the EXECUTE to send in its place with the same parameters. For the busiest
    statements, whose parsing and planning cost PostgreSQL more than running them (a plan is
    kept per connection; a new connection prepares again). Each parameter's type is the one in
    `types` ("unknown": inferred from where it stands), or without `types` inferred or cast in
    `text`. PREPARE is not transactional: a rollback keeps the statement. Prepared again after
    5, 10, 20, 40 s, then every minute, for a plan made with the tables' sizes then."""
    names = _prepared_on.setdefault(db.connection(), {})  # forgotten with the connection
    due, wait = names.get(name, (0.0, 0.0))
    now = _clock()
    if now >= due:
        if wait:
            db.execute_sql(f"DEALLOCATE {name}")
            del names[name]  # a PREPARE that fails now leaves it to be prepared afresh, not deallocated again
        count = iter(range(1, text.count("%s") + 1))
        declared = f" ({', '.join(types)})" if types else ""
        db.execute_sql(f"PREPARE {name}{declared} AS {_PLACEHOLDER.sub(lambda _: f'${next(count)}', text)}")
        wait = min(REPREPARE_AFTER_S, 2 * wait or REPREPARE_FIRST_S)
        names[name] = (now + wait, wait)
    count = text.count("%s")
    return f"EXECUTE {name} ({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


def storable_text(text: str) -> str:
    """PostgreSQL text cannot hold NUL (SQLite can): anything taken from a payload must still be
    stored, so NUL becomes U+FFFD on both."""
    return text.replace("\x00", "\ufffd")


def storable(text: str | None) -> str | None:
    return None if text is None else storable_text(text)


def now_ms() -> int:
    """Milliseconds since the epoch: the one time unit of the schema (Meta's timestamps are ms)."""
    return int(time.time() * 1000)
