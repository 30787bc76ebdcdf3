"""After an event is applied: who else must react, in a fixed order. Campaigns on comments first
(a comment a campaign answered notifies staff only if its channel asks), then notifications, then
the bot (on messages, postbacks and echoes).
Returns follow-ups to run after the transaction commits; no network calls here."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.automation import (
    assignment,
    campaign_stats,
    campaigns,
    notifications,
    referral_triggers,
    story_triggers,
    triggers,
)
from bot.automation.flows import engine as bot_flows
from bot.core import events as ev
from bot.inbound.inbox import Applied
from bot.outbound import moderation, outbox, outhooks
from bot.platform.models import Identity, Message

BOT_EVENTS = (ev.MessageReceived, ev.Postback, ev.MessageEcho)  # flows step on answers; echoes hand over


@dataclass
class FollowUps:
    """Work to enqueue once the event's transaction has committed."""

    send: list[int] = field(default_factory=list)  # outgoing message ids
    profiles: list[int] = field(default_factory=list)  # identity ids to refresh
    identities: dict[int, Identity] = field(default_factory=dict)  # of those, the rows the events left
    digests: list[tuple[int, int]] = field(default_factory=list)  # (digest id, due at ms)
    hooks: list[int] = field(default_factory=list)  # outgoing webhook deliveries
    moderate: list[int] = field(default_factory=list)  # comment moderation rows (like / hide)
    claimed: dict[int, Message] = field(default_factory=dict)  # of `send`, rows this job inserted claimed

    def extend(self, other: FollowUps) -> None:
        """Add a later event's follow-ups. A person's profile is fetched once per job: each of a
        new customer's messages drained together asks for it (the job's copy of the row says due),
        and a fetch per message cost a Graph call each, or, with Meta unreachable, the client's
        connect retries each (a conversation of 500 waiting messages held its thread 250 s)."""
        self.send += other.send
        self.profiles += [identity for identity in other.profiles if identity not in self.profiles]
        self.identities.update(other.identities)
        self.digests += other.digests
        self.hooks += other.hooks
        self.moderate += other.moderate
        self.claimed.update(other.claimed)


def _woken(applied: Applied) -> list[int]:
    """The customer wrote in a snoozed conversation (`applied.conversation` is the row as it was
    before the message woke it): `conversation.unsnoozed`."""
    if applied.conversation is None or applied.conversation.status != "snoozed":
        return []
    return outhooks.conversation_changed(outhooks.CONVERSATION_UNSNOOZED, applied.conversation.id,
                                         {"reason": "customer_wrote"})


def route(applied: Applied, *, emails_enabled: bool, coalesce_ms: int) -> FollowUps:
    follow = FollowUps(send=list(applied.released))
    if applied.duplicate:
        return follow
    if applied.fetch_profile and applied.identity is not None:
        follow.profiles.append(applied.identity.id)
        follow.identities[applied.identity.id] = applied.identity
    triggers.record_referral(applied)  # before campaigns: a comment's source condition may need it
    triggers.bind_next_post(applied)
    comment = isinstance(applied.event, ev.CommentAdded)
    answered = campaigns.on_comment(applied, source=applied.source) if comment else []  # before the bell
    if applied.customer_message:
        digest = notifications.on_customer_message(applied, emails_enabled=emails_enabled, coalesce_ms=coalesce_ms)
        if digest is not None:
            follow.digests.append((digest, coalesce_ms))
        assignment.on_customer_message(applied)
        if applied.message is not None:
            follow.hooks += outhooks.message_received(applied.message)
        follow.hooks += _woken(applied)
    if isinstance(applied.event, BOT_EVENTS):  # the bot speaks after the parts this answer released
        follow.send += outbox.queue_behind(applied.released, bot_flows.on_event(applied))
    follow.send += story_triggers.on_story(applied)  # Instagram story mentions and replies (issue 22)
    follow.send += referral_triggers.on_referral(applied)  # ref links, Get Started with a ref, ads (issue 22)
    if comment:
        follow.send += answered
        follow.moderate += moderation.requested_here(applied.event.comment_id)  # the comment is new here
        follow.hooks += outhooks.campaigns_fired(applied.event.comment_id)
    if isinstance(applied.event, ev.Postback):
        campaign_stats.record_postback(applied.event)
    return follow
