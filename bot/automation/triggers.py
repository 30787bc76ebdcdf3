"""Where people come from, and the posts campaigns wait for (issue 22).

- **Referral sources.** A person who opens the thread from an m.me / ig.me link with `ref`, taps
  Get Started on such a link (a `postback` carrying `referral`), or clicks a click-to-Messenger /
  Instagram ad (`referral` with `ad_id`, `source: ADS`) has the source recorded on their contact:
  the first one and the latest (`ContactSource`). Meta sends the referral as its own `referral`
  item, or inside the first `message` / `postback` (§2, §12).
- **Source conditions.** A comment campaign can require the commenter to have come from a ref or
  an ad (first, latest or any touch): `SourceCondition`, checked with the other conditions.
- **The next post published.** A campaign scoped to the next post binds, while active, to the
  first post the page publishes after it was armed (saved or activated), from the feed webhook's
  post `add` (§4). Instagram sends no webhook when the account publishes (unconfirmed: none is
  documented), so the scope is Facebook only.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from bot.core import events as ev
from bot.core.errors import Invalid
from bot.inbound.inbox import Applied
from bot.platform.db import now_ms
from bot.platform.models import Campaign, ContactSource, Identity

SOURCE_KINDS = ("ref", "ad")
TOUCHES = ("any", "first", "last")
MAX_SOURCE_CONDITIONS = 5
CLOCK_SLACK_MS = 1000  # Meta's post time is in whole seconds; arming is in ms
MAX_VALUE = 200  # Meta's ref is at most 250 characters; our condition values stay in a CharField

REASONS = {
    "source_mismatch": "The commenter did not come from the ref link or ad the campaign asks for.",
    "next_post_pending": "The campaign waits for the next post to be published; this comment is on another post.",
    "referral_mismatch": "The person arrived from another ref link or ad than the campaign asks for.",
}
MAX_REFERRAL_VALUES = 20


class SourceCondition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The commenter came from ref link `value` (`kind: "ref"`) or ad `value` (`kind: "ad"`), on
    their `first` recorded referral, their `last`, or either (`any`). Compared exactly."""

    kind: str = "ref"
    value: str
    touch: str = "any"


def validate_conditions(conditions: list[SourceCondition]) -> None:
    if len(conditions) > MAX_SOURCE_CONDITIONS:
        raise Invalid("trigger.source_conditions", f"at most {MAX_SOURCE_CONDITIONS} conditions")
    for i, condition in enumerate(conditions):
        field = f"trigger.source_conditions[{i}]"
        if condition.kind not in SOURCE_KINDS:
            raise Invalid(f"{field}.kind", f"must be one of {', '.join(SOURCE_KINDS)}")
        if condition.touch not in TOUCHES:
            raise Invalid(f"{field}.touch", f"must be one of {', '.join(TOUCHES)}")
        if not 0 < len(condition.value.strip()) <= MAX_VALUE:
            raise Invalid(f"{field}.value", f"must be 1 to {MAX_VALUE} characters")


def validate_next_post(platform: str) -> None:
    if platform != "facebook":
        raise Invalid("trigger.next_post", "Meta sends no webhook when an Instagram post is published: "
                                           "choose the posts instead")


def validate_referral_filter(kind: str, refs: list[str], ad_ids: list[str]) -> None:
    """A referral campaign's filters: at most MAX_REFERRAL_VALUES refs and ad ids of sane length;
    other triggers have none."""
    for field, values in (("trigger.refs", refs), ("trigger.ad_ids", ad_ids)):
        if values and kind != "referral":
            raise Invalid(field, "applies only to the trigger \"someone arrives from a link or an ad\"")
        if len(values) > MAX_REFERRAL_VALUES:
            raise Invalid(field, f"at most {MAX_REFERRAL_VALUES} values")
        if any(not 0 < len(v.strip()) <= MAX_VALUE for v in values):
            raise Invalid(field, f"each value must be 1 to {MAX_VALUE} characters")
    if any(not v.strip().isdigit() for v in ad_ids):
        raise Invalid("trigger.ad_ids", "an ad id is digits (Meta's ad id, as in Ads Manager)")


def referral_matches(refs: list[str], ad_ids: list[str], referral: ev.ReferralInfo) -> bool:
    """The referral passes the campaign's filters: its ref is one of `refs` or its ad one of
    `ad_ids` (exact); with no filters, any referral that names a ref or an ad."""
    if not (refs or ad_ids):
        return bool(referral.ref or referral.ad_id)
    return (referral.ref or "") in {r.strip() for r in refs} or (referral.ad_id or "") in {a.strip() for a in ad_ids}


