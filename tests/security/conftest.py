"""Security test helpers: the stack with tight webhook limits (so a slow sender and a full byte
budget show within a second), and raw HTTP/1.1 sockets, which can do what no polite client
does: announce a body and not send it, or send it a byte at a time."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import make_env
from tests.servers import LiveServer, Stack

READ_SECONDS = 1
INFLIGHT_MIB = 16  # the smallest budget: one body of the largest size
WELL_FORMED_GUESS = "sha256=" + "0" * 64  # plausible signature; only the HMAC can refuse it


@pytest.fixture
def tight_stack(database_url: str, sandbox_server: LiveServer) -> Iterator[Stack]:
    env = make_env(database_url, SOCIALDESK_WEBHOOK_READ_SECONDS=str(READ_SECONDS),
                   SOCIALDESK_WEBHOOK_INFLIGHT_MIB=str(INFLIGHT_MIB))
    with Stack.start(env, sandbox_server) as running:
        yield running


@contextmanager
def raw_post(port: int, *, signature: str | None, length: int | None, sent: bytes = b"",
             timeout: float = 10) -> Iterator[socket.socket]:
    """A webhook POST whose head announces `length` bytes (chunked when None) and whose body so
    far is `sent`; the caller sends the rest, or not."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = "POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if signature is not None:
        head += f"X-Hub-Signature-256: {signature}\r\n"
    head += f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    try:
        sock.sendall(head.encode() + b"\r\n" + sent)
        yield sock
    finally:
        sock.close()


def response_of(sock: socket.socket) -> tuple[int, bytes]:
    """The status and the raw bytes of the answer (head and whatever body came with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(head[9:12]), head + b"\r\n\r\n" + rest


@pytest.fixture
def idle_pg_stack(pg_url: str, sandbox_server: LiveServer) -> Iterator[Stack]:
    """The API on PostgreSQL with no worker running: the test drives the expander itself."""
    from tests.servers import reset_postgres

    reset_postgres(pg_url)
    with Stack.start(make_env(pg_url), sandbox_server, workers=False) as running:
        yield running


class Poison:
    """A real database fault for one kind of row: a trigger refuses to store any inbound event
    whose key holds `poison`, so expanding a delivery carrying one fails every time, in the
    database, as a constraint or a bad value would, with no code patched."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def install(self) -> None:
        if self.stack.settings.is_postgres:
            self._sql("CREATE OR REPLACE FUNCTION sd_poison() RETURNS trigger AS $$ BEGIN "  # %% for psycopg2
                      "RAISE EXCEPTION 'poisoned row %%', NEW.event_key; END $$ LANGUAGE plpgsql",
                      "CREATE TRIGGER sd_poison BEFORE INSERT ON inbound_event FOR EACH ROW "
                      "WHEN (NEW.event_key LIKE '%%poison%%') EXECUTE FUNCTION sd_poison()")
        else:
            self._sql("CREATE TRIGGER sd_poison BEFORE INSERT ON inbound_event "
                      "WHEN NEW.event_key LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")

    def remove(self) -> None:
        self._sql("DROP TRIGGER IF EXISTS sd_poison" + (" ON inbound_event" if self.stack.settings.is_postgres else ""))

    def _sql(self, *statements: str) -> None:
        from bot.platform.db import connection, db

        with connection():
            for statement in statements:
                db.execute_sql(statement)


@pytest.fixture
def poison(stack: Stack) -> Iterator[Poison]:
    made = Poison(stack)
    made.install()
    try:
        yield made
    finally:
        made.remove()


from tests.dashboard.conftest import admin_app, agent_app, desk  # noqa: E402, F401  (the dashboard's fixtures)
