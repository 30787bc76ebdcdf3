"""Helpers shared by the access-control tests: a database with staff users, and a stopped clock
for the sign-in throttle that tests move forward (the delays are not waited out, and a slow
machine cannot let a delay pass unnoticed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.platform.db import connection, now_ms, open_database
from bot.staff import auth, signin

PASSWORD = "correct horse battery"


@pytest.fixture
def staff_db(database_url: str) -> Iterator[str]:
    """A migrated database (SQLite and PostgreSQL) with an admin and an agent."""
    from bot import migrations

    database = open_database(database_url)
    with connection():
        migrations.upgrade(database)
        auth.add_user("admin@example.com", PASSWORD, "admin")
        auth.add_user("agent@example.com", PASSWORD, "agent")
        yield database_url


class Clock:
    """`bot.staff.signin`'s idea of now, moved only by `advance`."""

    def __init__(self) -> None:
        self.ms = now_ms()

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    stopped = Clock()
    monkeypatch.setattr(signin, "now_ms", stopped)
    return stopped