# --- recording referrals ---------------------------------------------------------------------------


def referral_of(event: ev.Event) -> ev.ReferralInfo | None:
    """The referral an event carries: a bare `referral`, or one inside a message or postback."""
    if isinstance(event, ev.Referred | ev.MessageReceived | ev.Postback):
        return event.referral
    return None


def record_referral(applied: Applied) -> None:
    """Record where the person came from on their contact: the earliest and the latest referral
    by Meta's timestamps (deliveries may arrive out of order, §1). A referral with neither ref nor
    ad id (a plain thread opening) says nothing and is skipped."""
    referral = referral_of(applied.event)
    if applied.duplicate or referral is None or applied.identity is None:
        return
    if not (referral.ref or referral.ad_id):
        return
    at = applied.event.timestamp
    fields = {"ref": _cut(referral.ref), "ad_id": _cut(referral.ad_id), "source": _cut(referral.source)}
    last = {f"last_{k}": v for k, v in fields.items()}
    first = {f"first_{k}": v for k, v in fields.items()}
    ContactSource.insert(contact=applied.identity.contact_id, first_at=at, last_at=at, **first, **last) \
        .on_conflict_ignore().execute()
    mine = ContactSource.contact == applied.identity.contact_id
    ContactSource.update(last_at=at, **last).where(mine & (ContactSource.last_at <= at)).execute()
    ContactSource.update(first_at=at, **first).where(mine & (ContactSource.first_at > at)).execute()  # out of order


def _cut(value: str | None) -> str | None:
    return value[:250] if value else None


def source_of(channel_id: int, from_id: str | None) -> dict[str, str]:
    """The commenter's recorded referrals as {"first_ref", "last_ref", "first_ad", "last_ad"}."""
    identity = Identity.get_or_none((Identity.channel == channel_id) & (Identity.scoped_id == from_id)) \
        if from_id else None
    row = ContactSource.get_or_none(ContactSource.contact == identity.contact_id) if identity else None
    if row is None:
        return {}
    values = {"first_ref": row.first_ref, "last_ref": row.last_ref, "first_ad": row.first_ad_id,
              "last_ad": row.last_ad_id}
    return {k: v for k, v in values.items() if v}


def source_holds(conditions: list[SourceCondition], source: Mapping[str, str]) -> bool:
    """Every condition holds on the recorded sources (pure: used live and in the dry run)."""
    return all(_holds(c, source) for c in conditions)


def _holds(condition: SourceCondition, source: Mapping[str, str]) -> bool:
    touches = ("first", "last") if condition.touch == "any" else (condition.touch,)
    wanted = condition.value.strip()
    return any(source.get(f"{touch}_{condition.kind}") == wanted for touch in touches)


# --- the next post published ---------------------------------------------------------------------


def arm(campaign_id: int) -> None:
    """Start waiting for the next post (on save or activation) unless a post is already bound."""
    Campaign.update(armed_at=now_ms()).where(
        (Campaign.id == campaign_id) & Campaign.next_post & Campaign.bound_post_id.is_null()).execute()


def bind_next_post(applied: Applied) -> list[int]:
    """Bind every active campaign of the channel waiting for the next post to this post; the
    first post wins (the update only takes campaigns still unbound). Returns the bound ids."""
    event = applied.event
    if applied.duplicate or not isinstance(event, ev.PostPublished):
        return []
    waiting = list(Campaign.select(Campaign.id).where(
        (Campaign.channel == applied.channel.id) & Campaign.is_active & Campaign.next_post
        & Campaign.bound_post_id.is_null() & (Campaign.armed_at <= event.timestamp + CLOCK_SLACK_MS)))
    bound = []
    for campaign in waiting:
        if Campaign.update(bound_post_id=event.post_id).where(
                (Campaign.id == campaign.id) & Campaign.bound_post_id.is_null()).execute():
            bound.append(campaign.id)
    return bound


def watches(all_posts: bool, post_ids: list[str], next_post: bool, bound: str | None, post_id: str) -> str | None:
    """None when the campaign's post scope covers `post_id`, else the reason code."""
    if next_post:
        return None if bound == post_id else ("next_post_pending" if bound is None else "post_not_watched")
    if not all_posts and post_id not in post_ids:
        return "post_not_watched"
    return None
