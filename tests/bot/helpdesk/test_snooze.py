"""Snooze: status `snoozed` with a durable wake-up; the wake acts only for the snooze it was
scheduled for and once its time has come; lost wake-ups are found by the clock's query."""

from __future__ import annotations

import pytest

from bot.core.errors import Invalid
from bot.helpdesk import snooze
from bot.platform.db import now_ms
from bot.platform.models import Conversation, ScheduledJob, Snooze
from tests.bot.helpdesk.factories import conversation, staff


def status(conversation_id: int) -> str:
    return Conversation.get_by_id(conversation_id).status


def test_a_timed_snooze_is_scheduled_durably_and_wakes_once_due(db) -> None:
    ann, talk = staff("ann@example.com"), conversation()
    until = now_ms() + 3_600_000
    snooze.snooze(talk, until, ann)
    assert status(talk) == "snoozed" and snooze.snoozed_until(talk) == (True, until)
    job = ScheduledJob.get()
    assert (job.actor, job.args, job.due_at) == ("wake_snoozed", [talk, until], until)
    assert snooze.wake(talk, until) is False and status(talk) == "snoozed"  # early: nothing
    past = now_ms() - 1
    Snooze.update(wake_at=past).execute()  # as if that time had come
    assert snooze.wake(talk, until) is False  # a job for another snooze time changes nothing
    assert snooze.wake(talk, past) is True
    assert status(talk) == "open" and Snooze.select().count() == 0


def test_a_wake_up_for_an_earlier_snooze_is_ignored(db) -> None:
    talk = conversation()
    first = now_ms() + 60_000
    snooze.snooze(talk, first, None)
    later = now_ms() + 7_200_000
    snooze.snooze(talk, later, None)  # snoozed again, longer
    Snooze.update(wake_at=later).execute()
    assert snooze.wake(talk, first) is False
    assert status(talk) == "snoozed" and Snooze.select().count() == 1


def test_a_closed_conversation_is_not_reopened_by_a_stale_snooze(db) -> None:
    talk = conversation()
    snooze.snooze(talk, now_ms() + 60_000, None)
    Conversation.update(status="closed").execute()
    Snooze.update(wake_at=now_ms() - 1).execute()
    assert snooze.wake(talk, Snooze.get().wake_at) is False and status(talk) == "closed"


def test_until_the_customer_writes_schedules_nothing(db) -> None:
    talk = conversation()
    assert snooze.snooze(talk, None, None) is None
    assert status(talk) == "snoozed" and snooze.snoozed_until(talk) == (True, None)
    assert ScheduledJob.select().count() == 0
    assert snooze.lost_wakeups(0) == []


def test_lost_wakeups_lists_only_snoozes_overdue_past_the_grace(db) -> None:
    due, fresh, later = conversation("a"), conversation("b"), conversation("c")
    for talk in (due, fresh, later):
        snooze.snooze(talk, now_ms() + 60_000, None)
    now = now_ms()
    Snooze.update(wake_at=now - 60_000).where(Snooze.conversation == due).execute()
    Snooze.update(wake_at=now - 1_000).where(Snooze.conversation == fresh).execute()
    assert snooze.lost_wakeups(10_000) == [(due, now - 60_000)]


@pytest.mark.parametrize("offset", [-1_000, 400 * 24 * 3600 * 1000])
def test_a_time_in_the_past_or_too_far_is_refused(db, offset: int) -> None:
    talk = conversation()
    with pytest.raises(Invalid) as error:
        snooze.snooze(talk, now_ms() + offset, None)
    assert error.value.field == "until"
    assert status(talk) == "open" and Snooze.select().count() == 0
