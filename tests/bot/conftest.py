"""Fixtures for service tests that need a migrated database but no running stack."""

from __future__ import annotations

from collections.abc import Iterator

import peewee
import pytest

from bot import migrations
from bot.platform import cache
from bot.platform.db import connection, open_database


@pytest.fixture
def db(database_url: str) -> Iterator[peewee.Database]:
    """A migrated database (SQLite file or PostgreSQL, like `database_url`) and a connection."""
    database = open_database(database_url)
    migrations.upgrade(database)
    cache.end_job()  # this thread may have observed an earlier test's configuration (its copies)
    with connection():
        yield database
    cache.end_job()
