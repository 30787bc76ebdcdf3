"""Real servers for tests: uvicorn in a thread on a free loopback port, the booted socialdesk
stack, and waiting on conditions (never sleeping for a fixed time)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.meta.graph import tls_context


def truthy(value: str | None) -> bool:
    """How CI systems say yes: CI=1, CI=true, CI=yes (any case)."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


CI = truthy(os.environ.get("CI"))
# The cluster tests create their own databases on; its maintenance database is only connected to.
PG_URL = os.environ.get("SOCIALDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def require(service: str, available: bool, why: str) -> None:
    """Fail under CI, skip elsewhere, when a real service the test needs is missing."""
    if available:
        return
    if CI:
        pytest.fail(f"{service} is required under CI but is unreachable: {why}")
    pytest.skip(f"{service} unreachable ({why}); these tests run under CI")


def pg_available() -> bool:
    import psycopg2

    try:
        psycopg2.connect(PG_URL, connect_timeout=3).close()
        return True
    except psycopg2.Error:
        return False


def create_test_database(base_url: str) -> str:
    """A database of this test process's own on the cluster of `base_url` (concurrent runs and
    xdist workers must not truncate each other's tables); returns its URL. Dropped by
    `drop_test_database`; the random part means a leftover of a killed run is never reused."""
    import psycopg2

    name = f"socialdesk_test_{os.getpid()}_{secrets.token_hex(4)}"
    conn = psycopg2.connect(base_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return database_url_for(base_url, name)


def database_url_for(base_url: str, name: str) -> str:
    """`base_url` with its database replaced by `name` (query string, e.g. sslmode, kept)."""
    head, _, query = base_url.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


def drop_test_database(base_url: str, url: str) -> None:
    import psycopg2

    name = url.partition("?")[0].rsplit("/", 1)[1]
    assert name.startswith("socialdesk_test_"), f"refusing to drop {name!r}: not a test database"
    conn = psycopg2.connect(base_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def reset_postgres(url: str) -> None:
    """Empty every socialdesk table (schema kept) and restart the ids, so each test starts clean.

    Only the tables that hold rows are emptied, with DELETE in foreign-key order: a TRUNCATE of
    every table creates new files for each table and index (about 50 ms a table on a loaded
    2-core machine, over a second per test), while most tests write to a handful of tables."""
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        tables = _filled_tables(cur)
        for table in _children_first(cur, tables):
            cur.execute(f'DELETE FROM "{table}"')
        cur.execute("SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
                    "WHERE schemaname = 'public' AND last_value IS NOT NULL")


def _filled_tables(cur: Any) -> set[str]:
    """The tables with at least one row, in one round trip."""
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migration'")
    tables = [row[0] for row in cur.fetchall()]
    if not tables:
        return set()
    cur.execute(" UNION ALL ".join(f"""(SELECT '{t}' FROM "{t}" LIMIT 1)""" for t in tables))
    return {row[0] for row in cur.fetchall()}


def _children_first(cur: Any, tables: set[str]) -> list[str]:
    """`tables` ordered so that a table comes before every table it references (self-references
    are checked at the end of a DELETE and need no order); a cycle keeps its order and is
    emptied by the TRUNCATE fallback of the last resort."""
    cur.execute("SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid <> confrelid")
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in cur.fetchall():
        child, parent = child.strip('"'), parent.strip('"')
        if child in tables and parent in tables:
            parents[child].add(parent)
    order: list[str] = []
    while parents:
        leaves = [t for t in parents if not any(t in ps for c, ps in parents.items() if c != t)]
        if not leaves:  # a cycle: let PostgreSQL sort it out
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in parents) + " CASCADE")
            break
        for table in sorted(leaves):
            order.append(table)
            del parents[table]
    return order


class RedisServer:
    """A redis-server of the tests' own: a free loopback port, its files in `workdir`, no
    persistence. Tests flush it freely, kill it and start it again on the same port; a shared
    Redis is never touched."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self._process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "redis.log").open("ab")
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_until(lambda: self.answers() or self._process.poll() is not None, 15, what="private redis-server")
        assert self._process.poll() is None, (self.workdir / "redis.log").read_text()[-2000:]
        return self

    def kill(self) -> None:
        """SIGKILL: whatever was queued or in flight is gone (as when a Redis host dies)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False


def redis_server_available() -> bool:
    return shutil.which("redis-server") is not None


def reset_redis(url: str) -> None:
    """Empty the tests' private Redis (never a shared one: `redis_url` is always a RedisServer)."""
    import redis

    redis.Redis.from_url(url).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        wait_until(lambda: self._server.started, 15, what=f"server on {self.url}")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


_APPS: dict[str, Any] = {}


def _api_app(create_app: Callable[..., Any], settings: Any) -> Any:
    """One API app per test process, served by each test's own server: building the Litestar app
    (route registration) costs about as much as the rest of a stack's start, and the app holds
    nothing of a test's own (handlers read the settings and database `runtime.boot` set)."""
    if "api" not in _APPS:
        _APPS["api"] = create_app(settings, mount_sandbox=False)
    return _APPS["api"]


@dataclass
class Stack:
    """socialdesk booted in this process against real services, with one connected page."""

    settings: Any
    api: LiveServer
    sandbox: LiveServer
    page: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    _worker: Any = None
    _clock: Any = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30, verify=tls_context()))

    @classmethod
    @contextmanager
    def start(cls, env: dict[str, str], sandbox: LiveServer, *, connect: bool = True,
              instagram: bool = True, workers: bool = True) -> Iterator[Stack]:
        from api.app import create_app
        from bot.platform import runtime
        from bot.platform.db import connection
        from bot.platform.settings import load_settings

        api_port = free_port()
        env = {"GRAPH_API_URL": f"{sandbox.url}/graph", "SOCIALDESK_API_PORT": str(api_port), **env}
        settings = load_settings(env)
        runtime.boot(settings, migrate=True)
        api = LiveServer(_api_app(create_app, settings), port=api_port).start()
        stack = cls(settings=settings, api=api, sandbox=sandbox, env=env)
        stack.control("reset")
        stack.control("config", app_secret=settings.meta_app_secret, webhook_url=f"{api.url}/webhooks/meta")
        if workers:
            stack.start_workers()
        try:
            if connect:
                with connection():
                    stack.connect_page(instagram=instagram)
            yield stack
        finally:
            stack.stop_workers()
            api.stop()
            stack.http.close()

    def start_workers(self) -> None:
        """Worker threads and the clock, as `socialdesk run` starts them."""
        from bot.clock import Clock
        from bot.platform import queue

        self._worker = queue.start_inprocess_worker(4)
        self._clock = Clock(interval=0.2).start()

    def stop_workers(self) -> None:
        if self._clock is not None:
            self._clock.stop()
            self._worker.stop()
            self._clock = self._worker = None

    def restart_workers(self) -> None:
        """Stop every worker, drop the in-process queue (what a process restart loses), start again."""
        from bot.platform import queue

        self.stop_workers()
        queue.setup_broker(self.settings.redis_url, prefix=self.settings.redis_prefix)
        self.start_workers()

    def connect_page(self, name: str = "Acme Shoes", instagram: bool = True) -> dict:
        from bot import commands

        body: dict[str, Any] = {"name": name}
        if instagram:
            body["instagram"] = {"username": "acme.shoes", "followers_count": 1200}
        page = self.control("pages", **body)
        commands.connect_page(page["page_id"], name, page["page_token"], instagram_id=page.get("instagram_id"),
                              instagram_username="acme.shoes" if instagram else None)
        self.page = page
        return page

    def control(self, path: str, **body: Any) -> dict:
        """POST to the sandbox's control API (playing a customer, configuring faults)."""
        response = self.http.post(f"{self.sandbox.url}/control/{path}", json=body)
        assert response.status_code < 300, f"sandbox /control/{path}: {response.status_code} {response.text}"
        return response.json()

    def sandbox_get(self, path: str, **params: Any) -> Any:
        response = self.http.get(f"{self.sandbox.url}/control/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post_webhook(self, body: dict | bytes, *, secret: str | None = None,
                     signature: str | None = None) -> httpx.Response:
        """POST a webhook to the API as Meta would, signed with the app secret unless told otherwise."""
        from bot.meta.signature import sign

        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signature is None:
            signature = sign(raw, secret or self.settings.meta_app_secret)
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return self.http.post(f"{self.api.url}/webhooks/meta", content=raw, headers=headers)

    @staticmethod
    def wait(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
        """Wait for a database condition (each poll in its own connection)."""
        from bot.platform.db import connection

        def check() -> Any:
            with connection():
                return predicate()

        return wait_until(check, timeout, what=what)
