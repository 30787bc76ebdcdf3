"""Shared fixtures: real databases (SQLite file and PostgreSQL), real brokers (in-process and
Redis), the API and the sandbox Graph API served over real sockets.

Tests own what they use: each test process (each xdist worker) creates its own PostgreSQL database
on the cluster named by SOCIALDESK_TEST_PG and drops it at the end, and starts its own
redis-server on a free port (killed at the end). A shared Redis or PostgreSQL is never written:
the session checks that with sentinels (tests/suite_checks.py). Under a truthy CI an unreachable
PostgreSQL or a missing redis-server fails the run; elsewhere those tests skip with the reason.
Nothing here fakes Meta: the sandbox is the project's own emulator over HTTP.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.servers import (
    PG_URL,
    LiveServer,
    RedisServer,
    Stack,
    create_test_database,
    drop_test_database,
    pg_available,
    redis_server_available,
    require,
    reset_postgres,
    reset_redis,
)
from tests.suite_checks import (  # noqa: F401  (pytest hooks: the shared-data check, the per-area summary)
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test process's own, created on first use and dropped at the end."""
    require("PostgreSQL", pg_available(), f"cannot connect to {PG_URL} (set SOCIALDESK_TEST_PG)")
    url = create_test_database(PG_URL)
    yield url
    drop_test_database(PG_URL, url)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """This test process's own redis-server (free port, files in a temp dir, no persistence)."""
    require("redis-server", redis_server_available(), "the redis-server binary is not on the PATH")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """The URL of this test process's private Redis (database 0; tests may flush it)."""
    return redis_server.url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test process: each test starts from a copy of it, which
    costs a file copy instead of running every migration again (about a second per test on a
    loaded 2-core machine). A test of the migrations themselves drops the tables first."""
    from bot import migrations
    from bot.platform.db import connection, open_database

    path = tmp_path_factory.mktemp("template") / "socialdesk.db"
    database = open_database(f"sqlite:///{path}")
    with connection():
        migrations.upgrade(database)
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()
    return path


def _new_epoch(path: Path) -> None:
    """A copy must look like a new database to the per-process configuration copies
    (bot/platform/cache.py), which tell databases apart by the epoch of `config_version`."""
    with closing(sqlite3.connect(path)) as con, con:
        con.execute("UPDATE config_version SET epoch = ?", (secrets.token_hex(8),))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite (a fresh copy of the migrated template) and on
    PostgreSQL (truncated)."""
    if request.param == "sqlite":
        target = tmp_path / "socialdesk.db"
        shutil.copy2(request.getfixturevalue("sqlite_template"), target)  # keeps the 0600 mode
        _new_epoch(target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_url")
    reset_postgres(url)
    return url


@pytest.fixture(params=["inprocess", "redis"])
def broker_url(request: pytest.FixtureRequest) -> str | None:
    """Each queue test runs on the in-process broker and on real Redis."""
    if request.param == "inprocess":
        return None
    url = request.getfixturevalue("redis_url")
    reset_redis(url)
    return url


def make_env(database_url: str, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {"DATABASE_URL": database_url, "SOCIALDESK_SECRET_KEY": SECRET_KEY, "META_APP_SECRET": APP_SECRET,
           "META_VERIFY_TOKEN": VERIFY_TOKEN, "SOCIALDESK_EMAIL_COALESCE_SECONDS": "1"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[LiveServer]:
    """One sandbox Graph API for the session; each test resets it and points it at its API."""
    from sandbox.app import create_sandbox_app

    server = LiveServer(create_sandbox_app(APP_SECRET, None)).start()
    yield server
    server.stop()


@pytest.fixture
def stack(database_url: str, sandbox_server: LiveServer) -> Iterator[Stack]:
    """The whole system on SQLite or PostgreSQL with the in-process queue: API over HTTP,
    worker threads, the clock, and the sandbox posting signed webhooks to the API."""
    with Stack.start(make_env(database_url), sandbox_server) as running:
        yield running


@pytest.fixture
def stack_redis(pg_url: str, redis_url: str, sandbox_server: LiveServer) -> Iterator[Stack]:
    """The scaled-out shape: PostgreSQL and Redis, workers consuming from Redis."""
    reset_postgres(pg_url)
    reset_redis(redis_url)
    with Stack.start(make_env(pg_url, redis_url), sandbox_server) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "META_APP_SECRET", "SMTP_URL", "GRAPH_API_URL",
                 "SOCIALDESK_REDIS_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    os.environ.setdefault("SOCIALDESK_LOG_LEVEL", "WARNING")
