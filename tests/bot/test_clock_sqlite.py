"""The embedded SQLite default never logs "database is locked" from the clock (issue 23 point 9).

The failure is SQLite's snapshot conflict: a connection that is still stepping a SELECT holds a
read snapshot, and when another connection (a webhook being stored, a channel being connected)
commits before it writes, its write fails at once with "database is locked" (the busy timeout
does not apply). The health round created missing check rows while iterating its SELECT; these
tests make the other connection's commit happen at exactly that moment.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import peewee
import pytest

from bot.channels import health
from bot.platform.db import now_ms, retry_locked
from bot.platform.models import Channel, ChannelCheck, Contact
from bot.platform.settings import sqlite_path

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def other_writer(database_url: str) -> Callable[[], None]:
    """A commit from another connection, as the API storing a webhook would make."""
    def write() -> None:
        connection = sqlite3.connect(sqlite_path(database_url), timeout=15)
        try:
            connection.execute("INSERT INTO contact (name, created_at, updated_at) VALUES ('webhook', 1, 1)")
            connection.commit()
        finally:
            connection.close()
    return write


def channels(count: int) -> None:
    for n in range(count):
        Channel.create(platform="facebook", account_id=f"p{n}", page_id=f"p{n}", name=f"P{n}", created_at=now_ms())


def test_health_round_creates_check_rows_while_webhooks_commit(db, database_url: str, monkeypatch) -> None:
    channels(3)
    write, real = other_writer(database_url), health.check_state

    def check_state_during_a_webhook(channel_id: int) -> ChannelCheck:
        write()  # another process commits between the clock's SELECT and its INSERT
        return real(channel_id)

    monkeypatch.setattr(health, "check_state", check_state_during_a_webhook)
    monkeypatch.setattr(health, "interval_ms", lambda: 3_600_000)  # the setting, without booting a runtime
    assert health.claim_due_checks() == []  # none due yet: the first check is one interval away
    assert ChannelCheck.select().count() == 3
    assert Contact.select().where(Contact.name == "webhook").count() == 3


def test_retry_locked_runs_a_write_again_after_a_snapshot_conflict(db, database_url: str) -> None:
    channels(2)
    write, attempts = other_writer(database_url), []

    def read_then_write() -> int:
        """The pattern that fails: writing while a SELECT is still being stepped."""
        attempts.append(1)
        for channel in Channel.select(Channel.id):
            if len(attempts) == 1:
                write()
            Contact.insert(name=f"c{channel.id}", created_at=1, updated_at=1).execute()
        return len(attempts)

    assert retry_locked(read_then_write) == 2
    with pytest.raises(peewee.OperationalError, match="database is locked"):
        attempts.clear()
        retry_locked(read_then_write, attempts=1)
