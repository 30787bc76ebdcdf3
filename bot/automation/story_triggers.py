"""Campaigns started by Instagram stories (issue 22): a person mentions the account in their
story (`trigger.kind = "story_mention"`) or answers one of the account's stories
(`"story_reply"`), optionally filtered by keywords and custom attributes like a comment campaign.

Both arrive as Instagram DMs (meta-platform.md §3, §12): a mention as a message with a
`story_mention` attachment (usually without text, so a keyword filter rarely lets one through),
a story reply as a message with `reply_to.story` and the person's text. Being messages the person
sent, both open the 24-hour window (§12: "a message the person sends opens it"; Meta does not
say it of mentions in so many words, which we take as unconfirmed but implied), so the campaign
answers in the person's DM thread with `messaging_type: RESPONSE`, checked by the one send policy
before the call like every DM.

The guarantees of comment campaigns hold: the decision is `campaigns.match` (the same keyword
and attribute rules, and the same reasons in the ledger); one `CampaignRun` per (campaign,
story event), keyed `story:<mid>` in its `comment_id` column (unique per campaign), so a
redelivered event fires nothing twice; `post_id` holds the story's id when Meta gives one.
Actions: send a message (tracked links and buttons, as in comment campaigns) and add a tag;
`campaigns.validate` refuses the others for story triggers.
"""

from __future__ import annotations

from bot.automation import campaigns
from bot.automation.campaigns import CampaignSpec, CommentFacts, DryRunReport, DryRunSample
from bot.automation.context import attribute_values, person_context
from bot.core import events as ev
from bot.core.compose import render, render_content
from bot.inbound import pauses
from bot.inbound.contacts import tag_contact
from bot.inbound.inbox import Applied
from bot.outbound import outbox
from bot.outbound.sendpolicy import SendKind
from bot.platform.db import now_ms
from bot.platform.models import Campaign, CampaignAction, CampaignRun, Conversation, Identity, Message

KEY_PREFIX = "story:"
WINDOW_MS = 24 * 3600 * 1000


def story_kind(event: ev.Event) -> str | None:
    """"story_mention", "story_reply" or None for any other event."""
    if not isinstance(event, ev.MessageReceived) or event.platform != "instagram":
        return None
    if any(a.type == "story_mention" for a in event.attachments):
        return "story_mention"
    if event.reply_to_story_id or event.reply_to_story_url:
        return "story_reply"
    return None


def on_story(applied: Applied) -> list[int]:
    """Run the channel's story campaigns of this event's kind once for it (inside the event's
    transaction); returns outgoing message ids ready to send."""
    kind = story_kind(applied.event)
    if kind is None or applied.duplicate or applied.conversation is None:
        return []
    event = applied.event
    ready: list[int] = []
    for campaign in Campaign.select().where((Campaign.channel == applied.channel) & (Campaign.trigger_kind == kind)):
        spec = campaigns.spec_of(campaign)
        reason = campaigns.match(spec.trigger, campaign.is_active, _facts(spec, event.text, event.user_id,
                                                                          applied.identity))
        run = campaigns._record_run(campaign, KEY_PREFIX + event.mid, event.reply_to_story_id or "", reason,
                                    applied.source)
        if run is not None and reason == "matched":
            ready += _run_actions(run, spec, applied.conversation)
    return ready


def _facts(spec: CampaignSpec, text: str | None, user_id: str, identity: Identity | None) -> CommentFacts:
    """The story event as `campaigns.match` reads a comment: any post, top level, by a person."""
    wanted = bool(spec.trigger.attribute_conditions)
    attributes = attribute_values(identity.contact_id if identity else None) if wanted else None
    return CommentFacts(post_id="", parent_id=None, text=text, by_account=False, from_id=user_id,
                        attributes=attributes)


STORY_OPENED = "message in the person's DM thread (the story opened the 24-hour window)"


def _run_actions(run: CampaignRun, spec: CampaignSpec, conversation: Conversation,
                 why: str = STORY_OPENED) -> list[int]:
    """Tag, or queue the DM through the outbox (the send policy checks it before the call);
    `why` is the ledger's detail for a queued DM (what opened the window)."""
    context = person_context(conversation, conversation.channel)
    ready: list[int] = []
    actions = CampaignAction.select().where(CampaignAction.campaign == run.campaign_id).order_by(
        CampaignAction.position)
    for action in actions:
        action_spec = spec.actions[action.position]
        if action_spec.kind == "add_tag":
            tag_contact(conversation.contact_id, action_spec.tag or "")
            campaigns._step(run, action, "done", f"tag {action_spec.tag}")
        elif pauses.dm_paused(conversation.channel, conversation.identity.scoped_id):
            campaigns._step(run, action, "refused", campaigns.PAUSED_DETAIL)
        else:
            ready += _send(run, action, action_spec, conversation, context, why)
    return ready


