"""Per-process copies of configuration (bot/platform/cache.py): a job that observed the version
reads copies, and any write to the watched tables (a database trigger bumps the version) makes
the next observing job read the database again. On both databases: the triggers differ."""

from __future__ import annotations

from bot.platform import cache
from bot.platform.db import db as handle
from bot.platform.db import is_sqlite
from bot.platform.models import Channel, ConfigVersion
from bot.platform.registry import channel_for, touch


def observe() -> None:
    cache.observe(handle.execute_sql(f"SELECT {cache.VERSION_SQL.sql}").fetchone()[0])


def test_a_changed_channel_is_read_again_by_the_next_job(db) -> None:
    Channel.create(platform="facebook", account_id="7", page_id="7", name="Old name", created_at=0)
    try:
        observe()
        assert channel_for("facebook", "7").name == "Old name"
        Channel.update(name="Shop").where(Channel.account_id == "7").execute()  # as the dashboard would
        observe()  # the next job (without the trigger's bump it would keep the copy of "Old name")
        assert channel_for("facebook", "7").name == "Shop"
        Channel.update(is_active=False).where(Channel.account_id == "7").execute()
        observe()
        assert channel_for("facebook", "7") is None
    finally:
        cache.end_job()
    Channel.update(name="Unseen").where(Channel.account_id == "7").execute()
    assert channel_for("facebook", "7") is None  # a thread that observed nothing reads the database


def test_touch_writes_once_per_interval_and_leaves_copies_alone_on_postgresql(db) -> None:
    channel = Channel.create(platform="facebook", account_id="8", page_id="8", name="Shop", created_at=0)
    try:
        observe()
        before = ConfigVersion.get_by_id(1).version
        copy = channel_for("facebook", "8")
        touch(copy, "last_webhook_at", 100_000)
        assert Channel.get_by_id(channel.id).last_webhook_at == 100_000
        touch(copy, "last_webhook_at", 101_000)  # the copy still says "never": this process wrote it
        assert Channel.get_by_id(channel.id).last_webhook_at == 100_000
        if not is_sqlite():  # PostgreSQL: these times are no configuration
            assert ConfigVersion.get_by_id(1).version == before
    finally:
        cache.end_job()


def test_an_emptied_version_table_is_refilled_with_a_new_epoch(db) -> None:
    observe()
    old = ConfigVersion.get_by_id(1).epoch
    ConfigVersion.delete().execute()  # as truncating every table does
    try:
        observe()  # no row: nothing cached, a new row
        assert ConfigVersion.get_by_id(1).epoch != old
        assert cache.cached("probe", 1, lambda: "fresh") == "fresh"
        assert cache.cached("probe", 1, lambda: "again") == "again"  # unknown version: never a copy
    finally:
        cache.end_job()
