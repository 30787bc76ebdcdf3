"""Slow clients and oversize bodies do not exhaust the API: while many sockets hold half-sent
bodies (slowloris) and others announce or stream bodies over the limit, normal signed webhooks
are still answered promptly. Bounded: a fixed number of sockets on 127.0.0.1, a time limit."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from api.webhooks import MAX_BODY
from bot.platform.db import connection
from bot.platform.models import Delivery
from tests.bot.meta import payloads as p
from tests.servers import Stack

SLOW_SOCKETS = 150
PROMPT_S = 2.0
# A well-formed but wrong signature: the body is read (a missing or malformed one is refused first).
WELL_FORMED_GUESS = b"0" * 64


@contextmanager
def slow_body(port: int, declared: int, sent: bytes) -> Iterator[socket.socket]:
    """A POST that announces `declared` bytes, sends `sent`, then stalls until closed."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        head = (b"POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"X-Hub-Signature-256: sha256=%s\r\nContent-Length: %d\r\n\r\n" % (WELL_FORMED_GUESS, declared))
        sock.sendall(head + sent)
        yield sock
    finally:
        sock.close()


def status_of(sock: socket.socket) -> int:
    head = sock.recv(64)
    return int(head[9:12])


def test_slowloris_and_oversize_bodies_do_not_starve_normal_requests(stack_redis: Stack) -> None:
    stack = stack_redis
    page_id = stack.page["page_id"]
    port = stack.api.port
    started = time.monotonic()
    with ExitStack() as held:
        slow = [held.enter_context(slow_body(port, 4096, b'{"object":"page","entry":[')) for _ in range(SLOW_SOCKETS)]
        announced = [held.enter_context(slow_body(port, MAX_BODY * 8, b"{")) for _ in range(10)]
        for sock in announced:  # refused from the header alone, without reading the body
            assert status_of(sock) == 413

        answered = []
        for i in range(20):
            sent = time.monotonic()
            body = p.messenger_message(page_id, "95001", f"m_slow_{i}", text=str(i), timestamp=p.T_MS + i)
            assert stack.post_webhook(body).status_code == 200
            answered.append(time.monotonic() - sent)
        assert max(answered) < PROMPT_S, f"normal requests slowed to {max(answered):.2f}s"

        chunked = held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        chunked.sendall(b"POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                        b"X-Hub-Signature-256: sha256=%s\r\n\r\n" % WELL_FORMED_GUESS)
        chunk = b"x" * 1_048_576
        try:
            for _ in range(MAX_BODY // len(chunk) + 2):
                chunked.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server may close the connection as soon as the limit is passed
        assert status_of(chunked) == 413

        assert all(sock.fileno() != -1 for sock in slow)
        assert stack.post_webhook(p.messenger_message(page_id, "95001", "m_slow_last", text="last")).status_code == 200
    with connection():
        assert Delivery.select().count() == 21, "only the complete, signed deliveries were stored"
    assert time.monotonic() - started < 60
