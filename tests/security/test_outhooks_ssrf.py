"""Outgoing webhooks cannot be pointed at internal services (issue 17, point 4).

Registration over REST refuses every spelling of a loopback, private, link-local, multicast,
reserved or unspecified address; a name that resolved to a public address when it was
registered and to 127.0.0.1 when the delivery runs (DNS rebinding) is refused at delivery, and
the delivery connects to the address it checked; the delivery log keeps status and timing,
never what the receiver answered. `SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE=1` lets an on-premise
receiver in.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot import jobs
from bot.outbound import netguard, outhooks
from bot.platform.db import connection, transaction
from bot.platform.models import HookDelivery
from tests.api.conftest import Api, error_of, make_user
from tests.conftest import make_env
from tests.servers import LiveServer, Stack

PUBLIC = "93.184.215.14"  # a public unicast address (example.com's network); never connected to here

INTERNAL_URLS = [
    "http://127.0.0.1:5432/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0.0.0.0:6379/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://localhost:5432/",
    "http://LOCALHOST./",
    "http://admin.localhost/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://[fd12:3456::1]/",  # IPv6 unique local
    "http://[fe80::1]/",  # IPv6 link-local
    "http://[ff02::1]/",  # IPv6 multicast
]


class Receiver:
    """A receiver on loopback (what an internal service looks like): records requests, answers
    `status` with a body that must never reach the delivery log."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.status = 500

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.requests.append({k.decode(): v.decode() for k, v in scope["headers"]})
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        redirect = [(b"location", b"http://169.254.169.254/latest/meta-data/")] if self.status == 302 else []
        await send({"type": "http.response.start", "status": self.status, "headers": redirect})
        await send({"type": "http.response.body", "body": b"INTERNAL-SECRET user=postgres password=hunter2"})


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, LiveServer]]:
    app = Receiver()
    server = LiveServer(app).start()
    yield app, server
    server.stop()


def _api(stack: Stack) -> Api:
    admin_id, admin_token = make_user("admin@example.com", "admin")
    return Api(stack, {"admin": admin_token}, {"admin": admin_id})


@pytest.fixture
def api(stack: Stack) -> Api:
    return _api(stack)


@pytest.fixture
def on_premise_api(database_url: str, sandbox_server: LiveServer) -> Iterator[Api]:
    env = make_env(database_url, SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE="1")
    with Stack.start(env, sandbox_server) as stack:
        yield _api(stack)


def _deliver(event: str = "message.sent") -> int:
    with connection():
        with transaction():
            (delivery_id,) = outhooks.emit(event, {"id": 1})
        jobs.deliver_outhook.send(delivery_id)
    return delivery_id


def _first_attempt(stack: Stack, delivery_id: int) -> HookDelivery:
    return stack.wait(lambda: HookDelivery.get_or_none((HookDelivery.id == delivery_id)
                                                       & (HookDelivery.attempts == 1)
                                                       & (HookDelivery.status != "sending")),
                      what="the first delivery attempt recorded")


def test_registration_refuses_internal_addresses_in_every_spelling(api: Api) -> None:
    for url in INTERNAL_URLS:
        response = api.post("/webhooks", json={"url": url, "events": ["message.sent"]})
        assert response.status_code == 422, (url, response.text)
        error = error_of(response)
        assert error["field"] == "url" and "SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE" in error["message"], url
    assert api.ok("GET", "/webhooks") == []
    public = api.ok("POST", "/webhooks", 201, json={"url": f"https://{PUBLIC}/hook", "events": ["message.sent"]})
    moved = api.call("PATCH", f"/webhooks/{public['id']}", json={"url": "http://[::1]:8000/"})
    assert moved.status_code == 422 and error_of(moved)["field"] == "url"
    assert api.ok("GET", f"/webhooks/{public['id']}")["url"] == f"https://{PUBLIC}/hook"


def test_a_name_rebound_to_loopback_after_registration_is_refused_at_delivery(
        api: Api, receiver: tuple[Receiver, LiveServer], monkeypatch: pytest.MonkeyPatch) -> None:
    app, server = receiver
    answers = {"hooks.example.test": [PUBLIC]}  # the DNS the worker sees (rebinding attacker's zone)
    monkeypatch.setattr(netguard, "resolve", lambda host, port: answers[host])
    url = f"http://hooks.example.test:{server.port}/hook"
    api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["message.sent", "message.failed"]})

    answers["hooks.example.test"] = ["127.0.0.1"]
    row = _first_attempt(api.stack, _deliver("message.sent"))
    assert row.status == "pending" and row.last_status_code is None
    assert row.last_error.startswith("refused:") and "loopback" in row.last_error

    answers["hooks.example.test"] = [PUBLIC, "127.0.0.1"]  # one bad address among good ones is enough
    row = _first_attempt(api.stack, _deliver("message.failed"))
    assert row.last_error.startswith("refused:") and "127.0.0.1" in row.last_error
    assert app.requests == [], "nothing reached the internal service"


def test_a_delivery_connects_to_the_address_it_checked(receiver: tuple[Receiver, LiveServer]) -> None:
    """Resolve once, check, connect there: the client never looks the name up again (this name
    exists nowhere), and the receiver still sees the name in Host."""
    app, server = receiver
    app.status = 204
    lookups: list[str] = []

    def dns(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("hooks.example.test", server.port)
    with pytest.raises(netguard.BlockedTarget):
        netguard.check_host("hooks.example.test", server.port, allow_private=False, resolver=dns)
    (address,) = netguard.check_host("hooks.example.test", server.port, allow_private=True, resolver=dns)
    with netguard.pinned_client(address, 5) as client:
        assert client.post(f"http://hooks.example.test:{server.port}/x", content=b"{}").status_code == 204
    assert app.requests[0]["host"] == f"hooks.example.test:{server.port}"
    assert lookups == ["hooks.example.test", "hooks.example.test"]


def test_redirects_are_not_followed(receiver: tuple[Receiver, LiveServer]) -> None:
    app, server = receiver
    app.status = 302
    with netguard.pinned_client("127.0.0.1", 5) as client:
        response = client.post(f"{server.url}/x", content=b"{}")
    assert response.status_code == 302 and len(app.requests) == 1


def test_on_premise_receivers_are_allowed_by_setting_and_the_log_keeps_no_answer(
        on_premise_api: Api, receiver: tuple[Receiver, LiveServer]) -> None:
    api = on_premise_api
    app, server = receiver
    endpoint = api.ok("POST", "/webhooks", 201, json={"url": f"{server.url}/hook", "events": ["message.sent"]})
    row = _first_attempt(api.stack, _deliver())
    assert len(app.requests) == 1 and row.last_status_code == 500
    log = api.ok("GET", f"/webhooks/{endpoint['id']}/deliveries")
    assert log[0]["last_status_code"] == 500 and log[0]["last_attempt_at"]
    assert log[0]["last_error"].startswith("HTTP 500, answered in ") and log[0]["last_error"].endswith(" ms")
    assert "INTERNAL-SECRET" not in httpx.get(f"{api.url}/api/v1/webhooks/{endpoint['id']}/deliveries",
                                              headers={"Authorization": f"Bearer {api.tokens['admin']}"}).text
    with connection():
        assert "hunter2" not in str(list(HookDelivery.select().dicts()))
