"""Shared fixtures: real databases (SQLite file and PostgreSQL), real brokers (in-process and
Redis), the API and the sandbox Graph API served over real sockets.

Under CI=true an unreachable PostgreSQL or Redis fails the run; elsewhere those tests skip with
the reason. Nothing here fakes Meta: the sandbox is the project's own emulator over HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import (
    PG_URL,
    REDIS_URL,
    LiveServer,
    Stack,
    create_test_database,
    drop_test_database,
    pg_available,
    redis_available,
    require,
    reset_postgres,
    reset_redis,
)

SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this session's own, created on first use and dropped at the end."""
    require("PostgreSQL", pg_available(), f"cannot connect to {PG_URL}")
    url = create_test_database(PG_URL)
    yield url
    drop_test_database(PG_URL, url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    require("Redis", redis_available(), f"cannot connect to {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite (a fresh file) and on PostgreSQL (truncated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/socialdesk.db"
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
    for name in ("DATABASE_URL", "REDIS_URL", "META_APP_SECRET", "SMTP_URL", "GRAPH_API_URL"):
        monkeypatch.delenv(name, raising=False)
    os.environ.setdefault("SOCIALDESK_LOG_LEVEL", "WARNING")
