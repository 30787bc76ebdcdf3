"""One odd signed delivery cannot stall the rest (issue 17, point 2): what Meta cannot send is
refused at the cost of one row; a delivery that keeps failing is retried alone, then
quarantined with its reason, shown to admins (REST) and retried on request; the deliveries
behind it are read meanwhile; two expanders never work the same delivery."""

from __future__ import annotations

import time

import psycopg2
import pytest

from bot.inbound import ingest
from bot.meta.parse import MAX_UPDATES
from bot.platform import queue
from bot.platform.db import connection, db
from bot.platform.models import Delivery, IgnoredItem, InboundEvent, Message
from tests.api.conftest import make_user
from tests.bot.meta import payloads as p
from tests.security.conftest import Poison
from tests.servers import Stack, wait_until

PROMPT_S = 5.0


def test_a_million_entries_cost_one_row_and_delay_nobody(stack: Stack) -> None:
    page_id = stack.page["page_id"]
    huge = b'{"object":"page","entry":[' + b",".join([b'{"id":"1"}'] * 1_000_000) + b"]}"
    assert stack.post_webhook(huge).status_code == 200
    sent = time.monotonic()
    normal = p.messenger_message(page_id, "97000", "m_after_huge", text="still here")
    assert stack.post_webhook(normal).status_code == 200
    stack.wait(lambda: Message.get_or_none(Message.mid == "m_after_huge"), PROMPT_S, what="the normal message")
    assert time.monotonic() - sent < PROMPT_S
    refused = stack.wait(lambda: Delivery.get_or_none((Delivery.status == "processed") & (Delivery.ignored == 1)),
                         what="the huge delivery refused")
    items = list(IgnoredItem.select().where(IgnoredItem.delivery == refused.id))
    assert len(items) == 1
    assert "1000000 entries" in items[0].reason


def test_one_entry_with_too_many_items_is_refused_whole(stack: Stack) -> None:
    page_id = stack.page["page_id"]
    items = [p.messaging_item({"id": "97001"}, {"id": page_id}, p.T_MS + i, message={"mid": f"m_over_{i}"})
             for i in range(MAX_UPDATES + 1)]
    assert stack.post_webhook(p.delivery("page", p.entry(page_id, p.T_MS, messaging=items))).status_code == 200
    done = stack.wait(lambda: Delivery.get_or_none(Delivery.status == "processed"), what="the delivery expanded")
    assert (done.events, done.ignored) == (0, 1)
    assert "items in one entry" in IgnoredItem.get(IgnoredItem.delivery == done.id).reason
    assert InboundEvent.select().count() == 0


def test_a_failing_delivery_is_quarantined_shown_and_retried(stack: Stack, poison: Poison) -> None:
    page_id = stack.page["page_id"]
    _, admin = make_user("admin@example.com", "admin")
    _, agent = make_user("agent@example.com", "agent")
    stack.stop_workers()  # the three arrive together, so the first expansion takes them as one batch
    for user_id, mid in (("97001", "m_before"), ("97002", "m_poison"), ("97003", "m_behind")):
        body = p.messenger_message(page_id, user_id, mid, text=mid)
        assert stack.post_webhook(body).status_code == 200
    stack.start_workers()
    for mid in ("m_before", "m_behind"):
        stack.wait(lambda mid=mid: Message.get_or_none(Message.mid == mid), PROMPT_S, what=f"{mid} read")

    held = stack.wait(lambda: Delivery.get_or_none(Delivery.status == "quarantined"), 40, what="quarantine")
    assert Delivery.select().where(Delivery.status == "quarantined").count() == 1
    assert held.attempts == ingest.MAX_ATTEMPTS
    assert "poisoned row" in held.reason
    listed = _rest(stack, "GET", "/deliveries/quarantined", admin)
    assert listed.status_code == 200
    assert [(d["id"], d["attempts"]) for d in listed.json()] == [(held.id, ingest.MAX_ATTEMPTS)]
    assert "poisoned row" in listed.json()[0]["reason"]
    assert _rest(stack, "GET", "/deliveries/quarantined", agent).status_code == 403
    assert _rest(stack, "POST", f"/deliveries/{held.id}/retry", agent).status_code == 403

    poison.remove()  # the cause fixed
    assert _rest(stack, "POST", f"/deliveries/{held.id}/retry", admin).status_code == 202
    stack.wait(lambda: Message.get_or_none(Message.mid == "m_poison"), 10, what="the retried delivery read")
    assert _rest(stack, "GET", "/deliveries/quarantined", admin).json() == []
    again = _rest(stack, "POST", f"/deliveries/{held.id}/retry", admin)
    assert again.status_code == 404


