"""The drain job: a conversation's events applied in order under its lock, by whoever holds it."""

from __future__ import annotations

import peewee
import pytest

from bot import jobs
from bot.core import events as ev
from bot.inbound import inbox, ingest
from bot.platform import queue
from bot.platform.models import Channel, InboundEvent


def _message(mid: str, timestamp: int) -> ev.MessageReceived:
    return ev.MessageReceived(platform=ev.Platform.FACEBOOK, account_id="1", timestamp=timestamp, user_id="42",
                              mid=mid, text=f"message {mid}")


def _applied(row: InboundEvent) -> jobs.FollowUps:
    assert inbox.mark_applied(row.id, None)
    return jobs.FollowUps()


def test_a_drain_that_finds_the_conversation_locked_knocks_and_the_holder_applies_its_event(
        db: peewee.Database, broker_url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second message of a burst is stored while the first one's drain holds the thread: the
    drain handed out for it knocks and leaves, and the holder applies it before it returns (it
    used to come back 150 ms later through the queue's delayed messages)."""
    queue.setup_broker(broker_url)
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 1)], delivery_id=None, source="webhook")
    sent: list[tuple] = []
    monkeypatch.setattr(jobs.drain_conversation, "send", lambda *args, **options: sent.append((args, options)))
    read = inbox.pending_events

    def burst(conversation: str, limit: int) -> list[InboundEvent]:
        batch = read(conversation, limit)
        if not sent:  # the first look of the holder: the second message comes, and its drain
            ingest.store_events([_message("m2", 2)], delivery_id=None, source="webhook")
            jobs._drain(conversation, jobs.FollowUps())
        return batch

    monkeypatch.setattr(inbox, "pending_events", burst)
    monkeypatch.setattr(jobs, "apply_event", _applied)  # what applying does is not this test's
    jobs._drain(key, jobs.FollowUps())
    assert sent == [((key,), {"delay_ms": jobs.HOLDER_GONE_MS})]  # the knocker's own look, should the holder die
    assert [row.status for row in InboundEvent.select().order_by(InboundEvent.occurred_at)] == ["applied", "applied"]
