"""The webhook endpoint under hostile senders (issue 17, point 1), over real sockets: no
signature, no reading; a slow body is cut off; bodies being read share a byte budget per
process; a legitimate 1,000-update batch still goes through; absurd nesting is a 400, here and
on the REST API."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from bot.meta.signature import sign
from bot.platform.db import connection
from bot.platform.models import Delivery, InboundEvent
from tests.api.conftest import make_user
from tests.bot.meta import payloads as p
from tests.security.conftest import READ_SECONDS, WELL_FORMED_GUESS, raw_post, response_of
from tests.servers import Stack, wait_until

MIB = 1024 * 1024


def deliveries() -> int:
    with connection():
        return Delivery.select().count()


@pytest.mark.parametrize(("signature", "says"), [(None, b"missing"), ("sha256=not-hex", b"malformed"),
                                                 ("sha1=" + "0" * 40, b"malformed")])
def test_no_plausible_signature_is_refused_before_the_body(stack: Stack, signature: str | None,
                                                            says: bytes) -> None:
    """A 10 MiB body is announced and never sent: the answer comes from the head alone."""
    with raw_post(stack.api.port, signature=signature, length=10 * MIB, timeout=3) as sock:
        status, answer = response_of(sock)
        assert _closed(sock), "the connection is closed, not kept open to read the unwanted body"
    assert status == 403
    assert says in answer
    assert deliveries() == 0


def test_a_slow_sender_is_cut_off_with_408(tight_stack: Stack) -> None:
    """A body trickled a byte at a time is answered 408 at the deadline, though bytes keep coming."""
    stack = tight_stack
    with raw_post(stack.api.port, signature=WELL_FORMED_GUESS, length=1000, sent=b'{"object":"page"') as sock:
        stop = threading.Event()
        threading.Thread(target=_trickle, args=(sock, stop), daemon=True).start()
        started = time.monotonic()
        status, answer = response_of(sock)
        stop.set()
        assert _closed(sock)
    assert status == 408, answer
    assert time.monotonic() - started < READ_SECONDS + 3
    assert deliveries() == 0


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _trickle(sock: socket.socket, stop: threading.Event) -> None:
    while not stop.wait(0.2):
        try:
            sock.sendall(b" ")
        except OSError:
            return


def test_bodies_being_read_share_a_byte_budget(tight_stack: Stack) -> None:
    """While a 12 MiB body is on its way, a 5 MiB delivery would pass the 16 MiB budget: 503
    (Meta retries). Once the slow body is gone, the same delivery is taken."""
    stack = tight_stack
    page_id = stack.page["page_id"]
    big = p.messenger_message(page_id, "95001", "m_budget", text="big one") | {"padding": "x" * (5 * MIB)}
    with raw_post(stack.api.port, signature=WELL_FORMED_GUESS, length=12 * MIB, sent=b"{" * 1024):
        # A small delivery still fits beside it (and is answered after the big head was read).
        small = p.messenger_message(page_id, "95001", "m_small", text="small one")
        assert stack.post_webhook(small).status_code == 200
        refused = stack.post_webhook(big)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
    wait_until(lambda: stack.post_webhook(big).status_code == 200, 10, what="the budget given back")
    with connection():
        assert Delivery.select().count() == 2


def test_a_thousand_updates_in_one_post_are_taken(stack: Stack) -> None:
    """Meta's largest batch (§1: up to 1000 updates per POST), in ten entries."""
    page_id = stack.page["page_id"]
    entries = [p.entry(page_id, p.T_MS, messaging=[
        p.messaging_item({"id": f"9600{e}"}, {"id": page_id}, p.T_MS + e * 100 + i,
                         message={"mid": f"m_batch_{e}_{i}", "text": f"update {i} " + "x" * 1000})
        for i in range(100)]) for e in range(10)]
    body = p.encode(p.delivery("page", *entries))
    assert len(body) > MIB
    assert stack.post_webhook(body).status_code == 200
    stack.wait(lambda: InboundEvent.select().count() == 1000, 60, what="1000 events")


def test_a_large_body_with_a_wrong_signature_stores_nothing(stack: Stack) -> None:
    body = json.dumps({"object": "page", "entry": [], "padding": "x" * (3 * MIB)}).encode()
    response = stack.post_webhook(body, signature=WELL_FORMED_GUESS)
    assert response.status_code == 403
    assert "does not match" in response.text
    assert deliveries() == 0


DEEP = 5000


def test_deeply_nested_webhook_is_a_400(stack: Stack) -> None:
    body = b'{"object":"page","entry":' + b"[" * DEEP + b"]" * DEEP + b"}"
    response = stack.post_webhook(body, signature=sign(body, stack.settings.meta_app_secret))
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.text
    assert deliveries() == 0


@pytest.mark.parametrize("body", [
    b'{"url":' + b"[" * DEEP + b"]" * DEEP + b"}",
    b'{"url":"\\u0000","events":' + b"[" * DEEP + b"]" * DEEP + b"}",  # the NUL check decodes too
])
def test_deeply_nested_rest_body_is_a_400(stack: Stack, body: bytes) -> None:
    _, token = make_user("admin@example.com", "admin")
    response = stack.http.post(f"{stack.api.url}/api/v1/webhooks", content=body,
                               headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == "The request body is nested too deeply."
