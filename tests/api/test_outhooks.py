"""Outgoing webhooks: admins register endpoints over the REST API; each event reaches a real
receiver over HTTP as JSON signed with the endpoint's secret; a receiver answering 500 sees the
same delivery again with backoff, and the delivery log shows what happened."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot import jobs
from bot.outbound import outhooks
from bot.platform.db import connection, transaction
from bot.platform.models import HookDelivery, Message
from tests.api.conftest import Api, error_of
from tests.conftest import make_env
from tests.servers import LiveServer, Stack, free_port, wait_until

DEAD_URL = f"http://127.0.0.1:{free_port()}/nobody-listens"  # never a real host, even if a delivery is tried


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An integration's endpoint: records every POST and answers the next scripted status (200
    once the script is used up)."""

    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.requests.append(Received(headers, body, status))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"boom"})

    def events(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.headers.get("x-socialdesk-event") == name]


def verified(secret: str, request: Received) -> bool:
    """What the receiver's own code does: HMAC-SHA256 over the raw bytes, constant-time compare."""
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers.get("x-socialdesk-signature-256", ""))


@pytest.fixture
def stack(database_url: str, sandbox_server: LiveServer) -> Iterator[Stack]:
    """The usual stack, allowed to deliver to the receivers these tests run on loopback (an
    on-premise setting: the default refuses private targets, tests/security/test_outhooks_ssrf.py)."""
    env = make_env(database_url, SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE="1")
    with Stack.start(env, sandbox_server) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    app = Receiver()
    server = LiveServer(app).start()
    yield app, f"{server.url}/hooks/socialdesk"
    server.stop()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outhooks, "RETRY_DELAYS_MS", (150, 300))


def emit_and_send(event: str, payload: dict, subject: str | None = None) -> list[int]:
    with connection():
        with transaction():
            ids = outhooks.emit(event, payload, subject=subject)
        for delivery_id in ids:
            jobs.deliver_outhook.send(delivery_id)
    return ids


def enqueue(ids: list[int]) -> None:
    for delivery_id in ids:
        jobs.deliver_outhook.send(delivery_id)


# --- managing endpoints over REST -------------------------------------------------------------------------


def test_register_list_change_rotate_delete(api: Api) -> None:
    created = api.ok("POST", "/webhooks", 201, json={"url": DEAD_URL, "description": "CRM",
                                                      "events": ["message.received", "message.received"]})
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert (created["url"], created["events"], created["is_active"]) == (DEAD_URL, ["message.received"], True)
    assert api.ok("GET", "/webhooks") == [created]
    assert api.ok("GET", f"/webhooks/{created['id']}") == created and created["description"] == "CRM"
    assert api.ok("GET", "/webhooks/events") == list(outhooks.EVENTS)
    paused = api.ok("PATCH", f"/webhooks/{created['id']}",
                    json={"is_active": False, "events": list(outhooks.EVENTS)})
    assert paused["is_active"] is False and paused["events"] == list(outhooks.EVENTS)
    assert paused["url"] == created["url"] and paused["secret"] == created["secret"]
    rotated = api.ok("POST", f"/webhooks/{created['id']}/rotate-secret")
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    with connection():
        assert rotated["secret"] not in str(list(outhooks.HookEndpoint.select().dicts()))  # encrypted at rest
    assert api.call("DELETE", f"/webhooks/{created['id']}").status_code == 204
    assert api.get(f"/webhooks/{created['id']}").status_code == 404


