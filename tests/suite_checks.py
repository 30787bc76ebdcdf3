"""Session-wide pytest hooks (imported by tests/conftest.py): proof that a run leaves shared data
alone, and a closing summary that says what ran.

Shared data: before the run the main pytest process plants a sentinel key in the shared Redis
(SOCIALDESK_TEST_SHARED_REDIS, default 127.0.0.1:6379 database 0) and a sentinel database on the
PostgreSQL cluster (SOCIALDESK_TEST_PG), and notes the cluster's other databases; after every
worker has finished it checks all of them are still there, unchanged, then removes its sentinels.
A test that FLUSHes the shared Redis or drops a database it does not own fails the run.

Summary: each test is tagged with the areas it exercises (SQLite/PostgreSQL, in-process/Redis
queue, browser), from its fixtures and parameters; the tags travel with the reports from xdist
workers, and the end of the run prints a table of outcomes per area and the suite's wall time,
also under -q.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.servers import PG_URL, database_url_for

SHARED_REDIS = os.environ.get("SOCIALDESK_TEST_SHARED_REDIS", "redis://127.0.0.1:6379/0")
AREAS = ("SQLite", "PostgreSQL", "in-process queue", "Redis queue", "browser (Chromium)", "none of these")
OWN_DATABASES = ("socialdesk_test_", "socialdesk_sentinel_")  # made and dropped by test runs
started_key = pytest.StashKey[float]()
sentinels_key = pytest.StashKey["Sentinels"]()


# --- shared data left untouched ---


@dataclass
class Sentinels:
    """What this run planted in the shared services, and what it found there at the start."""

    token: str = field(default_factory=lambda: secrets.token_hex(8))
    redis_key: str | None = None
    pg_database: str | None = None
    pg_databases: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def redis_name(self) -> str:
        return f"socialdesk-test-sentinel:{self.token}"


def plant_redis(sentinels: Sentinels, url: str = SHARED_REDIS) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).set(sentinels.redis_name, sentinels.token, ex=86400)
    except redis.RedisError as error:
        sentinels.notes.append(f"shared Redis {url} not checked (unreachable: {error})")
        return
    sentinels.redis_key = sentinels.redis_name


def check_redis(sentinels: Sentinels, url: str = SHARED_REDIS) -> list[str]:
    """Problems found (none: the sentinel is there with its value); removes the sentinel."""
    import redis

    if sentinels.redis_key is None:
        return []
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        value = client.get(sentinels.redis_key)
        client.delete(sentinels.redis_key)
    except redis.RedisError as error:
        return [f"shared Redis {url} unreachable after the run: {error}"]
    if value != sentinels.token.encode():
        return [f"the tests erased data in the shared Redis {url}: sentinel {sentinels.redis_key} is gone"]
    return []


def _pg_execute(url: str, sql: str, *args: object) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=3)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args or None)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _other_databases(url: str) -> set[str]:
    rows = _pg_execute(url, "SELECT datname FROM pg_database WHERE NOT datistemplate")
    return {name for (name,) in rows if not name.startswith(OWN_DATABASES)}


def plant_postgres(sentinels: Sentinels, url: str = PG_URL) -> None:
    import psycopg2

    name = f"socialdesk_sentinel_{sentinels.token}"
    try:
        sentinels.pg_databases = _other_databases(url)
        _pg_execute(url, f'CREATE DATABASE "{name}"')
    except psycopg2.Error as error:
        sentinels.notes.append(f"PostgreSQL {url} not checked (unreachable: {str(error).strip()})")
        return
    sentinels.pg_database = name
    _pg_execute(database_url_for(url, name), "CREATE TABLE sentinel (token text); INSERT INTO sentinel VALUES (%s)",
                sentinels.token)


def check_postgres(sentinels: Sentinels, url: str = PG_URL) -> list[str]:
    """Problems found (none: the sentinel row and every other database are still there); drops the sentinel."""
    import psycopg2

    if sentinels.pg_database is None:
        return []
    problems = []
    try:
        rows = _pg_execute(database_url_for(url, sentinels.pg_database), "SELECT token FROM sentinel")
        if rows != [(sentinels.token,)]:
            problems.append(f"the tests changed the sentinel database {sentinels.pg_database}: {rows}")
    except psycopg2.Error as error:
        problems.append(f"the sentinel database {sentinels.pg_database} is gone or unreadable: {error}")
    try:
        missing = sentinels.pg_databases - _other_databases(url)
        _pg_execute(url, f'DROP DATABASE IF EXISTS "{sentinels.pg_database}" WITH (FORCE)')
    except psycopg2.Error as error:
        return [*problems, f"PostgreSQL {url} unreachable after the run: {error}"]
    if missing:
        problems.append(f"databases the tests do not own were dropped: {sorted(missing)}")
    return problems


def _is_main_process(config: pytest.Config) -> bool:
    """The pytest process that starts xdist workers (or the only one)."""
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[started_key] = time.monotonic()
    if not _is_main_process(config) or config.option.collectonly:
        return
    sentinels = Sentinels()
    plant_redis(sentinels)
    plant_postgres(sentinels)
    config.stash[sentinels_key] = sentinels


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    sentinels = session.config.stash.get(sentinels_key, None)
    if sentinels is None:
        return
    problems = check_redis(sentinels) + check_postgres(sentinels)
    sentinels.notes += [f"FAILED: {problem}" for problem in problems]
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif sentinels.redis_key or sentinels.pg_database:
        checked = [what for what, done in (("shared Redis " + SHARED_REDIS, sentinels.redis_key),
                                           ("PostgreSQL cluster " + PG_URL.rsplit("/", 1)[0], sentinels.pg_database))
                   if done]
        sentinels.notes.append(f"untouched: {' and '.join(checked)} (sentinels checked after the run)")


# --- what ran, per area ---


def areas_of(item: pytest.Item) -> list[str]:
    """The areas a test exercises, read from its fixtures and parameters."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    names = set(getattr(item, "fixturenames", ()))
    found = []
    database = params.get("database_url")
    if database == "sqlite":
        found.append("SQLite")
    if database == "postgres" or "pg_url" in names:
        found.append("PostgreSQL")
    broker = params.get("broker_url", "redis" if names & {"redis_url", "redis_server"} else None)
    if broker is None and names & {"stack", "desk"}:
        broker = "inprocess"
    if broker == "inprocess":
        found.append("in-process queue")
    if broker == "redis":
        found.append("Redis queue")
    if "chromium" in names:
        found.append("browser (Chromium)")
    return found or ["none of these"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.user_properties.append(("areas", ",".join(areas_of(item))))


def _outcomes(reporter: pytest.TerminalReporter) -> dict[str, tuple[str, list[str]]]:
    """nodeid -> (outcome, areas), a failure in any phase winning over a pass."""
    rank = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 0, "failed": 2, "error": 2}
    seen: dict[str, tuple[str, list[str]]] = {}
    for outcome in rank:
        for report in reporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", None)
            if nodeid is None:
                continue
            areas = dict(getattr(report, "user_properties", ())).get("areas", "none of these").split(",")
            kind = {"xfailed": "skipped", "xpassed": "passed", "error": "failed"}.get(outcome, outcome)
            if nodeid not in seen or rank[outcome] > rank[seen[nodeid][0]]:
                seen[nodeid] = (kind, areas)
    return seen


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    if not _is_main_process(config):
        return
    counts: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    for outcome, areas in _outcomes(terminalreporter).values():
        totals[outcome] += 1
        for area in areas:
            counts[area, outcome] += 1
    write = terminalreporter.write_line
    wall = time.monotonic() - config.stash[started_key]
    workers = getattr(config.option, "numprocesses", None) or 1
    write("")
    write(f"socialdesk suite: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped "
          f"in {int(wall // 60)}m{wall % 60:04.1f}s wall time, {workers} worker(s), "
          f"load average {os.getloadavg()[0]:.1f}")
    write(f"  {'area':<20}{'passed':>8}{'failed':>8}{'skipped':>9}")
    for area in AREAS:
        row = [counts[area, outcome] for outcome in ("passed", "failed", "skipped")]
        write(f"  {area:<20}{row[0]:>8}{row[1]:>8}{row[2]:>9}")
    sentinels = config.stash.get(sentinels_key, None)
    for note in sentinels.notes if sentinels else []:
        write(f"  shared data: {note}", red=note.startswith("FAILED"))
