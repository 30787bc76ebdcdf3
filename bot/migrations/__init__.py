"""Versioned schema migrations (peewee's `playhouse.migrations` runner).

Each numbered file defines `up(migrator, db)` with frozen copies of the tables it creates, so an
old database upgrades step by step and nothing is introspected from the live models. Add a
migration with `python -m playhouse.migrations <db> generate -d bot/migrations NAME bot.platform.models:ALL_MODELS`
against a database at the newest version, then extend `tests/bot/platform/test_migrations.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import peewee
from playhouse.migrations import Runner

from bot.migrations import config_triggers

DIRECTORY = Path(__file__).parent
_PG_LOCK_ID = 0x50C1A1DE5C  # advisory lock: one migrating process at a time


def runner(database: peewee.Database) -> Runner:
    return Runner(database, directory=str(DIRECTORY))


def upgrade(database: peewee.Database, target: str | None = None) -> list[str]:
    """Apply the pending migrations (up to `target`), returning their names. Safe to call from
    several processes at once on PostgreSQL (advisory lock); a no-op when up to date."""
    with _exclusive(database):
        applied = runner(database).up(target)
        if applied:
            config_triggers.ensure(database)
        return applied


def pending(database: peewee.Database) -> list[str]:
    return [m.name for m in runner(database).status() if m.path and not m.applied]


@contextmanager
def _exclusive(database: peewee.Database) -> Iterator[None]:
    if isinstance(database, peewee.PostgresqlDatabase):
        database.execute_sql("SELECT pg_advisory_lock(%s)", (_PG_LOCK_ID,))
        try:
            yield
        finally:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_ID,))
    else:
        yield