def test_endpoint_validation_names_the_field(api: Api) -> None:
    for body, field_name in [
        ({"url": "ftp://crm.example/x", "events": ["message.sent"]}, "url"),
        ({"url": "https://", "events": ["message.sent"]}, "url"),
        ({"url": DEAD_URL, "events": []}, "events"),
        ({"url": DEAD_URL, "events": ["message.deleted"]}, "events[0]"),
        ({"url": DEAD_URL}, "events"),
        ({"events": ["message.sent"]}, "url"),
        ({"url": DEAD_URL, "events": ["message.sent"], "description": "d" * 300}, "description"),
    ]:
        response = api.post("/webhooks", json=body)
        assert response.status_code == 422, (body, response.text)
        assert error_of(response)["field"] == field_name, body
    created = api.ok("POST", "/webhooks", 201, json={"url": DEAD_URL, "events": ["message.sent"]})
    bad = api.call("PATCH", f"/webhooks/{created['id']}", json={"url": "mailto:me@example.com"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "url"
    for method, path in [("GET", "/webhooks/99"), ("PATCH", "/webhooks/99"), ("DELETE", "/webhooks/99"),
                         ("POST", "/webhooks/99/rotate-secret"), ("GET", "/webhooks/99/deliveries")]:
        assert api.call(method, path, json={} if method == "PATCH" else None).status_code == 404, path


# --- deliveries ---------------------------------------------------------------------------------------------

# Snooze, team and attribute events are triggered, received and checked in tests/api/test_teams.py
# (the same signing path); this test covers every other event.
HELPDESK_EVENTS = {"conversation.team_changed", "conversation.snoozed", "conversation.unsnoozed",
                   "contact.attributes_changed"}


def test_each_event_arrives_signed_and_verifiable(api: Api, receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    endpoint = api.ok("POST", "/webhooks", 201, json={"url": url, "events": list(outhooks.EVENTS)})
    secret = endpoint["secret"]
    api.ok("POST", "/campaigns", 201, json={
        "name": "Prices", "channel_id": api.ok("GET", "/channels")[0]["id"], "is_active": True,
        "trigger": {"keywords_any": ["price"]},
        "actions": [{"kind": "send_message", "message": {"text": "49 EUR"}}]})

    dm_id = api.dm("Hello there")
    reply = api.ok("POST", f"/conversations/{dm_id}/messages", 201, json={"message": {"text": "Hi!"}})[0]
    note = api.ok("POST", f"/conversations/{dm_id}/notes", 201, json={"text": "Staff only"})
    merged = api.ok("POST", f"/contacts/{api.conversation(dm_id).contact_id}/merge", 201,
                    json={"merged_id": api.conversation(api.dm("Me on Instagram", instagram=True)).contact_id})
    comment_conversation, comment_id = api.comment("price?")
    api.post(f"/conversations/{comment_conversation}/messages",
             json={"message": {"text": "first"}, "reply_type": "private"})  # the campaign already used it
    refused = api.stack.wait(lambda: Message.get_or_none(Message.status == "refused"), what="a refused reply")
    api.stack.wait(lambda: Message.get_or_none((Message.id == reply["id"]) & (Message.status == "sent")),
                   what="the staff reply sent")
    # Emit as the core does after each fact (idempotent: the core may have emitted them already).
    with connection():
        inbound = Message.get((Message.conversation == dm_id) & (Message.direction == "in"))
        with transaction():
            ids = outhooks.message_received(inbound) + outhooks.message_outcome(reply["id"])
            ids += outhooks.message_outcome(refused.id) + outhooks.campaigns_fired(comment_id)
    enqueue(ids)

    here = [name for name in outhooks.EVENTS if name not in HELPDESK_EVENTS]
    for name in here:
        wait_until(lambda name=name: app.events(name), what=f"a {name} delivery")
    received = {name: app.events(name) for name in here}
    for name, requests in received.items():
        for request in requests:
            assert verified(secret, request), name
            assert request.headers["content-type"] == "application/json"
            assert request.event["event"] == name and request.event["id"].startswith("evt_")
            assert request.headers["x-socialdesk-delivery"].isdigit()
    assert [r.event["data"]["id"] for r in received["conversation.created"]].count(dm_id) == 1
    assert [r.event["data"]["text"] for r in received["message.received"]].count("Hello there") == 1
    assert [r.event["data"]["id"] for r in received["message.sent"]].count(reply["id"]) == 1
    failed = [r.event["data"] for r in received["message.failed"] if r.event["data"]["id"] == refused.id]
    assert len(failed) == 1 and failed[0]["status"] == "refused" and failed[0]["reason"]
    fired = [r.event["data"] for r in received["campaign.fired"]]
    assert [f["comment_id"] for f in fired] == [comment_id] and fired[0]["campaign"] == "Prices"
    assert [r.event["data"]["id"] for r in received["note.created"]] == [note["id"]]
    assert [r.event["data"]["id"] for r in received["contact.merged"]] == [merged["id"]]
    assert not verified("whsec_someone_else", received["message.sent"][0])


def test_a_second_private_reply_refused_at_insert_is_reported_as_failed(api: Api,
                                                                      receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["message.failed"]})
    conversation, _ = api.comment("price?")
    for text in ("first", "second"):  # Meta allows one private reply per comment
        api.post(f"/conversations/{conversation}/messages", json={"message": {"text": text}}
                 | {"reply_type": "private"})
    refused = api.stack.wait(lambda: Message.get_or_none(Message.status == "refused"), what="a refused reply")
    with connection():  # recorded with the refusal, no manual emit: the clock's sweep delivers it
        recorded = [d.id for d in HookDelivery.select().where(HookDelivery.event == "message.failed")]
    assert len(recorded) == 1
    enqueue(recorded)
    wait_until(lambda: app.events("message.failed"), what="the message.failed delivery")
    [failed] = app.events("message.failed")
    assert failed.event["data"]["id"] == refused.id and failed.event["data"]["status"] == "refused"


def test_a_receiver_answering_500_sees_retries_then_success(api: Api, receiver: tuple[Receiver, str],
                                                           fast_retries: None) -> None:
    app, url = receiver
    app.answers = [500, 503]
    endpoint = api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["message.received"]})
    (delivery_id,) = emit_and_send("message.received", {"text": "retry me"}, subject="m-1")
    wait_until(lambda: len(app.requests) == 3, what="three attempts")
    assert [r.status for r in app.requests] == [500, 503, 200]
    assert len({r.body for r in app.requests}) == 1  # the same bytes, the same signature, every time
    assert all(verified(endpoint["secret"], r) for r in app.requests)
    assert {r.headers["x-socialdesk-delivery"] for r in app.requests} == {str(delivery_id)}
    log = api.stack.wait(lambda: [d for d in api.ok("GET", f"/webhooks/{endpoint['id']}/deliveries")
                                  if d["status"] == "delivered"], what="delivered in the log")
    assert (log[0]["id"], log[0]["attempts"], log[0]["last_status_code"]) == (delivery_id, 3, 200)
    assert log[0]["next_attempt_at"] is None and log[0]["delivered_at"] and log[0]["last_error"] is None
    assert json.loads(log[0]["body"])["data"] == {"text": "retry me"}


