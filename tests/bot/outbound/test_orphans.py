"""Rows a dead sender left `sending` are given back as ambiguous sends (bot/outbound/sendcheck.py
`release_orphans`), but never a live sender's: a row must be unclaimed in two sweeps some seconds
apart (a Redis restart empties the published claims until their holders publish them again)."""

from __future__ import annotations

import peewee

from bot.outbound import sendcheck
from bot.platform.db import now_ms
from bot.platform.models import Channel, Conversation, Message


def sending_row(claimed_ago_ms: int) -> int:
    channel = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    thread = Conversation.create(thread_key="dm:facebook:1:42", kind="messenger", channel=channel, created_at=0)
    return Message.create(channel=channel, conversation=thread, direction="out", author="campaign", text="Hi",
                          status="sending", send_started_at=now_ms() - claimed_ago_ms, idempotency_key="k:1",
                          recipient_id="42", send_kind="direct", occurred_at=0, created_at=0).id


def release(live: set[int] | None, confirm_ms: int) -> list[int]:
    return sendcheck.release_orphans(live, after_ms=30_000, stuck_ms=120_000, confirm_ms=confirm_ms)


def test_an_unclaimed_row_is_released_only_when_a_later_sweep_still_finds_it_unclaimed(db: peewee.Database) -> None:
    row = sending_row(claimed_ago_ms=60_000)
    assert release(set(), confirm_ms=60_000) == []  # first sighting: its holder may be republishing
    assert release({row}, confirm_ms=0) == []  # it was live after all: the sighting is forgotten
    assert release(set(), confirm_ms=60_000) == []  # a new first sighting
    assert release(set(), confirm_ms=0) == [row]  # seen unclaimed again: released
    message = Message.get_by_id(row)
    assert (message.status, message.error_kind) == ("pending", sendcheck.AMBIGUOUS)


def test_a_recent_claim_or_a_live_one_is_never_released(db: peewee.Database) -> None:
    row = sending_row(claimed_ago_ms=5_000)  # shorter than a Graph call may take
    assert release(set(), confirm_ms=0) == []
    Message.update(send_started_at=now_ms() - 60_000).where(Message.id == row).execute()
    assert release({row}, confirm_ms=0) == []
    assert Message.get_by_id(row).status == "sending"


def test_without_the_live_claims_only_a_long_stuck_row_is_released(db: peewee.Database) -> None:
    row = sending_row(claimed_ago_ms=60_000)
    assert release(None, confirm_ms=0) == []
    Message.update(send_started_at=now_ms() - 130_000).where(Message.id == row).execute()
    assert release(None, confirm_ms=0) == [row]