def _send(run: CampaignRun, action: CampaignAction, spec: campaigns.ActionSpec, conversation: Conversation,
          context: dict[str, object], why: str) -> list[int]:
    key = f"campaign:{run.id}:{action.id}"
    content = campaigns._track_links(render_content(spec.message, context), run, action)
    content = campaigns._tag_payloads(content, run, action)
    draft = outbox.Draft(key=key, kind=SendKind.DIRECT, content=content, author="campaign",
                         conversation_id=conversation.id, origin=key)
    ready = outbox.add(draft)
    campaigns._step(run, action, "queued", why)
    return ready


# --- dry run ------------------------------------------------------------------------------------------


def dry_run(spec: CampaignSpec, *, campaign_id: int | None = None, days: int = campaigns.DRY_RUN_DAYS,
            samples: int = 5) -> DryRunReport:
    """What a story campaign would have done on the stored story events of the last `days` days,
    decided by the same `campaigns.match` as the live engine. `comments` counts story events of
    the trigger's kind; `eligible_for_private_reply` counts matched ones whose person is still
    inside the 24-hour window (a DM could go now). Sends nothing."""
    spec = campaigns.normalized(spec)
    campaigns.validate(spec)
    handled = _handled(campaign_id)
    skipped: dict[str, int] = {}
    matched: list[Message] = []
    events = _stored_events(spec.channel_id, spec.trigger.kind, now_ms() - days * 86400 * 1000)
    for message in events:
        identity = message.conversation.identity
        reason = "already_handled" if message.mid in handled else campaigns.match(
            spec.trigger, True, _facts(spec, message.text, identity.scoped_id, identity))
        if reason == "matched":
            matched.append(message)
        else:
            skipped[reason] = skipped.get(reason, 0) + 1
    return DryRunReport(comments=len(events), matched=len(matched), skipped=skipped,
                        eligible_for_private_reply=sum(1 for m in matched if _window_open(m.conversation)),
                        samples=[_sample(spec, m) for m in matched[:samples]],
                        matched_comment_ids=[KEY_PREFIX + m.mid for m in matched])


def _handled(campaign_id: int | None) -> set[str]:
    if campaign_id is None:
        return set()
    rows = CampaignRun.select(CampaignRun.comment_id).where(
        (CampaignRun.campaign == campaign_id) & CampaignRun.comment_id.startswith(KEY_PREFIX))
    return {r.comment_id.removeprefix(KEY_PREFIX) for r in rows}


def _stored_events(channel_id: int, kind: str, since_ms: int) -> list[Message]:
    """Inbound DMs of the channel since then that are story events of `kind`."""
    rows = (Message.select().join(Conversation).where(
        (Message.channel == channel_id) & (Message.direction == "in") & Message.mid.is_null(False)
        & (Message.occurred_at >= since_ms) & Conversation.identity.is_null(False)).order_by(Message.occurred_at))
    return [m for m in rows if _stored_kind(m) == kind]


def _stored_kind(message: Message) -> str | None:
    if any(isinstance(a, dict) and a.get("type") == "story_mention" for a in message.attachments or []):
        return "story_mention"
    return "story_reply" if message.reply_to_story else None


def _window_open(conversation: Conversation) -> bool:
    last = conversation.last_customer_message_at
    return last is not None and last + WINDOW_MS > now_ms()


def _sample(spec: CampaignSpec, message: Message) -> DryRunSample:
    conversation = message.conversation
    context = person_context(conversation, conversation.channel)
    texts = [render(a.message.text, context) for a in spec.actions
             if a.kind == "send_message" and a.message and a.message.text]
    identity = conversation.identity
    return DryRunSample(comment_id=KEY_PREFIX + message.mid, comment_text=message.text,
                        author=identity.name or identity.username, messages=texts)


def is_story(spec: CampaignSpec) -> bool:
    return spec.trigger.kind in campaigns.STORY_TRIGGERS



def dry_run_any(spec: CampaignSpec, **options: int | None) -> DryRunReport:
    """The dry run of any campaign: story events here, comments in `campaigns.dry_run`."""
    return (dry_run if is_story(spec) else campaigns.dry_run)(spec, **options)  # type: ignore[arg-type]
