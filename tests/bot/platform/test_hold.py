"""A conversation's drain stops when its Redis lease is lost (Redis flushed, a stall longer than the
TTL): another worker may hold the lock by then, and two drains side by side could apply one
conversation's events out of order. (SQLite's drains hold a lease; PostgreSQL's transactions
hold the conversation's key themselves: tests/bot/test_jobs.py.)"""

from __future__ import annotations

from contextlib import contextmanager

import peewee
import pytest

from bot import jobs
from bot.core import events as ev
from bot.inbound import ingest
from bot.platform.models import Channel, InboundEvent
from bot.platform.queue import Hold, Lease


def test_a_hold_turns_false_when_its_lease_is_lost() -> None:
    lease = Lease("conversation", 5_000)
    lease.held = True
    hold = Hold(True, lease)
    assert hold and hold.held
    lease.held = False
    assert hold and not hold.held
    assert not Hold(False) and not Hold(False).held
    assert Hold(True).held  # the in-process queue's lock has no lease to lose


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_drain_whose_lease_is_lost_applies_nothing_more_and_comes_back(db: peewee.Database,
                                                                         monkeypatch) -> None:  # noqa: ANN001
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    event = ev.CommentAdded(platform=ev.Platform.FACEBOOK, account_id="1", timestamp=1, comment_id="1_2",
                            post_id="1_post", from_id="42", from_name="Ada", text="Hi")
    [key] = ingest.store_events([event], delivery_id=None, source="webhook")
    lease = Lease(key, 5_000)
    lease.held = False  # lost while the drain held it

    @contextmanager
    def lost(_key: str, **_options: object):  # noqa: ANN202
        yield Hold(True, lease)

    again: list[tuple] = []
    monkeypatch.setattr(jobs, "key_lock", lost)
    monkeypatch.setattr(jobs.drain_conversation, "send", lambda *args, **kwargs: again.append(args))
    jobs._drain(key, jobs.FollowUps())
    assert InboundEvent.get().status == "pending" and again == [(key,)]
