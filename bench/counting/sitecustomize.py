"""Bench-only instrumentation, loaded by every process a benchmark starts (this directory is put
first on their PYTHONPATH, and Python imports `sitecustomize` at start-up). Not part of
socialdesk: it counts, per process, the SQL statements peewee sends (by verb and first table)
and the queue messages our code enqueues (by job name), and writes them to
`$SOCIALDESK_BENCH_COUNT_DIR/<pid>.json` every half second and at exit. Works on any revision of
socialdesk, so `bench.e2e --baseline-ref` counts an old release the same way.

Statements are counted where they leave our process (`peewee.Database.execute_sql`: every query,
plus BEGIN/COMMIT/ROLLBACK, which peewee sends through the cursor); queue messages where our
code sends them (`dramatiq.Actor.send_with_options`), so Dramatiq's own retries of a failed job
are not in the count.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import threading
from collections import Counter

DIRECTORY = os.environ.get("SOCIALDESK_BENCH_COUNT_DIR")
TRACE = os.environ.get("SOCIALDESK_BENCH_TRACE_SQL")  # a directory: every statement's text, per process
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE|JOIN)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', re.IGNORECASE)
_lock = threading.Lock()
_state: dict = {"pid": None, "sql": Counter(), "jobs": Counter()}


_SUBQUERY = re.compile(r"\((?:[^()']|'[^']*')*\)")


@functools.lru_cache(maxsize=8192)  # the same texts repeat (parameters are apart): parse each once
def _statement_key(sql: str) -> str:
    """"table VERB": the statement's own table, not one a subquery in its columns reads."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    if verb == "WITH":  # a statement of several parts: named by the tables it writes
        written = re.findall(r'\b(?:INSERT\s+INTO|UPDATE)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', sql, re.IGNORECASE)
        if written:
            return f"{'+'.join(dict.fromkeys(written))} WITH"
    outer = sql
    for _ in range(4):  # innermost parentheses first, nested ones on the next pass
        outer = _SUBQUERY.sub("", outer)
    found = _TABLE.search(outer)
    return f"{found.group(1) if found else '-'} {verb}"


_PREPARED: dict[str, str] = {}  # a prepared statement's name -> the label of its text


@functools.lru_cache(maxsize=8192)  # the counting must cost next to nothing: it runs in the measured processes
def _label(sql: str) -> str:
    """`_statement_key`, with a prepared statement's EXECUTE counted under its text's label (and
    its PREPARE, once per connection, as that label's PREPARE). A statement that carries its
    transaction's BEGIN in the same round trip (`bot.platform.db.PostgresDatabase`) counts as
    itself: one round trip; so does one that carries a lock on a key (`bot.platform.db.lock_key`:
    a drain's take since session 13)."""
    sql = re.sub(r"^SELECT pg_advisory_xact_lock\([^;]*\); ", "", sql.removeprefix("BEGIN; "))
    head = sql[:120].split(None, 2)
    verb = head[0].upper() if head else ""
    if verb == "EXECUTE" and len(head) > 1:
        name = head[1].split("(")[0]
        return _PREPARED.get(name, f"{name} EXECUTE")
    if verb == "PREPARE" and len(head) > 1:
        words = sql.split(None, 3)
        if len(words) == 4 and words[2].upper() == "AS":
            _PREPARED[words[1]] = _statement_key(words[3])
            return f"{_PREPARED[words[1]].rsplit(' ', 1)[0]} PREPARE"
    return _statement_key(sql)


def _dump() -> None:
    with _lock:
        data = {"sql": dict(_state["sql"]), "jobs": dict(_state["jobs"])}
    path = os.path.join(DIRECTORY, f"{os.getpid()}.json")
    with open(path + ".tmp", "w") as handle:
        json.dump(data, handle)
    os.replace(path + ".tmp", path)


def _flusher() -> None:
    stop = threading.Event()
    while not stop.wait(0.5):
        try:
            _dump()
        except OSError:
            return


_pid = [os.getpid()]  # os.getpid() without a system call per statement
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def _count(kind: str, key: str) -> None:
    with _lock:
        if _state["pid"] != _pid[0]:  # first count in this process (or a forked child's)
            _state.update(pid=_pid[0], sql=Counter(), jobs=Counter())
            threading.Thread(target=_flusher, name="bench-counts", daemon=True).start()
            atexit.register(_dump)
        _state[kind][key] += 1


def _trace(sql: str) -> None:
    """One line per statement (thread and text) in `$SOCIALDESK_BENCH_TRACE_SQL/<pid>.sql`: to read
    what one reply costs, statement by statement (use with a handful of comments)."""
    line = f"{threading.current_thread().name}\t{' '.join(sql.split())[:400]}\n"
    with open(os.path.join(TRACE, f"{os.getpid()}.sql"), "a") as handle:
        handle.write(line)


def _counted_transaction(method, verb: str):  # noqa: ANN001, ANN202
    """BEGIN, COMMIT and ROLLBACK are statements too (round trips; peewee sends them through
    the cursor, not `execute_sql`)."""
    def counted(self, *args, **kwargs):  # noqa: ANN001, ANN202
        _count("sql", f"(transaction) {verb}")
        if TRACE:
            _trace(verb)
        return method(self, *args, **kwargs)

    return counted


def _install() -> None:
    import peewee

    execute_sql = peewee.Database.execute_sql

    def counted_execute_sql(self, sql, params=None, *args, **kwargs):  # noqa: ANN001, ANN202
        _count("sql", _label(sql))
        if TRACE:
            _trace(sql)
        return execute_sql(self, sql, params, *args, **kwargs)

    peewee.Database.execute_sql = counted_execute_sql
    for cls in (peewee.Database, peewee.PostgresqlDatabase, peewee.SqliteDatabase):
        for verb in ("begin", "commit", "rollback"):
            if verb in vars(cls):
                setattr(cls, verb, _counted_transaction(getattr(cls, verb), verb.upper()))
    try:
        import dramatiq
    except ImportError:
        return
    send_with_options = dramatiq.Actor.send_with_options

    def counted_send(self, *args, **kwargs):  # noqa: ANN001, ANN202
        _count("jobs", self.actor_name)
        return send_with_options(self, *args, **kwargs)

    dramatiq.Actor.send_with_options = counted_send


if DIRECTORY:
    _install()