def _rest(stack: Stack, method: str, path: str, token: str):  # noqa: ANN202 - an httpx.Response
    return stack.http.request(method, f"{stack.api.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


def test_a_delivery_whose_expanders_died_is_quarantined(stack: Stack) -> None:
    """Three workers were killed while expanding it (out of memory, say): each attempt was
    counted before the work, so the next expander sets it aside instead of dying a fourth time."""
    page_id = stack.page["page_id"]
    body = p.encode(p.messenger_message(page_id, "97004", "m_killer", text="boom"))
    with connection():
        [killer] = ingest.store_deliveries([body])
        Delivery.update(attempts=ingest.MAX_ATTEMPTS).where(Delivery.id == killer).execute()
    assert stack.post_webhook(p.messenger_message(page_id, "97005", "m_next", text="next")).status_code == 200
    stack.wait(lambda: Message.get_or_none(Message.mid == "m_next"), PROMPT_S, what="the next delivery")
    held = stack.wait(lambda: Delivery.get_or_none((Delivery.id == killer) & (Delivery.status == "quarantined")),
                      what="the killer quarantined")
    assert "worker stopped while expanding" in held.reason
    assert not Message.select().where(Message.mid == "m_killer").exists()


def test_two_expanders_never_take_the_same_delivery(idle_pg_stack: Stack) -> None:
    """Even if the expander lease were lost, a delivery row one expander holds is skipped by
    another (PostgreSQL row lock, SKIP LOCKED)."""
    stack = idle_pg_stack
    body = p.encode(p.messenger_message(stack.page["page_id"], "97006", "m_once", text="once"))
    with connection():
        [delivery_id] = ingest.store_deliveries([body])
    other = psycopg2.connect(stack.settings.database_url)
    try:
        with other.cursor() as cursor:  # the first expander, mid-transaction
            # NO KEY UPDATE: conflicts with the expander's FOR UPDATE, but not with the key-share
            # lock of its event inserts, so without the claim this test fails instead of hanging.
            cursor.execute("SELECT id FROM delivery WHERE id = %s FOR NO KEY UPDATE", (delivery_id,))
            with connection(), db.atomic():
                db.execute_sql("SET LOCAL lock_timeout = '2s'")  # waiting on the row fails, not hangs
                assert ingest.expand_deliveries([delivery_id]) == []
                assert InboundEvent.select().count() == 0
        other.rollback()
    finally:
        other.close()
    with connection():
        [key] = ingest.expand_deliveries([delivery_id])
        assert key.endswith(":97006")


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_the_expander_lease_lives_as_long_as_its_holder(broker_url: str) -> None:
    """Renewed while its holder runs (however long past its TTL), gone within one TTL once the
    holder stops renewing (a killed process), and then free for the next expander."""
    queue.setup_broker(broker_url)
    client = queue.current_broker().client
    with queue.live_lock("test:expand", ttl_ms=600) as lease:
        assert lease is not None
        key = lease.key
        lowest = [client.pttl(key)]

        def renewed() -> bool:  # the remaining time went up again: someone pushed the expiry back
            remaining = client.pttl(key)
            lowest[0] = min(lowest[0], remaining)
            return remaining > lowest[0] + 100

        wait_until(renewed, 2, interval=0.01, what="a renewal")
        assert client.exists(key)
        with queue.live_lock("test:expand", ttl_ms=600) as second:
            assert second is None
        lease._stop.set()  # the holder dies: nothing renews the lease any more
        wait_until(lambda: not client.exists(key), 2, what="the lease expiring")
        with queue.live_lock("test:expand", ttl_ms=600) as successor:
            assert successor is not None
