"""The delivery journal of the embedded SQLite default: a second, small SQLite file beside the
database (`socialdesk.db-deliveries`) where the API commits a webhook's raw bytes when the main
database is busy.

Why: SQLite has one writer at a time per file. While a worker applies a 1,000-message batch, the
worker threads take the main file's write lock back to back, and a webhook waiting for it could
wait seconds (15 s then a 500 before), while Meta wants its answer within 5 s. Only the API's
writer (appending) and the movers (deleting what was moved: the API's mover thread, the clock's
sweep) write this file, each in one short statement, so a delivery is committed here in a
millisecond or two whatever the workers do.

Exactly once: each journal file has a random generation token; the main database records, per
generation, the last journal row moved into `delivery` in the same transaction as the moved rows
(`DeliveryJournalMark`). Rows are deleted from the journal only after that commit, and a move
skips rows at or below the mark, so a crash between the two steps moves nothing twice. A journal
file recreated from scratch has a new token, so its row ids starting again at 1 are not skipped.

Durability is the main database's: WAL with synchronous=NORMAL (a committed row survives a killed
process; the last commits may be lost on power failure, never corrupted).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from pathlib import Path

SUFFIX = "-deliveries"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS generation (token TEXT NOT NULL)",
           "CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, "
           "received_at INTEGER NOT NULL, body BLOB NOT NULL)")
_PRAGMAS = ("PRAGMA journal_mode = wal", "PRAGMA synchronous = normal", "PRAGMA busy_timeout = 15000")

Row = tuple[int, int, bytes]  # (journal id, received_at, body)


class DeliveryJournal:
    """One journal file; a connection per thread (and per process, after a fork)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self.generation = self._open_file()

    def _open_file(self) -> str:
        """Create the file (mode 0600, like the database) and its tables; the generation token."""
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            os.chmod(self.path, 0o600)
        except FileExistsError:
            pass
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            found = conn.execute("SELECT token FROM generation").fetchone()
            if found is None:
                found = (secrets.token_hex(16),)
                conn.execute("INSERT INTO generation (token) VALUES (?)", found)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return found[0]

    def _conn(self) -> sqlite3.Connection:
        held = getattr(self._local, "conn", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=15)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        self._local.conn = (os.getpid(), conn)
        return conn

    def append(self, received_at: int, bodies: list[bytes]) -> list[int]:
        """Commit raw deliveries in one short transaction; their journal ids, in order."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = [conn.execute("INSERT INTO pending (received_at, body) VALUES (?, ?)", (received_at, body)).lastrowid
                   for body in bodies]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return ids

    def waiting(self) -> bool:
        """Whether any row is in the journal (moved or not: a cheap look before anything else)."""
        return self._conn().execute("SELECT 1 FROM pending LIMIT 1").fetchone() is not None

    def count(self) -> int:
        return self._conn().execute("SELECT count(*) FROM pending").fetchone()[0]

    def oldest_received_at(self) -> int | None:
        found = self._conn().execute("SELECT min(received_at) FROM pending").fetchone()
        return found[0] if found else None

    def after(self, mark: int, *, max_rows: int, max_bytes: int) -> list[Row]:
        """Rows above `mark`, oldest first, at most `max_rows` and about `max_bytes` (at least one)."""
        rows: list[Row] = []
        size = 0
        cursor = self._conn().execute("SELECT id, received_at, body FROM pending WHERE id > ? ORDER BY id LIMIT ?",
                                      (mark, max_rows))
        for row in cursor:
            rows.append((row[0], row[1], bytes(row[2])))
            size += len(row[2])
            if size >= max_bytes:
                break
        cursor.close()
        return rows

    def forget_through(self, mark: int) -> None:
        """Delete the rows the main database has recorded as moved."""
        self._conn().execute("DELETE FROM pending WHERE id <= ?", (mark,))


_journals: dict[str, DeliveryJournal] = {}
_journals_lock = threading.Lock()


def journal_for(database_path: Path) -> DeliveryJournal:
    """The journal beside a SQLite database file (one object per file and process)."""
    path = database_path.with_name(database_path.name + SUFFIX)
    key = str(path.resolve())
    with _journals_lock:
        found = _journals.get(key)
        if found is None or not path.exists():
            found = _journals[key] = DeliveryJournal(path)
        return found
