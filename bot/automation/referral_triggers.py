"""Campaigns started by a referral (issue 22, `trigger.kind = "referral"`): the person arrives from
an m.me / ig.me link with `ref`, taps Get Started on such a link, or clicks a click-to-Messenger /
Instagram ad (`referral` with `ad_id`), on Facebook or Instagram. Filters: any of `trigger.refs`,
any of `trigger.ad_ids` (both empty: any referral naming a ref or an ad), plus the word,
attribute and source filters every campaign has.

Meta delivers a referral as its own `referral` item (a known thread reopened from a link or an
ad), inside a `postback` (Get Started on a ref link) or inside the person's first `message` (an ad
whose thread starts with a message), §2/§3/§12. The referral itself opens the 24-hour window
(§7: "24 hours after the person's last message, postback, quick reply or referral"), so the
campaign answers in the person's DM thread with `messaging_type: RESPONSE`, checked by the one
send policy before the call like every DM. On Instagram, Meta lists `referral` among the messaging
events (§3) but does not restate that it opens the window there: unconfirmed, we assume the same
rule as Messenger (the sandbox opens it on both).

The guarantees of story campaigns hold (bot/automation/story_triggers.py, whose action runner this
reuses): one `CampaignRun` per (campaign, event), keyed `ref:<event key>` in its `comment_id`
column, so a redelivered referral fires nothing twice; `post_id` holds the ad id or the ref.
Of the audience rules, "once per person" (a person who opens the link twice is welcomed once)
and the excluded tags apply; active hours and delays do not (the answer is due while the person
is in the thread).
"""

from __future__ import annotations

from dataclasses import replace

from bot.automation import audience as aud
from bot.automation import campaigns, story_triggers, triggers
from bot.automation.campaigns import CampaignSpec, DryRunReport, DryRunSample
from bot.automation.context import person_context
from bot.core import events as ev
from bot.core.compose import render
from bot.inbound.inbox import Applied
from bot.platform.db import now_ms
from bot.platform.models import Campaign, CampaignRun, Channel, Conversation, Identity, InboundEvent

KIND = "referral"
KEY_PREFIX = "ref:"
OPENED = "message in the person's DM thread (the referral opened the 24-hour window)"
EVENT_KINDS = ("Referred", "Postback", "MessageReceived")  # `inbound_event.kind`: the event's class
MAX_SCANNED = 20000  # the dry run reads at most this many recent stored DM events


def arrival(event: ev.Event) -> ev.ReferralInfo | None:
    """The referral this event brings when it names a ref or an ad (a bare thread opening says
    nothing about where the person came from)."""
    referral = triggers.referral_of(event)
    return referral if referral is not None and (referral.ref or referral.ad_id) else None


def on_referral(applied: Applied) -> list[int]:
    """Run the channel's referral campaigns once for this event (inside its transaction);
    returns outgoing message ids ready to send."""
    referral = arrival(applied.event)
    if referral is None or applied.duplicate or applied.conversation is None:
        return []
    event = applied.event
    ready: list[int] = []
    for campaign in Campaign.select().where((Campaign.channel == applied.channel) & (Campaign.trigger_kind == KIND)):
        spec = campaigns.spec_of(campaign)
        reason = decide(spec, campaign.is_active, applied.channel.id, event, referral, applied.identity)
        if reason == "matched":
            reason = audience(spec, campaign.id, applied.channel.id, event.user_id)
        run = campaigns._record_run(campaign, KEY_PREFIX + event.event_key, _post_id(referral), reason,
                                    applied.source)
        if run is not None and reason == "matched" and _claimed(spec, run, event.user_id):
            ready += story_triggers._run_actions(run, spec, applied.conversation, OPENED)
    return ready


def decide(spec: CampaignSpec, active: bool, channel_id: int, event: ev.Event, referral: ev.ReferralInfo,
           identity: Identity | None) -> str:
    """The reason code, by the same `campaigns.match` as every campaign, then the ref / ad filter."""
    user_id = getattr(event, "user_id", "")
    facts = story_triggers._facts(spec, _text(event), user_id, identity)
    if spec.trigger.source_conditions:
        facts = replace(facts, source=triggers.source_of(channel_id, user_id))
    reason = campaigns.match(spec.trigger, active, facts)
    if reason == "matched" and not triggers.referral_matches(spec.trigger.refs, spec.trigger.ad_ids, referral):
        return "referral_mismatch"
    return reason


def audience(spec: CampaignSpec, campaign_id: int | None, channel_id: int, user_id: str) -> str:
    """"matched", or why the campaign's audience rules leave this person out."""
    rules = spec.audience
    if rules.once_per_person and campaign_id is not None and aud.reached(campaign_id, user_id):
        return "already_reached_person"
    if rules.exclude_tags and aud.has_tag(channel_id, user_id, rules.exclude_tags):
        return "tag_excluded"
    return "matched"


def _claimed(spec: CampaignSpec, run: CampaignRun, user_id: str) -> bool:
    """"Once per person" is claimed by a unique row, so two referrals of one person processed
    at once still fire once; the loser's ledger row says so."""
    if not spec.audience.once_per_person or aud.claim_person(run.campaign_id, user_id, run.id):
        return True
    CampaignRun.update(matched=False, reason="already_reached_person").where(CampaignRun.id == run.id).execute()
    return False


