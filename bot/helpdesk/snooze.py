"""Snoozing a conversation: it leaves the open list until a time, or until the customer writes.

A snoozed conversation has status `snoozed` (so the inbox's status filter keeps using its
(status, last_message_at) index) and a `Snooze` row saying until when. The wake-up is a durable
`ScheduledJob` (`wake_snoozed`), like a campaign's wait; `wake` acts only when the row still asks
for that very time and it has come, so a job left over from an earlier snooze, or one run twice,
changes nothing. `lost_wakeups` lets the clock find a wake-up whose queue message was lost. A
customer message wakes the conversation in the inbox's store step (`bot.inbound.inbox`).
"""

from __future__ import annotations

from bot.core.errors import Invalid, NotFound
from bot.platform.db import now_ms, transaction
from bot.platform.models import Conversation, Snooze
from bot.platform.scheduler import schedule

SNOOZED = "snoozed"
WAKE_ACTOR = "wake_snoozed"
MAX_SNOOZE_MS = 366 * 24 * 3600 * 1000  # a year: further than that is a typo, not a plan
EARLY_TOLERANCE_MS = 2_000  # a queue message may arrive a little before its due time


def snooze(conversation_id: int, until: int | None, user_id: int | None) -> int | None:
    """Snooze until `until` (ms since the epoch) or, with None, until the customer writes.
    Replaces an earlier snooze. Returns the wake-up time."""
    if Conversation.get_or_none(Conversation.id == conversation_id) is None:
        raise NotFound("conversation", conversation_id)
    now = now_ms()
    if until is not None and not now < until <= now + MAX_SNOOZE_MS:
        raise Invalid("until", "must be a time in the future, within a year")
    with transaction():
        Snooze.delete().where(Snooze.conversation == conversation_id).execute()
        Snooze.insert(conversation=conversation_id, wake_at=until, snoozed_by=user_id, created_at=now).execute()
        Conversation.update(status=SNOOZED).where(Conversation.id == conversation_id).execute()
        if until is not None:
            schedule(WAKE_ACTOR, [conversation_id, until], until, dedupe_key=f"snooze:{conversation_id}:{until}")
    return until


def wake(conversation_id: int, wake_at: int) -> bool:
    """The scheduled wake-up: reopen the conversation if it is still snoozed until `wake_at` and
    that time has come. Returns whether it woke."""
    if now_ms() + EARLY_TOLERANCE_MS < wake_at:
        return False  # early: the clock's `lost_wakeups` finds it again once due
    with transaction():
        row = Snooze.get_or_none((Snooze.conversation == conversation_id) & (Snooze.wake_at == wake_at))
        if row is None:
            return False
        Snooze.delete().where(Snooze.id == row.id).execute()
        woke = Conversation.update(status="open").where(
            (Conversation.id == conversation_id) & (Conversation.status == SNOOZED)).execute()
    return bool(woke)


def clear(conversation_id: int) -> None:
    """Forget the snooze (staff closed or reopened the conversation themselves)."""
    Snooze.delete().where(Snooze.conversation == conversation_id).execute()


def lost_wakeups(grace_ms: int, limit: int = 500) -> list[tuple[int, int]]:
    """(conversation, wake_at) of snoozes due for longer than `grace_ms`: their job should have
    run, so its queue message was lost. Uses the `wake_at` index, whatever the clock's drift."""
    rows = (Snooze.select(Snooze.conversation, Snooze.wake_at)
            .where(Snooze.wake_at.is_null(False) & (Snooze.wake_at < now_ms() - grace_ms))
            .order_by(Snooze.wake_at).limit(limit))
    return [(r.conversation_id, r.wake_at) for r in rows]


def snoozed_until(conversation_id: int) -> tuple[bool, int | None]:
    """(snoozed?, until when; None meaning until the customer writes)."""
    row = Snooze.get_or_none(Snooze.conversation == conversation_id)
    return (row is not None, row.wake_at if row else None)
