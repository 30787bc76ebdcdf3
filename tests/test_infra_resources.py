"""The test infrastructure itself: tests run on resources of their own (a private redis-server, a
PostgreSQL database they created) and the session's sentinel check catches a run that touches
shared data."""

from __future__ import annotations

import secrets

import psycopg2
import pytest
import redis

from tests.servers import PG_URL, database_url_for, truthy
from tests.suite_checks import Sentinels, check_postgres, check_redis, plant_postgres, plant_redis


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), (" True ", True),
    ("", False), (None, False), ("0", False), ("false", False), ("no", False),
])
def test_ci_is_any_truthy_value(value: str | None, expected: bool) -> None:
    assert truthy(value) is expected


def test_redis_is_a_private_server_without_persistence(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.connection_pool.connection_kwargs["port"] != 6379
    assert client.config_get("save") == {"save": ""}
    assert client.config_get("appendonly") == {"appendonly": "no"}
    assert "redis" in client.config_get("dir")["dir"]  # the session's temporary directory


def test_postgres_is_a_database_of_this_run(pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    assert name.startswith("socialdesk_test_") and name != PG_URL.rsplit("/", 1)[1]
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone() == (name,)


def test_the_redis_check_catches_a_flush(redis_url: str) -> None:
    untouched, flushed = Sentinels(), Sentinels()
    plant_redis(untouched, redis_url)
    assert check_redis(untouched, redis_url) == []
    plant_redis(flushed, redis_url)
    redis.Redis.from_url(redis_url).flushdb()
    assert "sentinel" in check_redis(flushed, redis_url)[0]


def _execute(sql: str) -> None:
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def test_the_postgres_check_catches_a_dropped_or_changed_database(pg_url: str) -> None:
    untouched = Sentinels()
    plant_postgres(untouched)
    assert check_postgres(untouched) == []

    victim = f"socialdesk_victim_{secrets.token_hex(4)}"  # someone else's database
    _execute(f'CREATE DATABASE "{victim}"')
    dropped = Sentinels()
    plant_postgres(dropped)
    _execute(f'DROP DATABASE "{victim}"')
    assert any(victim in problem for problem in check_postgres(dropped))

    changed = Sentinels()
    plant_postgres(changed)
    with psycopg2.connect(database_url_for(PG_URL, changed.pg_database)) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE sentinel")
    assert any("changed" in problem for problem in check_postgres(changed))