def _text(event: ev.Event) -> str | None:
    """What a word filter reads: the message's text, or the tapped button's title."""
    if isinstance(event, ev.MessageReceived):
        return event.text
    return event.title if isinstance(event, ev.Postback) else None


def _post_id(referral: ev.ReferralInfo) -> str:
    return (referral.ad_id or referral.ref or "")[:250]


# --- dry run ------------------------------------------------------------------------------------------


def dry_run(spec: CampaignSpec, *, campaign_id: int | None = None, days: int = campaigns.DRY_RUN_DAYS,
            samples: int = 5) -> DryRunReport:
    """What a referral campaign would have done on the stored referrals of the last `days` days
    (the inbound events as received), decided by the same rules as the live engine.
    `comments` counts referrals; `eligible_for_private_reply` counts matched ones whose person is
    still inside the 24-hour window. Sends nothing."""
    spec = campaigns.normalized(spec)
    campaigns.validate(spec)
    handled = _handled(campaign_id)
    skipped: dict[str, int] = {}
    matched: list[tuple[str, ev.Event, Conversation]] = []
    arrivals = _stored_arrivals(Channel.get_by_id(spec.channel_id), now_ms() - days * 86400 * 1000)
    reached: set[str] = set()  # people this dry run already answered (once per person)
    for key, event, referral, conversation in arrivals:
        reason = "already_handled" if key in handled else _dry_reason(spec, campaign_id, event, referral,
                                                                      conversation, reached)
        if reason == "matched":
            matched.append((key, event, conversation))
        else:
            skipped[reason] = skipped.get(reason, 0) + 1
    return DryRunReport(comments=len(arrivals), matched=len(matched), skipped=skipped,
                        eligible_for_private_reply=sum(1 for *_, c in matched if story_triggers._window_open(c)),
                        samples=[_sample(spec, key, event, c) for key, event, c in matched[:samples]],
                        matched_comment_ids=[KEY_PREFIX + key for key, *_ in matched])


def _dry_reason(spec: CampaignSpec, campaign_id: int | None, event: ev.Event, referral: ev.ReferralInfo,
                conversation: Conversation, reached: set[str]) -> str:
    """The live engine's decision, with "once per person" also counting this dry run's answers."""
    person = conversation.identity.scoped_id
    reason = decide(spec, True, spec.channel_id, event, referral, conversation.identity)
    if reason == "matched":
        reason = audience(spec, campaign_id, spec.channel_id, person)
    if reason == "matched" and spec.audience.once_per_person and person in reached:
        return "already_reached_person"
    if reason == "matched":
        reached.add(person)
    return reason


def _handled(campaign_id: int | None) -> set[str]:
    if campaign_id is None:
        return set()
    rows = CampaignRun.select(CampaignRun.comment_id).where(
        (CampaignRun.campaign == campaign_id) & CampaignRun.comment_id.startswith(KEY_PREFIX))
    return {r.comment_id.removeprefix(KEY_PREFIX) for r in rows}


Arrival = tuple[str, ev.Event, ev.ReferralInfo, Conversation]


def _stored_arrivals(channel: Channel, since_ms: int) -> list[Arrival]:
    """The channel's applied DM events since then that brought a referral, oldest first, with
    the person's DM conversation."""
    rows = (InboundEvent.select(InboundEvent.event_key, InboundEvent.payload).where(
        InboundEvent.conversation_key.startswith(f"dm:{channel.platform}:{channel.account_id}:")
        & InboundEvent.kind.in_(EVENT_KINDS) & (InboundEvent.status == "applied")
        & (InboundEvent.occurred_at >= since_ms)).order_by(InboundEvent.occurred_at.desc()).limit(MAX_SCANNED))
    found: list[Arrival] = []
    for row in rows:
        event = ev.decode(bytes(row.payload))
        referral = arrival(event)
        conversation = _conversation(channel, getattr(event, "user_id", "")) if referral else None
        if referral is not None and conversation is not None:
            found.append((row.event_key, event, referral, conversation))
    return found[::-1]


def _conversation(channel: Channel, user_id: str) -> Conversation | None:
    return (Conversation.select().join(Identity).where(
        (Identity.channel == channel.id) & (Identity.scoped_id == user_id)
        & Conversation.kind.in_(("messenger", "instagram"))).first())


def _sample(spec: CampaignSpec, key: str, event: ev.Event, conversation: Conversation) -> DryRunSample:
    context = person_context(conversation, conversation.channel)
    texts = [render(a.message.text, context) for a in spec.actions
             if a.kind == "send_message" and a.message and a.message.text]
    identity = conversation.identity
    return DryRunSample(comment_id=KEY_PREFIX + key, comment_text=_text(event),
                        author=identity.name or identity.username, messages=texts)


def dry_run_any(spec: CampaignSpec, **options: int | None) -> DryRunReport:
    """The dry run of any campaign: referrals here, story events and comments elsewhere."""
    if spec.trigger.kind == KIND:
        return dry_run(spec, **options)  # type: ignore[arg-type]
    return story_triggers.dry_run_any(spec, **options)
