"""Per-process copies of configuration read on every event and every send (channels, campaigns
with their actions, outgoing webhook endpoints, assignment rules, tags, attribute definitions,
the active staff), and a per-unit memo of rows a unit of work looks up several times.

Copies: each is good for one value of `config_version` (epoch, version). Database triggers bump
the version on every write to those tables (migration 0018). A job reads the value with one of
its first statements (`VERSION_SQL` as a column of the drain's SELECT or the send's claim), and
only a thread that did so in its current job (`observe`) reads copies: what it gets is never
older than that statement -- the freshness a read at that moment would have given. Every other
caller (the API, the clock, a job that read no version) reads the database as before. Copies are
shared by the threads of a process: callers must not change the rows they get.

Memo (`unit`): within one event's transaction the same identity, comment or DM thread is looked
up by the inbox, the campaign and the outbox in turn; `memo` reads each once. Whoever creates
such a row in the unit `remember`s it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from peewee import SQL

from bot.platform.db import insert_new
from bot.platform.models import ConfigVersion

T = TypeVar("T")

# The version as one text value, readable as a column of any query (NULL when the row is gone).
VERSION_SQL = SQL("(SELECT epoch || ':' || CAST(version AS TEXT) FROM config_version WHERE id = 1)")

_lock = threading.Lock()
_state: dict[str, Any] = {"version": None, "copies": {}}
_local = threading.local()


def observe(version: str | None) -> None:
    """The version this thread's job just read: copies taken under another one are dropped. No
    row (a database emptied under us, as tests do) means nothing may be trusted: a fresh row with
    a new epoch is put back, and this job reads the database."""
    _local.version = version
    with _lock:
        if version != _state["version"]:
            _state.update(version=version, copies={})
    if version is None:
        insert_new(ConfigVersion.insert(id=1, epoch=secrets.token_hex(8), version=0))


def current() -> str | None:
    """The version this thread's job observed (None: none), for `adopt` in a helper thread."""
    return getattr(_local, "version", None)


def adopt(version: str | None) -> None:
    """A helper thread working for a job that observed `version` reads the copies that job may
    read (they are no older than the job's statement); `end_job` when its part is done."""
    _local.version = version


def end_job() -> None:
    """The job is over: its thread reads the database again until its next job observes."""
    _local.version = None
    _local.memo = None


def epoch() -> str | None:
    """The database's epoch as this thread's job observed it (None: it observed none)."""
    version = getattr(_local, "version", None)
    return version.partition(":")[0] if version else None


def cached(name: str, key: object, load: Callable[[], T]) -> T:
    """The copy of `name`/`key`, loaded once per version; `load()` itself when this thread has
    not observed the current version in its job."""
    version = getattr(_local, "version", None)
    copies = _state["copies"]
    if version is None or version != _state["version"]:
        return load()
    try:
        return copies[(name, key)]
    except KeyError:
        value = copies[(name, key)] = load()  # into the dict of the version read before loading
        return value


@contextmanager
def unit() -> Iterator[None]:
    """One unit of work (an event's transaction) whose lookups `memo` keeps."""
    _local.memo = {}
    try:
        yield
    finally:
        _local.memo = None


def memo(name: str, key: object, load: Callable[[], T]) -> T:
    """`load()` once per unit for `name`/`key` (every time outside a unit)."""
    table = getattr(_local, "memo", None)
    if table is None:
        return load()
    if (name, key) not in table:
        table[(name, key)] = load()
    return table[(name, key)]


def remember(name: str, key: object, value: object) -> None:
    """A row the unit created or found otherwise: later `memo` lookups get it."""
    table = getattr(_local, "memo", None)
    if table is not None:
        table[(name, key)] = value
