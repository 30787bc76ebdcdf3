"""Upgrading a populated database from every earlier schema version keeps every row."""

from peewee import IndexMetadata

from bot import migrations
from bot.platform.db import connection, open_database


def test_upgrade_from_first_version_keeps_rows(database_url: str) -> None:
    database = open_database(database_url)
    with connection():
        if "postgres" not in database_url:  # the tests' SQLite copy is migrated: drop in any order
            database.execute_sql("PRAGMA foreign_keys = OFF")
        for table in reversed(database.get_tables()):
            database.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE' if "postgres" in database_url
                                 else f'DROP TABLE IF EXISTS "{table}"')
        if "postgres" not in database_url:
            database.execute_sql("PRAGMA foreign_keys = ON")
        assert migrations.upgrade(database, target="0001_initial") == ["0001_initial"]
        database.execute_sql(
            "INSERT INTO channel (platform, account_id, page_id, name, receive_messages, receive_comments, "
            "notifications, emails, human_agent, health_status, is_active, created_at) "
            "VALUES ('facebook', '1', '1', 'Old page', true, true, true, false, false, 'healthy', true, 1)")
        database.execute_sql("INSERT INTO contact (name, created_at, updated_at) VALUES ('Ann', 1, 1)")
        applied = migrations.upgrade(database)
        assert applied == [name for name in _all() if name != "0001_initial"]
        assert database.execute_sql("SELECT name FROM channel").fetchall() == [("Old page",)]
        assert database.execute_sql("SELECT name FROM contact").fetchall() == [("Ann",)]
        assert migrations.pending(database) == []
        assert migrations.upgrade(database) == []


def _all() -> list[str]:
    return sorted(p.stem for p in migrations.DIRECTORY.glob("[0-9]*.py"))


def test_no_index_is_the_start_of_another(database_url: str) -> None:
    """An index whose columns begin another index of its table only costs every INSERT and every
    new row version (migration 0030 dropped 21 of them): a look-up by its columns uses the longer one."""
    database = open_database(database_url)
    with connection():
        redundant = [(table, short.name, long.name) for table in database.get_tables()
                     for short, long in _pairs([i for i in database.get_indexes(table) if not _partial(i)])
                     if not short.unique and long.columns[:len(short.columns)] == short.columns]
    assert redundant == []


def _pairs(indexes: list[IndexMetadata]) -> list[tuple[IndexMetadata, IndexMetadata]]:
    return [(a, b) for a in indexes for b in indexes if len(a.columns) < len(b.columns)]


def _partial(index: IndexMetadata) -> bool:
    """A partial index (WHERE ...) serves other rows than the full one; SQLite's automatic
    indexes of UNIQUE constraints have no SQL."""
    return " WHERE " in (index.sql or "")
