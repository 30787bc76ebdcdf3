"""Test harness for the sandbox: its HTTP API as a small client, and a webhook receiver that
records every POST and checks its signature over the exact bytes received.

The sandbox itself is the session-wide `sandbox_server` from tests/conftest.py (uvicorn on a
free 127.0.0.1 port); each test resets it and points its webhooks at a fresh receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.servers import LiveServer, wait_until

SECRET = "sandbox-test-secret"
VERSION = "v21.0"
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    signature_ok: bool

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """socialdesk's webhook endpoint as far as the sandbox can tell: answers `status`."""

    secret: str
    status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                given = self.headers.get("X-Hub-Signature-256", "")
                with receiver.lock:
                    receiver.received.append(
                        Received(body, dict(self.headers.items()), hmac.compare_digest(expected, given))
                    )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/meta"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least `count` webhooks arrived; answer them all."""
        wait_until(lambda: len(self.received) >= count, timeout, what=f"{count} webhooks")
        with self.lock:
            return list(self.received)

    def wait_item(self, key: str, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> dict[str, Any]:
        """The first messaging item carrying `key` (and matching `where`). Webhooks caused by a
        Graph call (echoes, receipts) go out after its answer, so their arrival order relative to
        a later control call is not fixed: tests pick items by kind, not by position."""
        found = wait_until(
            lambda: [i for i in self.items() if key in i and where(i)], 10, what=f"a webhook with {key}"
        )
        return found[0]

    def items(self) -> list[dict[str, Any]]:
        """Every messaging item / change received so far, flattened, in arrival order."""
        found = []
        with self.lock:
            bodies = [r.json() for r in self.received]
        for body in bodies:
            for entry in body["entry"]:
                found.extend(entry.get("messaging", []))
                found.extend(entry.get("changes", []))
        return found


class Sandbox:
    """The sandbox's Graph and control APIs over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=20)

    def control(self, path: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/control/{path}", json=body)
        assert response.status_code == 200, f"/control/{path}: {response.status_code} {response.text}"
        return response.json()

    def control_raw(self, path: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/control/{path}", json=body)

    def read(self, path: str, **params: Any) -> Any:
        response = self.http.get(f"/control/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def graph(
        self, method: str, path: str, token: str | None, *, json: Any = None, data: Any = None, **params: Any
    ) -> httpx.Response:
        if token is not None:
            params["access_token"] = token
        return self.http.request(method, f"/graph/{VERSION}/{path}", params=params, json=json, data=data)

    def send(self, token: str, account_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.graph("POST", f"{account_id}/messages", token, json=body)


@dataclass
class World:
    """One page with its Instagram account, one person on each, one post and one media."""

    page_id: str
    ig_id: str
    token: str
    user_token: str
    psid: str
    igsid: str
    post_id: str
    media_id: str


def build_world(sandbox: Sandbox) -> World:
    page = sandbox.control(
        "pages", name="Acme Shoes", instagram={"username": "acme.shoes", "followers_count": 1200}
    )
    psid = sandbox.control("customers", account_id=page["page_id"], name="Jane Doe")["user_id"]
    igsid = sandbox.control(
        "customers", account_id=page["instagram_id"], name="Ana Lima", username="ana.lima"
    )["user_id"]
    post_id = sandbox.control("posts", account_id=page["page_id"], message="Summer sale")["post_id"]
    media_id = sandbox.control("posts", account_id=page["instagram_id"], message="New shoes")["post_id"]
    return World(
        page_id=page["page_id"],
        ig_id=page["instagram_id"],
        token=page["page_token"],
        user_token=page["user_token"],
        psid=psid,
        igsid=igsid,
        post_id=post_id,
        media_id=media_id,
    )


def text_body(recipient: dict[str, str], text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"recipient": recipient, "messaging_type": "RESPONSE", "message": {"text": text}, **extra}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "error" in body, body
    return body["error"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def dm(sandbox: Sandbox, account_id: str, user_id: str, *, ago_ms: int = 0, **extra: Any) -> dict[str, Any]:
    """The person writes (optionally `ago_ms` in the past, to play windows)."""
    return sandbox.control(
        "dm", account_id=account_id, user_id=user_id, text="hi", timestamp_ms=now_ms() - ago_ms, **extra
    )


def comment(sandbox: Sandbox, account_id: str, post_id: str, user_id: str, **extra: Any) -> str:
    return sandbox.control(
        "comment", account_id=account_id, post_id=post_id, user_id=user_id, text="nice", **extra
    )["comment_id"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(SECRET).start()
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server: LiveServer, receiver: Receiver) -> Iterator[Sandbox]:
    client = Sandbox(sandbox_server.url)
    client.control("reset")
    client.control("config", app_secret=SECRET, webhook_url=receiver.url)
    yield client
    client.control("reset")
    client.http.close()


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    return build_world(sandbox)
