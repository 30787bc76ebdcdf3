"""Campaign audience rules (issue 22): who a matched comment's campaign may answer, and when.

- once per person: a campaign answers one person once, whatever post they comment on;
- new contacts only: the commenter never wrote to the channel nor commented before this comment;
- excluded tags: a contact carrying one of these tags is left alone;
- active hours: a daily window in a time zone (optionally only on some weekdays). Outside it the
  campaign *waits* for the window to open by default -- a marketer expects a lead that comments at
  night to get the coupon in the morning, not never; `outside: "skip"` drops it with a reason;
- a random delay before the first action (between `delay_min_seconds` and `delay_max_seconds`),
  so answers do not look instantaneous; scheduled durably like a campaign's Wait.

`check` decides (reads only) and is shared by the live engine and the dry run; `claim_person`
makes "once per person" hold under concurrency (a unique row); `start_due` says when the run's
first action may go. Meta's 7-day private-reply limit bounds how long a start may be postponed.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from bot.core.errors import Invalid
from bot.platform.db import insert_new, now_ms
from bot.platform.models import CampaignPerson, Comment, ContactTag, Conversation, Identity, Message, Tag

MAX_DELAY_SECONDS = 3600  # a "human-looking" pause, not a schedule: use Wait actions for longer
MAX_EXCLUDED_TAGS = 20
OUTSIDE_CHOICES = ("wait", "skip")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

REASONS = {
    "already_reached_person": "This campaign already answered this person (once per person).",
    "not_new_contact": "The commenter wrote to the page or commented before (new contacts only).",
    "tag_excluded": "The commenter has a tag this campaign excludes.",
    "outside_hours": "The comment came outside the campaign's active hours, set to skip such comments.",
}


class ActiveHours(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A daily window `start`-`end` ("HH:MM", 24 h; end before start spans midnight) in
    `time_zone` (IANA name), on `days` (0 = Monday ... 6 = Sunday; empty = every day)."""

    start: str = "09:00"
    end: str = "18:00"
    time_zone: str = "UTC"
    days: list[int] = []
    outside: str = "wait"  # wait: answer when the window opens; skip: do not answer


class AudienceSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    once_per_person: bool = False
    new_contacts_only: bool = False
    exclude_tags: list[str] = []
    active_hours: ActiveHours | None = None
    delay_min_seconds: int = 0
    delay_max_seconds: int = 0


# --- validation ---------------------------------------------------------------------------------------


def validate(audience: AudienceSpec) -> None:
    """Every rule an audience must satisfy; errors name the field."""
    if len(audience.exclude_tags) > MAX_EXCLUDED_TAGS:
        raise Invalid("audience.exclude_tags", f"at most {MAX_EXCLUDED_TAGS} tags")
    for i, tag in enumerate(audience.exclude_tags):
        if not 0 < len(tag.strip()) <= 200:
            raise Invalid(f"audience.exclude_tags[{i}]", "must be 1 to 200 characters")
    low, high = audience.delay_min_seconds, audience.delay_max_seconds
    if not 0 <= low <= MAX_DELAY_SECONDS:
        raise Invalid("audience.delay_min_seconds", f"must be between 0 and {MAX_DELAY_SECONDS}")
    if not low <= high <= MAX_DELAY_SECONDS:
        raise Invalid("audience.delay_max_seconds", f"must be between the minimum and {MAX_DELAY_SECONDS}")
    if audience.active_hours is not None:
        _validate_hours(audience.active_hours)