def test_a_receiver_that_keeps_failing_is_given_up_on(api: Api, receiver: tuple[Receiver, str],
                                                     fast_retries: None) -> None:
    app, url = receiver
    app.answers = [500] * 10
    endpoint = api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["campaign.fired"]})
    emit_and_send("campaign.fired", {"campaign_id": 1})
    path = f"/webhooks/{endpoint['id']}/deliveries"
    failed = api.stack.wait(lambda: api.ok("GET", path, params={"status": "failed"}), what="given up")
    assert (failed[0]["attempts"], failed[0]["last_status_code"]) == (3, 500)
    assert "500" in failed[0]["last_error"] and failed[0]["next_attempt_at"] is None
    assert len(app.requests) == 3


def test_an_unreachable_receiver_keeps_the_row_pending_with_the_error(api: Api) -> None:
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    endpoint = api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["message.sent"]})
    (delivery_id,) = emit_and_send("message.sent", {"id": 1})
    row = api.stack.wait(lambda: HookDelivery.get_or_none((HookDelivery.id == delivery_id)
                                                           & (HookDelivery.attempts == 1)
                                                           & (HookDelivery.status == "pending")),
                         what="the first attempt recorded")
    assert row.last_status_code is None and "Connect" in row.last_error
    assert row.next_attempt_at > row.last_attempt_at + 5_000  # backoff, not a hot loop
    log = api.ok("GET", f"/webhooks/{endpoint['id']}/deliveries")
    assert log[0]["status"] == "pending" and log[0]["next_attempt_at"] == row.next_attempt_at


def test_emit_is_once_per_subject_and_skips_paused_endpoints(api: Api,
                                                              receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    live = api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["message.sent", "message.failed"]})
    paused = api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["message.sent"]})
    api.ok("PATCH", f"/webhooks/{paused['id']}", json={"is_active": False})
    first = emit_and_send("message.sent", {"id": 7}, subject="7")
    assert emit_and_send("message.sent", {"id": 7}, subject="7") == []
    assert emit_and_send("conversation.created", {"id": 1}) == []  # nobody subscribed
    assert len(first) == 1
    wait_until(lambda: len(app.requests) == 1, what="one delivery")
    with connection():
        assert HookDelivery.select().where(HookDelivery.endpoint == live["id"]).count() == 1
        assert not HookDelivery.select().where(HookDelivery.endpoint == paused["id"]).exists()
    with pytest.raises(ValueError):
        with connection():
            outhooks.emit("message.deleted", {})


def test_rotated_secret_signs_new_deliveries(api: Api, receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    endpoint = api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["message.received"]})
    rotated = api.ok("POST", f"/webhooks/{endpoint['id']}/rotate-secret")["secret"]
    emit_and_send("message.received", {"n": 1})
    wait_until(lambda: app.requests, what="a delivery")
    assert verified(rotated, app.requests[0]) and not verified(endpoint["secret"], app.requests[0])


def test_lost_queue_messages_are_found_again(api: Api) -> None:
    api.ok("POST", "/webhooks", 201, json={"url": DEAD_URL, "events": ["message.sent"]})
    with connection():
        with transaction():
            (delivery_id,) = outhooks.emit("message.sent", {"id": 1})  # committed, never enqueued
        HookDelivery.update(next_attempt_at=HookDelivery.next_attempt_at - 60_000).where(
            HookDelivery.id == delivery_id).execute()
        assert outhooks.due_deliveries(grace_ms=10_000) == [delivery_id]
        assert outhooks.verify("s", b"{}", outhooks.sign("s", b"{}"))
        assert not outhooks.verify("s", b"{}", None)
