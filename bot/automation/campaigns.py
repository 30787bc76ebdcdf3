"""Comment campaigns: "someone comments on a post -> send them a private message (and perhaps
answer publicly)".

`match` is a pure decision used by the live engine and by the dry run alike, so a dry run
reports exactly what going live would do. `on_comment` runs inside the comment event's
transaction: it writes one ledger row per (campaign, comment) -- unique, so redeliveries fire
nothing twice -- and turns the matched campaign's actions into outgoing drafts. A "Wait" step
is durable scheduled work (`clock.schedule`), resumed by `continue_run`.
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import msgspec

from bot.automation import audience as aud
from bot.automation import conditions, moderation, triggers, variants
from bot.automation.context import POSTBACK_PREFIX, attribute_kinds, attribute_values, identity_of, shortcode_context
from bot.automation.flows import engine
from bot.core.compose import (
    Button,
    MessageContent,
    check_template,
    content_problems,
    describe_part,
    private_reply_parts,
    render,
    render_content,
    template_problems,
)
from bot.core.errors import Invalid, NotFound, Refused
from bot.inbound import pauses
from bot.inbound.contacts import tag_contact
from bot.inbound.inbox import Applied
from bot.outbound import outbox
from bot.outbound.sendpolicy import SendKind
from bot.platform import cache, runtime, statements
from bot.platform.db import is_sqlite, now_ms, transaction
from bot.platform.models import (
    Campaign,
    CampaignAction,
    CampaignRun,
    CampaignStep,
    Channel,
    Comment,
    Flow,
    Identity,
    TrackedLink,
)
from bot.platform.registry import channel_by_id
from bot.platform.scheduler import schedule

ACTION_KINDS = ("send_message", "reply_comment", "add_tag", "wait", "start_flow", *moderation.KINDS)
MAX_WAIT_SECONDS = 30 * 86400
MAX_NAME = 200  # names and tags live in 255-character columns

REASONS = {
    "matched": "Matched: the campaign's actions ran.",
    "inactive": "The campaign is not active.",
    "own_comment": "The comment was written by the page or account itself.",
    "post_not_watched": "The comment is on a post this campaign does not watch.",
    "reply_excluded": "The comment is a reply to another comment, and the campaign accepts top-level comments only.",
    "keyword_missing": "The comment contains none of the required words.",
    "keyword_excluded": "The comment contains an excluded word.",
    "already_handled": "This campaign already handled this comment.",
    "author_hidden": "Meta did not tell who wrote the comment, so nobody can be answered.",
    "attribute_mismatch": "The commenter's custom attributes do not meet the campaign's conditions.",
    **triggers.REASONS,
    **aud.REASONS,
}
# What starts a campaign: a comment, an Instagram story event (bot/automation/story_triggers.py), or
# a referral: a ref link, Get Started with a ref, an ad (bot/automation/referral_triggers.py).
STORY_TRIGGERS = ("story_mention", "story_reply")
TRIGGER_KINDS = ("comment", *STORY_TRIGGERS, "referral")
STORY_ACTIONS = ("send_message", "add_tag")
MAX_CONDITIONS = conditions.MAX_CONDITIONS


# --- definitions ----------------------------------------------------------------------------------


# An audience filter on the commenter's custom attributes, typed by the attribute (issue 21):
# `bot.automation.conditions` checks and evaluates it.
AttributeCondition = conditions.Condition


class TriggerSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Trigger "Comment on a post" (`kind` "comment"), or an Instagram story mention / story reply
    (issue 22: the post fields do not apply); `attribute_conditions` must all hold (issue 21)."""

    kind: str = "comment"
    all_posts: bool = True
    post_ids: list[str] = []
    include_replies: bool = False
    keywords_any: list[str] = []
    keywords_none: list[str] = []
    attribute_conditions: list[AttributeCondition] = []
    next_post: bool = False  # issue 22: watch only the next post the page publishes
    source_conditions: list[triggers.SourceCondition] = []  # issue 22: came from a ref link / ad
    refs: list[str] = []  # trigger "referral": arrived from one of these refs (none and no ad_ids: any)
    ad_ids: list[str] = []  # trigger "referral": arrived from one of these ads


class ActionSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One action. `kind` decides which fields matter:
    send_message: message (sent as the private reply to the comment, then held parts);
    reply_comment: text and optional variations (a public reply, one picked at random);
    add_tag: tag; wait: seconds; start_flow: flow (a bot flow's name, started for the commenter,
    its first step answering the comment by private reply unless the flow says public)."""

    kind: str
    message: MessageContent | None = None
    text: str | None = None
    variations: list[str] = []
    tag: str | None = None
    seconds: int | None = None
    flow: str | None = None
    # like_comment / hide_comment (issue 22): hide only comments with one of `words` or a link.
    words: list[str] = []
    any_link: bool = False
    variants: list[variants.MessageVariant] = []  # issue 22: A/B variants instead of `message`
    only_if: list[AttributeCondition] = []  # the action runs only for commenters whose attributes hold


class CampaignSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    channel_id: int
    trigger: TriggerSpec = TriggerSpec()
    actions: list[ActionSpec] = []
    is_active: bool = False
    audience: aud.AudienceSpec = aud.AudienceSpec()


def resolve_channel(channel_id: int | None, page_id: str | None) -> int:
    """The channel a campaign is for, named by our database id or by Meta's id of the page (or
    Instagram account); both may be given when they agree."""
    if page_id is None:
        if channel_id is None:
            raise Invalid("channel_id", "give channel_id or page_id")
        return channel_id
    channel = (Channel.select().where(Channel.account_id == page_id)
               .order_by((Channel.platform != "facebook"), Channel.id).first())
    if channel is None:
        raise Invalid("page_id", "no connected page or Instagram account has this id")
    if channel_id is not None and channel_id != channel.id:
        raise Invalid("page_id", f"names channel {channel.id}, not channel_id {channel_id}")
    return channel.id


def normalized(spec: CampaignSpec) -> CampaignSpec:
    """The spec with post ids in the form Meta's comment webhooks carry, so they match: a
    Facebook post as `{page-id}_{post-id}` (a bare post id gets the page's prefix), an Instagram
    media id as it is (meta-platform.md: comment `post_id` is `<page-id>_<post-suffix>`)."""
    channel = Channel.get_or_none(Channel.id == spec.channel_id)
    if channel is None or not spec.trigger.post_ids:
        return spec
    post_ids = [_post_id(raw, channel, f"trigger.post_ids[{i}]") for i, raw in enumerate(spec.trigger.post_ids)]
    trigger = msgspec.structs.replace(spec.trigger, post_ids=list(dict.fromkeys(post_ids)))
    return msgspec.structs.replace(spec, trigger=trigger)


def _post_id(raw: str, channel: Channel, field: str) -> str:
    post_id = raw.strip()
    page, sep, suffix = post_id.partition("_")
    if channel.platform != "facebook":
        if not post_id.isdigit():
            raise Invalid(field, "must be an Instagram media id (digits)")
        return post_id
    if not (page.isdigit() and (not sep or suffix.isdigit())):
        raise Invalid(field, "must be a post id: {page-id}_{post-id} or the bare post id")
    if not sep:
        return f"{channel.page_id}_{post_id}"
    if page != channel.page_id:
        raise Invalid(field, f"is a post of another page ({page}), not of page {channel.page_id}")
    return post_id


def validate(spec: CampaignSpec) -> None:
    """Every rule a campaign must satisfy to be saved; raises the first problem (naming the field)."""
    found = problems(spec)
    if found:
        raise found[0]


def problems(spec: CampaignSpec) -> list[Invalid]:
    """Every broken rule of a campaign at once, in the editor's order, so the editor can show
    each next to its field (`Invalid.words` says it in people's words)."""
    found: list[Invalid] = []
    if not spec.name.strip():
        found.append(Invalid("name", "must not be empty"))
    if len(spec.name) > MAX_NAME:
        found.append(Invalid("name", f"must be at most {MAX_NAME} characters"))
    channel = Channel.get_or_none(Channel.id == spec.channel_id)
    if channel is None:
        return [*found, Invalid("channel_id", "no such channel")]
    if not spec.trigger.all_posts and not spec.trigger.post_ids and not spec.trigger.next_post:
        found.append(Invalid("trigger.post_ids", "choose at least one post, or watch all posts"))
    if spec.trigger.next_post:
        found += _collect(triggers.validate_next_post, channel.platform)
    found += _collect(_validate_conditions, spec.trigger.attribute_conditions)
    found += _collect(_validate_trigger_kind, spec, channel)
    found += _collect(triggers.validate_conditions, spec.trigger.source_conditions)
    found += _collect(aud.validate, spec.audience)
    if not spec.actions:
        found.append(Invalid("actions", "add at least one action"))
    for index, action in enumerate(spec.actions):
        found += _action_problems(action, f"actions[{index}]", channel.platform)
    return found


def _collect(check: Callable[..., None], *args: object) -> list[Invalid]:
    """A check that raises its first problem, as a list (empty when it passes)."""
    try:
        check(*args)
    except Invalid as exc:
        return [exc]
    return []


def _action_problems(action: ActionSpec, field: str, platform: str) -> list[Invalid]:
    if action.kind == "send_message" and action.message is not None and not action.variants:
        return [*_collect(conditions.validate, action.only_if, f"{field}.only_if"),
                *message_problems(action.message, platform, f"{field}.message")]
    return _collect(_validate_action, action, field, platform)


def message_problems(message: MessageContent, platform: str, field: str = "message") -> list[Invalid]:
    """What Save refuses in a campaign's private message: template errors, Meta's limits, and
    on Instagram a card (only text is documented for Instagram private replies, §6/§12)."""
    found = [*template_problems(message, field), *content_problems(message, platform, field)]
    if platform == "instagram" and message.card is not None:
        found.append(Invalid(f"{field}.card", "is not possible on Instagram: Meta documents only text for "
                                              "Instagram private replies (cards work on Facebook)"))
    return found


def _validate_trigger_kind(spec: CampaignSpec, channel: Channel) -> None:
    """Story triggers exist on Instagram only; story and referral triggers watch no posts, and
    answer by DM or tag."""
    kind = spec.trigger.kind
    if kind not in TRIGGER_KINDS:
        raise Invalid("trigger.kind", f"must be one of {', '.join(TRIGGER_KINDS)}")
    triggers.validate_referral_filter(kind, spec.trigger.refs, spec.trigger.ad_ids)
    if kind == "comment":
        return
    if kind in STORY_TRIGGERS and channel.platform != "instagram":
        raise Invalid("trigger.kind", "story mentions and story replies exist on Instagram accounts only")
    if spec.trigger.post_ids or spec.trigger.include_replies:
        raise Invalid("trigger.post_ids", f"a {_noun(kind)} campaign watches no posts or comment replies")
    for index, action in enumerate(spec.actions):
        if action.kind not in STORY_ACTIONS:
            raise Invalid(f"actions[{index}].kind", f"a {_noun(kind)} campaign can send a message or add a tag only")
    _refuse_unused_audience(kind, spec.audience)


def _refuse_unused_audience(kind: str, rules: aud.AudienceSpec) -> None:
    """A story or referral campaign answers as the event comes: refuse the audience rules it would
    silently ignore (a marketer who sets active hours expects them to hold). A referral campaign
    keeps "once per person" and the excluded tags (bot/automation/referral_triggers.py)."""
    unused = {"new_contacts_only": rules.new_contacts_only, "active_hours": rules.active_hours is not None,
              "delay_max_seconds": rules.delay_max_seconds > 0}
    if kind in STORY_TRIGGERS:
        unused.update(once_per_person=rules.once_per_person, exclude_tags=bool(rules.exclude_tags))
    for name, used in unused.items():
        if used:
            raise Invalid(f"audience.{name}", f"is not used by a {_noun(kind)} campaign: it answers as the "
                                              "event comes (only comment campaigns use it)")


def _noun(kind: str) -> str:
    return "referral" if kind == "referral" else "story"


def _validate_conditions(found: list[AttributeCondition]) -> None:
    conditions.validate(found, "trigger.attribute_conditions")


def _validate_action(action: ActionSpec, field: str, platform: str) -> None:
    if action.kind not in ACTION_KINDS:
        raise Invalid(f"{field}.kind", f"must be one of {', '.join(ACTION_KINDS)}")
    conditions.validate(action.only_if, f"{field}.only_if")
    if action.kind == "send_message" and action.variants:
        if action.message is not None:
            raise Invalid(f"{field}.message", "give either one message or variants, not both")
        variants.validate(action.variants, platform, field)
    elif action.kind == "send_message":
        if action.message is None:
            raise Invalid(f"{field}.message", "is required")
        for problem in message_problems(action.message, platform, f"{field}.message"):
            raise problem
    elif action.kind == "reply_comment":
        texts = [action.text or "", *action.variations]
        for i, text in enumerate(texts):
            name = f"{field}.text" if i == 0 else f"{field}.variations[{i - 1}]"
            if not text.strip():
                raise Invalid(name, "must not be empty")
            check_template(text, name)
    elif action.kind == "add_tag" and not 0 < len((action.tag or "").strip()) <= MAX_NAME:
        raise Invalid(f"{field}.tag", f"must be 1 to {MAX_NAME} characters")
    elif action.kind == "start_flow" and not Flow.select().where(Flow.name == (action.flow or "")).exists():
        raise Invalid(f"{field}.flow", "no bot flow with this name")
    elif action.kind in moderation.KINDS:
        moderation.validate_action(action.kind, action.words, action.any_link, platform, field)
    elif action.kind == "wait" and not (action.seconds and 0 < action.seconds <= MAX_WAIT_SECONDS):
        raise Invalid(f"{field}.seconds", f"must be between 1 and {MAX_WAIT_SECONDS}")


def save(spec: CampaignSpec, campaign_id: int | None = None) -> Campaign:
    """Create or replace a campaign after validating it."""
    spec = normalized(spec)
    validate(spec)
    now = now_ms()
    trigger = {**msgspec.to_builtins(spec.trigger), "audience": msgspec.to_builtins(spec.audience)}
    trigger["trigger_kind"] = trigger.pop("kind", "comment")
    if not spec.trigger.next_post:
        trigger.update(bound_post_id=None, armed_at=None)  # leaving the scope forgets the bound post
    with transaction():
        if campaign_id is None:
            campaign = Campaign.create(name=spec.name.strip(), channel=spec.channel_id, is_active=spec.is_active,
                                       created_at=now, updated_at=now, **trigger)
        else:
            campaign = Campaign.get_or_none(Campaign.id == campaign_id)
            if campaign is None:
                raise NotFound("campaign", campaign_id)
            Campaign.update(name=spec.name.strip(), channel=spec.channel_id, is_active=spec.is_active,
                            updated_at=now, **trigger).where(Campaign.id == campaign_id).execute()
            _replace_actions(campaign_id, spec.actions)
            if spec.is_active:
                triggers.arm(campaign_id)
            return Campaign.get_by_id(campaign_id)
        _replace_actions(campaign.id, spec.actions)
        if spec.is_active:
            triggers.arm(campaign.id)
    return Campaign.get_by_id(campaign.id)


def _replace_actions(campaign_id: int, actions: list[ActionSpec]) -> None:
    """Keep action rows that stay at their position (stats and clicks refer to them)."""
    existing = {a.position: a for a in CampaignAction.select().where(CampaignAction.campaign == campaign_id)}
    for position, action in enumerate(actions):
        config = msgspec.to_builtins(action)
        row = existing.pop(position, None)
        if row is None:
            CampaignAction.create(campaign=campaign_id, position=position, kind=action.kind, config=config)
        else:
            CampaignAction.update(kind=action.kind, config=config).where(CampaignAction.id == row.id).execute()
    for row in existing.values():
        row.delete_instance(recursive=True)


def set_active(campaign_id: int, active: bool) -> Campaign:
    if Campaign.update(is_active=active, updated_at=now_ms()).where(Campaign.id == campaign_id).execute() == 0:
        raise NotFound("campaign", campaign_id)
    if active:
        triggers.arm(campaign_id)  # "the next post" counts from the moment it goes live
    return Campaign.get_by_id(campaign_id)


def list_campaigns(channel_id: int | None = None) -> list[Campaign]:
    """Every campaign (of one channel), newest first."""
    query = Campaign.select().order_by(Campaign.id.desc())
    if channel_id is not None:
        query = query.where(Campaign.channel == channel_id)
    return list(query)


def load(campaign_id: int) -> tuple[Campaign, CampaignSpec]:
    """A saved campaign and its editable spec."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    return campaign, spec_of(campaign)


def spec_of(campaign: Campaign) -> CampaignSpec:
    actions = [msgspec.convert(a.config, ActionSpec) for a in
               CampaignAction.select().where(CampaignAction.campaign == campaign).order_by(CampaignAction.position)]
    trigger = TriggerSpec(kind=campaign.trigger_kind, all_posts=campaign.all_posts,
                          post_ids=list(campaign.post_ids or []),
                          include_replies=campaign.include_replies, keywords_any=list(campaign.keywords_any or []),
                          keywords_none=list(campaign.keywords_none or []),
                          attribute_conditions=msgspec.convert(campaign.attribute_conditions or [],
                                                               list[AttributeCondition]),
                          next_post=bool(campaign.next_post),
                          source_conditions=msgspec.convert(campaign.source_conditions or [],
                                                            list[triggers.SourceCondition]),
                          refs=list(campaign.refs or []), ad_ids=list(campaign.ad_ids or []))
    return CampaignSpec(name=campaign.name, channel_id=campaign.channel_id, trigger=trigger, actions=actions,
                        is_active=campaign.is_active,
                        audience=msgspec.convert(campaign.audience or {}, aud.AudienceSpec))


# --- matching (pure) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentFacts:
    """What matching looks at, from a live event or a stored comment."""

    post_id: str
    parent_id: str | None
    text: str | None
    by_account: bool
    from_id: str | None
    attributes: Mapping[str, str] | None = None  # the commenter's custom attributes, when a condition asks
    source: Mapping[str, str] | None = None  # the commenter's recorded referrals, when a condition asks


def match(trigger: TriggerSpec, active: bool, comment: CommentFacts, bound_post: str | None = None) -> str:
    """The reason code: "matched" or why not (see REASONS). `bound_post`: the post a "next post"
    campaign bound to (None while it waits)."""
    if comment.by_account:
        return "own_comment"
    scope = triggers.watches(trigger.all_posts, trigger.post_ids, trigger.next_post, bound_post, comment.post_id)
    if scope is not None:
        return scope
    if comment.parent_id and not trigger.include_replies:
        return "reply_excluded"
    if not active:
        return "inactive"
    if not comment.from_id:
        return "author_hidden"
    words = _words(comment.text or "")
    if trigger.keywords_any and not any(_contains(words, k) for k in trigger.keywords_any):
        return "keyword_missing"
    if any(_contains(words, k) for k in trigger.keywords_none):
        return "keyword_excluded"
    if trigger.attribute_conditions and not conditions.holds(trigger.attribute_conditions,
                                                             comment.attributes or {}, attribute_kinds()):
        return "attribute_mismatch"
    if not triggers.source_holds(trigger.source_conditions, comment.source or {}):
        return "source_mismatch"
    return "matched"


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: "Café" and "cafe" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> str:
    folded = _fold(text)
    return " " + "".join(c if c.isalnum() else " " for c in folded) + " "


def _contains(words: str, keyword: str) -> bool:
    """Whole-word (or whole-phrase) match, so "win" does not match "window"."""
    needle = _words(keyword).strip()
    return bool(needle) and f" {needle} " in words


# --- the live engine ---------------------------------------------------------------------------------


def on_comment(applied: Applied, *, source: str = "webhook") -> list[int]:
    """Run every campaign of the comment's channel once for this comment; returns outgoing
    message ids ready to send. Called inside the event's transaction."""
    event = applied.event
    facts = CommentFacts(post_id=event.post_id, parent_id=event.parent_id, text=event.text,
                         by_account=event.by_account, from_id=event.from_id)
    ready: list[int] = []
    for campaign, spec in _campaigns_of(applied.channel.id):
        if campaign.trigger_kind != "comment":  # story_triggers.py, referral_triggers.py
            continue
        if spec.trigger.attribute_conditions and facts.attributes is None:  # read only when asked
            facts = replace(facts, attributes=_commenter_attributes(applied.channel.id, event.from_id))
        if spec.trigger.source_conditions and facts.source is None:
            facts = replace(facts, source=triggers.source_of(applied.channel.id, event.from_id))
        reason = match(spec.trigger, campaign.is_active, facts, campaign.bound_post_id)
        if reason in ("post_not_watched", "reply_excluded", "next_post_pending") and not campaign.is_active:
            continue  # an inactive campaign that would not watch this comment anyway: no ledger noise
        if reason == "matched":
            reason = aud.check(spec.audience, campaign.id, applied.channel.id, event.from_id or "",
                               event.comment_id, event.created_time or event.timestamp)
        first = _first_step(campaign, spec, event.comment_id) if reason == "matched" else None
        run = _record_run(campaign, event.comment_id, event.post_id, reason, source, first)
        if run is not None and reason == "matched":
            cache.remember("campaign_answered", event.comment_id, True)  # notifications ask next
            ready += _start(run, spec, event.from_id or "", first)
    return ready


@dataclass(frozen=True)
class FirstStep:
    """A run's first step, decided before the run is stored so that both go in as one statement
    (PostgreSQL): a private reply sent at once."""

    action: CampaignAction
    variant: int | None


def _first_step(campaign: Campaign, spec: CampaignSpec, comment_id: str) -> FirstStep | None:
    """The first step when it is known before the run exists: the run starts now (no claim per
    person, no delay, hours open) with a private reply that has no "only if" into a thread no
    person of the staff holds. None otherwise: the steps are recorded as they happen."""
    if is_sqlite() or spec.audience.once_per_person or spec.audience.delay_max_seconds > 0:
        return None
    actions = _actions(campaign.id)
    if not actions or actions[0].kind != "send_message" or spec.actions[actions[0].position].only_if:
        return None
    if aud.start_due(spec.audience, now_ms())[1] is not None:  # outside the active hours
        return None
    comment = cache.memo("comment", comment_id, lambda: Comment.get(Comment.comment_id == comment_id))
    if _dm_paused(comment):
        return None
    return FirstStep(actions[0], _pick_variant(spec.actions[actions[0].position]))


def _start(run: CampaignRun, spec: CampaignSpec, from_id: str, first: FirstStep | None = None) -> list[int]:
    """Run a matched campaign's actions now, or schedule them (random delay, active hours);
    "once per person" is claimed first, so a person's second comment is recorded as such.
    `first`: the run was stored with its first step, which goes now (`_first_step`)."""
    if first is not None:
        return run_actions(run, spec, start=0, first=first)
    if spec.audience.once_per_person and not aud.claim_person(run.campaign_id, from_id, run.id):
        CampaignRun.update(matched=False, reason="already_reached_person").where(CampaignRun.id == run.id).execute()
        return []
    due, why = aud.start_due(spec.audience, now_ms())
    if why is None:
        return run_actions(run, spec, start=0)
    starts = datetime.fromtimestamp(due / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    CampaignRun.update(detail=f"starts at {starts}: {why}").where(CampaignRun.id == run.id).execute()
    schedule("continue_campaign", [run.id, 0], due, dedupe_key=f"run:{run.id}:start")
    return []


def _campaigns_of(channel_id: int) -> list[tuple[Campaign, CampaignSpec]]:
    """The channel's campaigns with their specs: read on every comment, so from the process's
    copy (`bot.platform.cache`; a saved campaign bumps the configuration version)."""
    return cache.cached("campaigns", channel_id, lambda: [
        (campaign, spec_of(campaign)) for campaign in Campaign.select().where(Campaign.channel == channel_id)])


def _actions(campaign_id: int) -> list[CampaignAction]:
    return cache.cached("campaign_actions", campaign_id, lambda: list(
        CampaignAction.select().where(CampaignAction.campaign == campaign_id).order_by(CampaignAction.position)))


def _record_run(campaign: Campaign, comment_id: str, post_id: str, reason: str, source: str,
                first: FirstStep | None = None) -> CampaignRun | None:
    """The run, unless this comment already has one for this campaign; with `first` its first step
    goes in with it (one statement; a new run has no step, so the step always goes in)."""
    fields = dict(campaign=campaign.id, comment_id=comment_id, post_id=post_id, matched=reason == "matched",
                  reason=reason, source=source, created_at=now_ms())
    if first is None:
        row_id = statements.insert_new(CampaignRun, fields)
    else:
        step = _step_fields(first.action, "queued", _reply_detail(first.variant), variant=first.variant)
        row_id, _ = statements.insert_new_pair(CampaignRun, fields, CampaignStep, step, "run")
    return CampaignRun(id=row_id, **fields) if row_id else None  # as inserted, not read back


def run_actions(run: CampaignRun, spec: CampaignSpec, start: int, first: FirstStep | None = None) -> list[int]:
    """Execute actions from `start` until the end or a Wait (which schedules the rest). `first`:
    the first action's step, already stored with the run."""
    comment = cache.memo("comment", run.comment_id, lambda: Comment.get(Comment.comment_id == run.comment_id))
    context = shortcode_context(comment)
    actions = _actions(run.campaign_id)
    ready: list[int] = []
    for action in actions[start:]:
        action_spec = spec.actions[action.position]
        unmet = _unmet(action_spec, comment)
        if unmet is not None:
            _step(run, action, "skipped", f"only if {unmet}")
            continue
        if action.kind == "wait":
            due = now_ms() + (action_spec.seconds or 0) * 1000
            _step(run, action, "waiting", f"until {due}", due_at=due)
            schedule("continue_campaign", [run.id, action.position + 1], due,
                     dedupe_key=f"run:{run.id}:{action.position}")
            break
        recorded = first if first is not None and first.action.id == action.id else None
        ready += _run_action(run, action, action_spec, comment, context, recorded)
    return ready


def _run_action(run: CampaignRun, action: CampaignAction, spec: ActionSpec, comment: Comment,
                context: dict[str, str | None], recorded: FirstStep | None = None) -> list[int]:
    key = f"campaign:{run.id}:{action.id}"
    if spec.kind == "add_tag":
        identity = identity_of(comment)
        if identity is not None:
            tag_contact(identity.contact_id, spec.tag or "")
        _step(run, action, "done" if identity else "skipped", f"tag {spec.tag}")
        return []
    if spec.kind == "reply_comment":
        text = render(random.choice([spec.text or "", *spec.variations]), context)
        draft = outbox.Draft(key=key, kind=SendKind.COMMENT_REPLY, content=MessageContent(text=text),
                             author="campaign", comment_id=comment.comment_id, origin=key)
        ready = outbox.add(draft)
        _step(run, action, "queued", "public reply under the comment")
        return ready
    if spec.kind in moderation.KINDS:  # acts on the comment, not in the DM thread: no pause applies
        status, detail = moderation.run_action(spec.kind, spec.words, spec.any_link, comment, key)
        _step(run, action, status, detail)
        return []
    if _dm_paused(comment):  # automations never talk over a human in the person's DM thread
        _step(run, action, "refused", PAUSED_DETAIL)
        return []
    if spec.kind == "start_flow":
        return _start_flow(run, action, spec, comment, key)
    variant = recorded.variant if recorded is not None else _pick_variant(spec)  # recorded: picked with the run
    message = spec.variants[variant].message if variant is not None else spec.message
    content = _track_links(render_content(message, context), run, action)
    content = _tag_payloads(content, run, action)
    draft = outbox.Draft(key=key, kind=SendKind.PRIVATE_REPLY, content=content, author="campaign",
                         comment_id=comment.comment_id, origin=key)
    ready = outbox.add(draft)
    if recorded is None:
        _step(run, action, "queued", _reply_detail(variant), variant=variant)
    return ready


def _pick_variant(spec: ActionSpec) -> int | None:
    return variants.pick(spec.variants) if spec.variants else None


def _reply_detail(variant: int | None) -> str:
    which = "" if variant is None else f" (variant {variants.letter(variant)})"
    return f"private reply to the comment{which}"


def _unmet(spec: ActionSpec, comment: Comment) -> str | None:
    """Why the action's "only if" conditions fail for this commenter (None: it runs)."""
    if not spec.only_if:
        return None
    return conditions.miss(spec.only_if, _commenter_attributes(comment.channel_id, comment.from_id),
                           attribute_kinds())


PAUSED_DETAIL = "A person is handling this conversation, so the campaign did not write in it."


def _dm_paused(comment: Comment) -> bool:
    return pauses.dm_paused(channel_by_id(comment.channel_id), comment.from_id)


def _start_flow(run: CampaignRun, action: CampaignAction, spec: ActionSpec, comment: Comment, key: str) -> list[int]:
    """Start the bot flow for the commenter; a refusal (flow gone, no author) is recorded."""
    try:
        ready = engine.start_from_comment(comment, spec.flow or "", key)
    except Refused as exc:
        _step(run, action, "refused", exc.reason)
        return []
    _step(run, action, "queued", f"bot flow {spec.flow} started")
    return ready


def continue_run(run_id: int, position: int) -> list[int]:
    """Resume a run after a Wait (a scheduled job); idempotent per step."""
    with transaction():
        run = CampaignRun.get_or_none(CampaignRun.id == run_id)
        if run is None or CampaignStep.select().where(
                (CampaignStep.run == run_id) & (CampaignStep.position == position)).exists():
            return []
        CampaignStep.update(status="done").where(
            (CampaignStep.run == run_id) & (CampaignStep.position == position - 1)).execute()
        return run_actions(run, spec_of(run.campaign), start=position)


def _step(run: CampaignRun, action: CampaignAction, status: str, detail: str, due_at: int | None = None,
          variant: int | None = None) -> None:
    statements.insert(CampaignStep, {"run": run, **_step_fields(action, status, detail, due_at, variant)},
                      ignore_conflict=True)


def _step_fields(action: CampaignAction, status: str, detail: str, due_at: int | None = None,
                 variant: int | None = None) -> dict:
    """A step's row but its run."""
    return {"action": action, "position": action.position, "status": status, "detail": detail, "due_at": due_at,
            "variant": variant, "created_at": now_ms()}


def _track_links(content: MessageContent, run: CampaignRun, action: CampaignAction) -> MessageContent:
    """Link buttons (under the text or on the card) go through PUBLIC_URL/r/<token>, which counts
    the click and forwards."""
    def tracked(button: Button) -> Button:
        if not button.url:
            return button
        token = secrets.token_urlsafe(12)
        TrackedLink.create(token=token, run=run, action=action, url=button.url, created_at=now_ms())
        return msgspec.structs.replace(button, url=f"{runtime.settings().public_url}/r/{token}")
    return _map_buttons(content, tracked)


def _tag_payloads(content: MessageContent, run: CampaignRun, action: CampaignAction) -> MessageContent:
    """Payload buttons carry the run and action, so a tap is counted for this campaign."""
    def tagged(button: Button) -> Button:
        if not button.payload:
            return button
        return msgspec.structs.replace(button, payload=f"{POSTBACK_PREFIX}{run.id}:{action.id}:{button.payload}")
    return _map_buttons(content, tagged)


def _map_buttons(content: MessageContent, change: Callable[[Button], Button]) -> MessageContent:
    """`change` applied to every button of a content, its card's included."""
    card = content.card
    if card is not None:
        card = msgspec.structs.replace(card, buttons=tuple(change(b) for b in card.buttons))
    return msgspec.structs.replace(content, buttons=tuple(change(b) for b in content.buttons), card=card)


def comments_for_dry_run(channel_id: int, since_ms: int) -> Iterable[Comment]:
    return Comment.select().where((Comment.channel == channel_id) & (Comment.created_at >= since_ms)).order_by(
        Comment.created_at)


# --- dry run ------------------------------------------------------------------------------------------

DRY_RUN_DAYS = 7
PRIVATE_REPLY_MS = 7 * 86400 * 1000


class DryRunSample(msgspec.Struct):
    comment_id: str
    comment_text: str | None
    author: str | None
    messages: list[str]  # what goes at once: each private reply and public reply, rendered
    held: list[str] = []  # what waits for the person's answer (a private reply is one message, §6)
    skipped_actions: list[str] = []  # actions whose "only if" fails for this commenter, and why


class DryRunReport(msgspec.Struct):
    comments: int
    matched: int
    skipped: dict[str, int]
    eligible_for_private_reply: int  # matched and still within Meta's 7-day private-reply window
    samples: list[DryRunSample]
    matched_comment_ids: list[str]
    moderation: dict[str, int] = {}  # like / hide / <action>_<why not> over the matched comments
    waiting_for_hours: int = 0  # matched outside the active hours (set to wait): answered when they open
    condition_misses: dict[str, int] = {}  # attribute_mismatch broken down: the first failing condition, in words


def dry_run(spec: CampaignSpec, *, campaign_id: int | None = None, days: int = DRY_RUN_DAYS,
            samples: int = 5) -> DryRunReport:
    """What `spec` would have done on the stored comments of the last `days` days, decided by the
    same `match` as the live engine (as if the campaign were active). Sends nothing."""
    spec = normalized(spec)
    validate(spec)
    now = now_ms()
    handled = set()
    if campaign_id is not None:
        handled = {r.comment_id for r in CampaignRun.select(CampaignRun.comment_id).where(
            CampaignRun.campaign == campaign_id)}
    skipped: dict[str, int] = {}
    misses: dict[str, int] = {}
    matched: list[Comment] = []
    comments = list(comments_for_dry_run(spec.channel_id, now - days * 86400 * 1000))
    bound = Campaign.get_by_id(campaign_id).bound_post_id if campaign_id is not None else None
    reached: set[str] = set()  # once per person: people this dry run already answered
    for comment in comments:
        facts = _facts(comment, spec)
        handled_now = comment.comment_id in handled
        reason = "already_handled" if handled_now else _dry_reason(spec, campaign_id, comment, facts, bound,
                                                                   reached)
        if reason == "matched":
            matched.append(comment)
        else:
            skipped[reason] = skipped.get(reason, 0) + 1
        if reason == "attribute_mismatch":
            why = conditions.miss(spec.trigger.attribute_conditions, facts.attributes or {},
                                  attribute_kinds()) or reason
            misses[why] = misses.get(why, 0) + 1
    eligible = [c for c in matched if c.deleted_at is None and c.created_at + PRIVATE_REPLY_MS > now]
    hours = spec.audience.active_hours
    waiting = sum(1 for c in matched if hours and not aud.is_open(hours, c.created_at))
    return DryRunReport(comments=len(comments), matched=len(matched), skipped=skipped,
                        eligible_for_private_reply=len(eligible),
                        samples=[_sample(spec, c) for c in matched[:samples]],
                        matched_comment_ids=[c.comment_id for c in matched],
                        moderation=moderation.dry_run_counts(
                            [(a.kind, a.words, a.any_link) for a in spec.actions if a.kind in moderation.KINDS],
                            matched, Channel.get_by_id(spec.channel_id)),
                        waiting_for_hours=waiting, condition_misses=misses)


def _dry_reason(spec: CampaignSpec, campaign_id: int | None, comment: Comment, facts: CommentFacts,
                bound: str | None, reached: set[str]) -> str:
    """The live engine's decision for a stored comment: trigger, then audience at its time."""
    reason = match(spec.trigger, True, facts, bound)
    if reason != "matched":
        return reason
    from_id = comment.from_id or ""
    if spec.audience.once_per_person and from_id in reached:
        return "already_reached_person"
    reason = aud.check(spec.audience, campaign_id, comment.channel_id, from_id, comment.comment_id,
                       comment.created_at)
    if reason == "matched":
        reached.add(from_id)
    return reason


class PastComments(msgspec.Struct, frozen=True):
    """What sending a campaign to past comments did: how many comments got it (each once) and
    the outgoing messages queued for them (to be sent through the normal per-page rate limit)."""

    comments: int
    messages: list[int]


def send_to_past_comments(campaign_id: int, *, days: int = DRY_RUN_DAYS) -> PastComments:
    """Run a saved, active campaign on the eligible stored comments (matched, still within
    Meta's private-reply window, not handled yet)."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    if not campaign.is_active:  # activation is where a marketer confirms the dry run
        raise Refused("activate the campaign before sending it to past comments")
    spec = spec_of(campaign)
    if spec.trigger.kind != "comment":
        raise Refused("a story campaign answers story mentions and replies as they come, not past comments")
    now = now_ms()
    ready: list[int] = []
    answered = 0
    with transaction():
        for comment in comments_for_dry_run(spec.channel_id, now - days * 86400 * 1000):
            if comment.deleted_at or comment.created_at + PRIVATE_REPLY_MS <= now:
                continue
            if match(spec.trigger, True, _facts(comment, spec), campaign.bound_post_id) != "matched":
                continue
            if aud.check(spec.audience, campaign_id, spec.channel_id, comment.from_id or "", comment.comment_id,
                         now) != "matched":  # hours as of now: the answer goes now (or when they open)
                continue
            run = _record_run(campaign, comment.comment_id, comment.post_id, "matched", "past_comment")
            if run is not None:
                started = _start(run, spec, comment.from_id or "")
                answered += CampaignRun.get_by_id(run.id).matched
                ready += started
    return PastComments(comments=answered, messages=ready)


def _facts(comment: Comment, spec: CampaignSpec | None = None) -> CommentFacts:
    wanted = spec is not None and bool(spec.trigger.attribute_conditions)
    sourced = spec is not None and bool(spec.trigger.source_conditions)
    return CommentFacts(post_id=comment.post_id, parent_id=comment.parent_id, text=comment.text,
                        by_account=comment.by_account, from_id=comment.from_id,
                        attributes=_commenter_attributes(comment.channel_id, comment.from_id) if wanted else None,
                        source=triggers.source_of(comment.channel_id, comment.from_id) if sourced else None)


def _commenter_attributes(channel_id: int, from_id: str | None) -> dict[str, str]:
    """The custom attributes of the contact behind a commenter (none while unknown)."""
    identity = Identity.get_or_none((Identity.channel == channel_id) & (Identity.scoped_id == from_id)) \
        if from_id else None
    return attribute_values(identity.contact_id if identity else None)


def _sample(spec: CampaignSpec, comment: Comment) -> DryRunSample:
    """The rendered messages for one matched comment, split as the outbox will split them: the
    private reply goes now, the rest of that message waits for the person's answer."""
    context = shortcode_context(comment)
    platform = comment.channel.platform
    now: list[str] = []
    held: list[str] = []
    skipped: list[str] = []
    for index, action in enumerate(spec.actions):
        unmet = _unmet(action, comment)
        if unmet is not None:
            skipped.append(f"actions[{index}] ({action.kind}): only if {unmet}")
        elif action.kind == "send_message" and action.message:
            first, rest = private_reply_parts(render_content(action.message, context), platform)
            now += [describe_part(first)] if first is not None else []
            held += [describe_part(part) for part in rest]
        elif action.kind == "send_message" and action.variants:
            now += _variant_samples(action, context)
        elif action.kind == "reply_comment" and action.text:
            now.append(render(action.text, context))
    return DryRunSample(comment_id=comment.comment_id, comment_text=comment.text,
                        author=comment.from_name or comment.from_username, messages=now, held=held,
                        skipped_actions=skipped)


def _variant_samples(action: ActionSpec, context: dict[str, str | None]) -> list[str]:
    """Each A/B variant's text, labelled with its letter."""
    return [f"[{variants.letter(i)}] {render(v.message.text or '', context)}" for i, v in enumerate(action.variants)]