def _validate_hours(hours: ActiveHours) -> None:
    for name in ("start", "end"):
        if not _CLOCK.match(getattr(hours, name)):
            raise Invalid(f"audience.active_hours.{name}", "must be a time as HH:MM (24 hours)")
    if hours.start == hours.end:
        raise Invalid("audience.active_hours.end", "must differ from the start")
    try:
        ZoneInfo(hours.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("audience.active_hours.time_zone", "is not a known time zone (e.g. Europe/Paris)") from None
    if any(d not in range(7) for d in hours.days) or len(set(hours.days)) != len(hours.days):
        raise Invalid("audience.active_hours.days", "must be distinct weekdays, 0 (Monday) to 6 (Sunday)")
    if hours.outside not in OUTSIDE_CHOICES:
        raise Invalid("audience.active_hours.outside", f"must be one of {', '.join(OUTSIDE_CHOICES)}")


def normalized(audience: AudienceSpec) -> AudienceSpec:
    tags = list(dict.fromkeys(t.strip() for t in audience.exclude_tags if t.strip()))
    return msgspec.structs.replace(audience, exclude_tags=tags)


# --- deciding (reads only) ----------------------------------------------------------------------------


def check(audience: AudienceSpec, campaign_id: int | None, channel_id: int, from_id: str, comment_id: str,
          at_ms: int) -> str:
    """"matched" or the audience reason why not (see REASONS), for a comment written at `at_ms`."""
    if audience.once_per_person and campaign_id is not None and reached(campaign_id, from_id):
        return "already_reached_person"
    if audience.new_contacts_only and not is_new_contact(channel_id, from_id, comment_id, at_ms):
        return "not_new_contact"
    if audience.exclude_tags and has_tag(channel_id, from_id, audience.exclude_tags):
        return "tag_excluded"
    hours = audience.active_hours
    if hours is not None and hours.outside == "skip" and not is_open(hours, at_ms):
        return "outside_hours"
    return "matched"


def reached(campaign_id: int, from_id: str) -> bool:
    return CampaignPerson.select().where(
        (CampaignPerson.campaign == campaign_id) & (CampaignPerson.person == from_id)).exists()


def is_new_contact(channel_id: int, from_id: str, comment_id: str, at_ms: int) -> bool:
    """No earlier comment by this person on the channel, and no message from them before."""
    earlier_comment = Comment.select().where(
        (Comment.channel == channel_id) & (Comment.from_id == from_id) & (Comment.comment_id != comment_id)
        & (Comment.created_at < at_ms)).exists()
    if earlier_comment:
        return False
    identity = Identity.get_or_none((Identity.channel == channel_id) & (Identity.scoped_id == from_id))
    if identity is None:
        return True
    return not Message.select().join(Conversation).where(
        (Conversation.contact == identity.contact_id) & (Message.direction == "in")
        & (Message.kind != "comment") & (Message.occurred_at < at_ms)).exists()


def has_tag(channel_id: int, from_id: str, tags: list[str]) -> bool:
    identity = Identity.get_or_none((Identity.channel == channel_id) & (Identity.scoped_id == from_id))
    if identity is None:
        return False
    return ContactTag.select().join(Tag).where(
        (ContactTag.contact == identity.contact_id) & (Tag.name.in_(tags))).exists()


def is_open(hours: ActiveHours, at_ms: int) -> bool:
    """Is the window open at `at_ms`? A window spanning midnight belongs to the day it opened."""
    local = datetime.fromtimestamp(at_ms / 1000, ZoneInfo(hours.time_zone))
    start, end, now = _clock(hours.start), _clock(hours.end), local.time()
    if start < end:
        return start <= now < end and _on(hours, local.weekday())
    return (now >= start and _on(hours, local.weekday())) or (now < end and _on(hours, (local.weekday() - 1) % 7))


def next_open(hours: ActiveHours, at_ms: int) -> int:
    """`at_ms` when the window is open, else when it next opens (within a week)."""
    if is_open(hours, at_ms):
        return at_ms
    zone = ZoneInfo(hours.time_zone)
    local = datetime.fromtimestamp(at_ms / 1000, zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        opening = datetime.combine(day, _clock(hours.start), zone)
        if opening.timestamp() * 1000 > at_ms and _on(hours, day.weekday()):
            return int(opening.timestamp() * 1000)
    return at_ms  # no weekday chosen at all cannot pass validation; never wait forever


def _on(hours: ActiveHours, weekday: int) -> bool:
    return not hours.days or weekday in hours.days


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


# --- acting -------------------------------------------------------------------------------------------


def claim_person(campaign_id: int, from_id: str, run_id: int) -> bool:
    """Record that the campaign reached this person; False when another run already did (the
    unique row settles two comments of one person processed at the same time)."""
    return bool(insert_new(CampaignPerson.insert(campaign=campaign_id, person=from_id, run=run_id,
                                                 created_at=now_ms())))


def start_due(audience: AudienceSpec, now: int, rng: random.Random | None = None) -> tuple[int, str | None]:
    """When the run's first action may go, and why it waits (None: now). The random delay comes
    first; a delayed start that falls outside the active hours moves to their opening."""
    due, why = now, []
    if audience.delay_max_seconds > 0:
        seconds = (rng or random).randint(audience.delay_min_seconds, audience.delay_max_seconds)
        due += seconds * 1000
        why.append(f"random delay of {seconds} s")
    hours = audience.active_hours
    if hours is not None and hours.outside == "wait" and not is_open(hours, due):
        due = next_open(hours, due)
        why.append(f"active hours open at {hours.start} {hours.time_zone}")
    return due, ("; ".join(why) or None) if due > now else None
