"""Campaign audience rules (issue 22) at the service level, on SQLite and PostgreSQL: comments are
applied to the inbox as the webhook pipeline would, the campaign engine decides, and the ledger,
the scheduled starts and the dry run are read back. Sends are left to the stack tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import peewee
import pytest

from bot.automation import audience, campaigns
from bot.automation.audience import ActiveHours, AudienceSpec
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.core import events as ev
from bot.core.compose import MessageContent
from bot.core.errors import Invalid
from bot.inbound import inbox
from bot.inbound.contacts import tag_contact
from bot.platform.db import now_ms, transaction
from bot.platform.models import CampaignRun, Channel, Identity, Message, ScheduledJob

PAGE = "9001"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


# --- active hours (pure) ------------------------------------------------------------------------------


def test_active_hours_window_in_its_time_zone_and_days() -> None:
    office = ActiveHours(start="09:00", end="18:00", time_zone="Europe/Paris", days=[0, 1, 2, 3, 4])
    assert audience.is_open(office, _ms("2026-12-02T08:30:00+00:00"))  # Wednesday 09:30 in Paris
    assert not audience.is_open(office, _ms("2026-12-02T07:30:00+00:00"))  # 08:30 in Paris
    assert not audience.is_open(office, _ms("2026-12-05T10:00:00+00:00"))  # Saturday
    friday_night = _ms("2026-12-04T20:00:00+00:00")
    assert audience.next_open(office, friday_night) == _ms("2026-12-07T09:00:00+01:00")  # Monday 09:00
    night = ActiveHours(start="22:00", end="02:00", time_zone="America/New_York", days=[4])  # Friday nights
    assert audience.is_open(night, _ms("2026-12-05T05:30:00+00:00"))  # Saturday 00:30 belongs to Friday
    assert not audience.is_open(night, _ms("2026-12-06T05:30:00+00:00"))  # Sunday 00:30 (Saturday night)
    summer = ActiveHours(start="09:00", end="10:00", time_zone="Europe/Paris")  # DST: UTC+2 in July
    assert audience.next_open(summer, _ms("2026-07-01T12:00:00+00:00")) == _ms("2026-07-02T07:00:00+00:00")


def test_start_due_adds_the_random_delay_then_waits_for_the_window() -> None:
    now = _ms("2026-12-02T16:59:30+00:00")  # 17:59:30 in Paris: the window closes in 30 s
    rules = AudienceSpec(delay_min_seconds=60, delay_max_seconds=120,
                         active_hours=ActiveHours(start="09:00", end="18:00", time_zone="Europe/Paris"))
    due, why = audience.start_due(rules, now)
    assert due == _ms("2026-12-03T09:00:00+01:00") and "random delay" in (why or "") and "active hours" in why
    due, why = audience.start_due(AudienceSpec(delay_min_seconds=5, delay_max_seconds=9), now)
    assert now + 5000 <= due <= now + 9000 and why is not None
    assert audience.start_due(AudienceSpec(), now) == (now, None)


# --- the engine on a database -------------------------------------------------------------------------


@pytest.fixture
def channel(db: peewee.Database) -> Iterator[int]:
    yield Channel.create(platform="facebook", account_id=PAGE, page_id=PAGE, name="Shop", created_at=0).id


def _save(channel_id: int, rules: AudienceSpec, **trigger: object) -> int:
    spec = CampaignSpec(name="Coupon", channel_id=channel_id, is_active=True, audience=rules,
                        trigger=TriggerSpec(**trigger),
                        actions=[ActionSpec(kind="send_message", message=MessageContent(text="Code: SHOES10"))])
    return campaigns.save(spec).id


def _comment(comment_id: str, user: str, at: int | None = None, post: str = f"{PAGE}_1") -> list[int]:
    at = at or now_ms()
    event = ev.CommentAdded(platform="facebook", account_id=PAGE, timestamp=at, created_time=at,
                            comment_id=comment_id, post_id=post, from_id=user, from_name=user, text="I want it")
    with transaction():
        return campaigns.on_comment(inbox.apply(event))


def _dm(user: str, at: int) -> None:
    event = ev.MessageReceived(platform="facebook", account_id=PAGE, timestamp=at, user_id=user,
                               mid=f"m-{user}-{at}", text="hello")
    with transaction():
        inbox.apply(event)


def _reasons(campaign_id: int) -> dict[str, str]:
    runs = CampaignRun.select().where(CampaignRun.campaign == campaign_id)
    return {r.comment_id: r.reason for r in runs}


def test_once_per_person_new_contacts_and_excluded_tags(channel: int) -> None:
    now = now_ms()
    _dm("old-friend", now - 86400_000)  # wrote to the page yesterday
    _dm("blocked", now - 1000)
    blocked = Identity.get(Identity.scoped_id == "blocked")
    tag_contact(blocked.contact_id, "competitor")
    campaign_id = _save(channel, AudienceSpec(once_per_person=True, new_contacts_only=True,
                                              exclude_tags=["competitor"]))
    assert _comment("c1", "newbie", now)  # a private reply queued
    assert not _comment("c2", "newbie", now + 1, post=f"{PAGE}_2")  # same person, another post
    assert not _comment("c3", "old-friend", now)
    assert not _comment("c4", "blocked", now)
    assert _reasons(campaign_id) == {"c1": "matched", "c2": "already_reached_person", "c3": "not_new_contact",
                                     "c4": "not_new_contact"}
    report = campaigns.dry_run(campaigns.spec_of(campaigns.Campaign.get_by_id(campaign_id)))
    assert report.matched == 1 and report.skipped == {"already_reached_person": 1, "not_new_contact": 2}
    other = _save(channel, AudienceSpec(exclude_tags=["competitor"]))  # tags alone, saved afterwards
    report = campaigns.dry_run(campaigns.spec_of(campaigns.Campaign.get_by_id(other)), campaign_id=other)
    assert report.matched == 3 and report.skipped == {"tag_excluded": 1}


def test_random_delay_and_waiting_for_active_hours_are_scheduled_durably(channel: int) -> None:
    delayed = _save(channel, AudienceSpec(delay_min_seconds=30, delay_max_seconds=60))
    before = now_ms()
    assert _comment("d1", "dora") == []  # nothing goes at once
    run = CampaignRun.get((CampaignRun.campaign == delayed) & (CampaignRun.comment_id == "d1"))
    job = ScheduledJob.get(ScheduledJob.dedupe_key == f"run:{run.id}:start")
    assert job.actor == "continue_campaign" and job.args == [run.id, 0]
    assert before + 30_000 <= job.due_at <= now_ms() + 60_000
    assert run.matched and "random delay" in run.detail
    assert not Message.select().where(Message.origin.startswith(f"campaign:{run.id}:")).exists()
    with transaction():
        queued = campaigns.continue_run(run.id, 0)  # what the clock runs when the job comes due
    assert len(queued) == 1 and Message.get_by_id(queued[0]).private_reply_to == "d1"
    with transaction():
        assert campaigns.continue_run(run.id, 0) == []  # a second delivery of the job does nothing


@pytest.mark.parametrize("outside", ["skip", "wait"])
def test_outside_active_hours_skips_or_waits(channel: int, outside: str) -> None:
    closed_now = datetime.now(UTC).hour + 12  # a one-hour window twelve hours away is closed now
    start = f"{closed_now % 24:02d}:00"
    hours = ActiveHours(start=start, end=f"{(closed_now + 1) % 24:02d}:00", time_zone="UTC", outside=outside)
    campaign_id = _save(channel, AudienceSpec(active_hours=hours))
    assert _comment("h1", "hugo") == []
    run = CampaignRun.get(CampaignRun.comment_id == "h1")
    if outside == "skip":
        assert (run.matched, run.reason) == (False, "outside_hours")
        assert campaigns.dry_run(campaigns.spec_of(run.campaign)).skipped == {"outside_hours": 1}
        return
    job = ScheduledJob.get(ScheduledJob.dedupe_key == f"run:{run.id}:start")
    opens = datetime.fromtimestamp(job.due_at / 1000, UTC)
    assert run.matched and f"{opens:%H:%M}" == start and job.due_at > now_ms()
    assert campaigns.dry_run(campaigns.spec_of(run.campaign)).waiting_for_hours == 1
    assert campaign_id


@pytest.mark.parametrize(("rules", "field"), [
    (AudienceSpec(delay_min_seconds=50, delay_max_seconds=10), "audience.delay_max_seconds"),
    (AudienceSpec(delay_max_seconds=99_999), "audience.delay_max_seconds"),
    (AudienceSpec(active_hours=ActiveHours(time_zone="Mars/Olympus")), "audience.active_hours.time_zone"),
    (AudienceSpec(active_hours=ActiveHours(start="25:00")), "audience.active_hours.start"),
    (AudienceSpec(active_hours=ActiveHours(days=[7])), "audience.active_hours.days"),
    (AudienceSpec(active_hours=ActiveHours(outside="later")), "audience.active_hours.outside"),
    (AudienceSpec(exclude_tags=[" "]), "audience.exclude_tags[0]"),
])
def test_bad_audience_rules_are_refused_naming_the_field(rules: AudienceSpec, field: str) -> None:
    with pytest.raises(Invalid) as refused:
        audience.validate(rules)
    assert refused.value.field == field


@pytest.mark.parametrize(("kind", "rules", "field"), [
    ("referral", AudienceSpec(active_hours=ActiveHours()), "audience.active_hours"),
    ("referral", AudienceSpec(delay_max_seconds=60), "audience.delay_max_seconds"),
    ("referral", AudienceSpec(new_contacts_only=True), "audience.new_contacts_only"),
    ("story_mention", AudienceSpec(once_per_person=True), "audience.once_per_person"),
])
def test_rules_a_story_or_referral_campaign_would_ignore_are_refused(channel: int, kind: str, rules: AudienceSpec,
                                                                     field: str) -> None:
    """Instead of being saved and silently ignored; what a referral campaign uses is accepted."""
    if kind == "story_mention":
        Channel.update(platform="instagram").where(Channel.id == channel).execute()
    with pytest.raises(Invalid) as refused:
        _save(channel, rules, kind=kind)
    assert refused.value.field == field
    if kind == "referral":
        assert _save(channel, AudienceSpec(once_per_person=True, exclude_tags=["staff"]), kind=kind)
