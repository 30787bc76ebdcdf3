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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import msgspec

from bot.automation.context import POSTBACK_PREFIX, attribute_values, identity_of, shortcode_context
from bot.automation.flows import engine
from bot.core.compose import (
    MessageContent,
    check_content_templates,
    check_template,
    render,
    render_content,
    validate_content,
)
from bot.core.errors import Invalid, NotFound, Refused
from bot.inbound import pauses
from bot.inbound.contacts import tag_contact
from bot.inbound.inbox import Applied
from bot.outbound import outbox
from bot.outbound.sendpolicy import SendKind
from bot.platform import cache, runtime
from bot.platform.db import insert_new, now_ms, transaction
from bot.platform.models import (
    AttributeDefinition,
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

ACTION_KINDS = ("send_message", "reply_comment", "add_tag", "wait", "start_flow")
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
}
CONDITION_OPS = ("equals", "contains")
MAX_CONDITIONS = 5


# --- definitions ----------------------------------------------------------------------------------


class AttributeCondition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An audience filter: the commenter's custom attribute `key` equals (or contains) `value`,
    compared without case or accents. A commenter with no such value does not match."""

    key: str
    op: str = "equals"
    value: str


class TriggerSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Trigger "Comment on a post"; `attribute_conditions` must all hold (issue 21)."""

    all_posts: bool = True
    post_ids: list[str] = []
    include_replies: bool = False
    keywords_any: list[str] = []
    keywords_none: list[str] = []
    attribute_conditions: list[AttributeCondition] = []


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


class CampaignSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    channel_id: int
    trigger: TriggerSpec = TriggerSpec()
    actions: list[ActionSpec] = []
    is_active: bool = False


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
    """Every rule a campaign must satisfy to be saved; errors name the field."""
    if not spec.name.strip():
        raise Invalid("name", "must not be empty")
    if len(spec.name) > MAX_NAME:
        raise Invalid("name", f"must be at most {MAX_NAME} characters")
    channel = Channel.get_or_none(Channel.id == spec.channel_id)
    if channel is None:
        raise Invalid("channel_id", "no such channel")
    if not spec.trigger.all_posts and not spec.trigger.post_ids:
        raise Invalid("trigger.post_ids", "choose at least one post, or watch all posts")
    _validate_conditions(spec.trigger.attribute_conditions)
    if not spec.actions:
        raise Invalid("actions", "add at least one action")
    for index, action in enumerate(spec.actions):
        _validate_action(action, f"actions[{index}]", channel.platform)


def _validate_conditions(conditions: list[AttributeCondition]) -> None:
    if len(conditions) > MAX_CONDITIONS:
        raise Invalid("trigger.attribute_conditions", f"at most {MAX_CONDITIONS} conditions")
    defined = {d.key for d in AttributeDefinition.select(AttributeDefinition.key)} if conditions else set()
    for i, condition in enumerate(conditions):
        field = f"trigger.attribute_conditions[{i}]"
        if condition.key not in defined:
            raise Invalid(f"{field}.key", "no custom attribute with this key")
        if condition.op not in CONDITION_OPS:
            raise Invalid(f"{field}.op", f"must be one of {', '.join(CONDITION_OPS)}")
        if not 0 < len(condition.value.strip()) <= MAX_NAME:
            raise Invalid(f"{field}.value", f"must be 1 to {MAX_NAME} characters")


def _validate_action(action: ActionSpec, field: str, platform: str) -> None:
    if action.kind not in ACTION_KINDS:
        raise Invalid(f"{field}.kind", f"must be one of {', '.join(ACTION_KINDS)}")
    if action.kind == "send_message":
        if action.message is None:
            raise Invalid(f"{field}.message", "is required")
        check_content_templates(action.message, f"{field}.message")
        validate_content(action.message, platform, f"{field}.message")
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
    elif action.kind == "wait" and not (action.seconds and 0 < action.seconds <= MAX_WAIT_SECONDS):
        raise Invalid(f"{field}.seconds", f"must be between 1 and {MAX_WAIT_SECONDS}")


def save(spec: CampaignSpec, campaign_id: int | None = None) -> Campaign:
    """Create or replace a campaign after validating it."""
    spec = normalized(spec)
    validate(spec)
    now = now_ms()
    trigger = msgspec.to_builtins(spec.trigger)
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
            return Campaign.get_by_id(campaign_id)
        _replace_actions(campaign.id, spec.actions)
    return campaign


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
    trigger = TriggerSpec(all_posts=campaign.all_posts, post_ids=list(campaign.post_ids or []),
                          include_replies=campaign.include_replies, keywords_any=list(campaign.keywords_any or []),
                          keywords_none=list(campaign.keywords_none or []),
                          attribute_conditions=msgspec.convert(campaign.attribute_conditions or [],
                                                               list[AttributeCondition]))
    return CampaignSpec(name=campaign.name, channel_id=campaign.channel_id, trigger=trigger, actions=actions,
                        is_active=campaign.is_active)


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


def match(trigger: TriggerSpec, active: bool, comment: CommentFacts) -> str:
    """The reason code: "matched" or why not (see REASONS)."""
    if comment.by_account:
        return "own_comment"
    if not trigger.all_posts and comment.post_id not in trigger.post_ids:
        return "post_not_watched"
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
    if not all(_holds(c, comment.attributes or {}) for c in trigger.attribute_conditions):
        return "attribute_mismatch"
    return "matched"


def _holds(condition: AttributeCondition, attributes: Mapping[str, str]) -> bool:
    value = attributes.get(condition.key)
    if value is None:
        return False
    wanted, have = _fold(condition.value.strip()), _fold(value)
    return have == wanted if condition.op == "equals" else wanted in have


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
        if spec.trigger.attribute_conditions and facts.attributes is None:  # read only when asked
            facts = replace(facts, attributes=_commenter_attributes(applied.channel.id, event.from_id))
        reason = match(spec.trigger, campaign.is_active, facts)
        if reason in ("post_not_watched", "reply_excluded") and not campaign.is_active:
            continue  # an inactive campaign that would not watch this comment anyway: no ledger noise
        run = _record_run(campaign, event.comment_id, event.post_id, reason, source)
        if run is not None and reason == "matched":
            cache.remember("campaign_answered", event.comment_id, True)  # notifications ask next
            ready += run_actions(run, spec, start=0)
    return ready


def _campaigns_of(channel_id: int) -> list[tuple[Campaign, CampaignSpec]]:
    """The channel's campaigns with their specs: read on every comment, so from the process's
    copy (`bot.platform.cache`; a saved campaign bumps the configuration version)."""
    return cache.cached("campaigns", channel_id, lambda: [
        (campaign, spec_of(campaign)) for campaign in Campaign.select().where(Campaign.channel == channel_id)])


def _actions(campaign_id: int) -> list[CampaignAction]:
    return cache.cached("campaign_actions", campaign_id, lambda: list(
        CampaignAction.select().where(CampaignAction.campaign == campaign_id).order_by(CampaignAction.position)))


def _record_run(campaign: Campaign, comment_id: str, post_id: str, reason: str, source: str) -> CampaignRun | None:
    fields = dict(campaign=campaign.id, comment_id=comment_id, post_id=post_id, matched=reason == "matched",
                  reason=reason, source=source, created_at=now_ms())
    row_id = insert_new(CampaignRun.insert(**fields))
    return CampaignRun(id=row_id, **fields) if row_id else None  # as inserted, not read back


def run_actions(run: CampaignRun, spec: CampaignSpec, start: int) -> list[int]:
    """Execute actions from `start` until the end or a Wait (which schedules the rest)."""
    comment = cache.memo("comment", run.comment_id, lambda: Comment.get(Comment.comment_id == run.comment_id))
    context = shortcode_context(comment)
    actions = _actions(run.campaign_id)
    ready: list[int] = []
    for action in actions[start:]:
        action_spec = spec.actions[action.position]
        if action.kind == "wait":
            due = now_ms() + (action_spec.seconds or 0) * 1000
            _step(run, action, "waiting", f"until {due}", due_at=due)
            schedule("continue_campaign", [run.id, action.position + 1], due,
                     dedupe_key=f"run:{run.id}:{action.position}")
            break
        ready += _run_action(run, action, action_spec, comment, context)
    return ready


def _run_action(run: CampaignRun, action: CampaignAction, spec: ActionSpec, comment: Comment,
                context: dict[str, str | None]) -> list[int]:
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
    if _dm_paused(comment):  # automations never talk over a human in the person's DM thread
        _step(run, action, "refused", PAUSED_DETAIL)
        return []
    if spec.kind == "start_flow":
        return _start_flow(run, action, spec, comment, key)
    content = _track_links(render_content(spec.message, context), run, action)
    content = _tag_payloads(content, run, action)
    draft = outbox.Draft(key=key, kind=SendKind.PRIVATE_REPLY, content=content, author="campaign",
                         comment_id=comment.comment_id, origin=key)
    ready = outbox.add(draft)
    _step(run, action, "queued", "private reply to the comment")
    return ready


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


def _step(run: CampaignRun, action: CampaignAction, status: str, detail: str, due_at: int | None = None) -> None:
    CampaignStep.insert(run=run, action=action, position=action.position, status=status, detail=detail,
                        due_at=due_at, created_at=now_ms()).on_conflict_ignore().execute()


def _track_links(content: MessageContent, run: CampaignRun, action: CampaignAction) -> MessageContent:
    """Link buttons go through PUBLIC_URL/r/<token>, which counts the click and forwards."""
    if not any(b.url for b in content.buttons):
        return content
    base = runtime.settings().public_url
    buttons = []
    for button in content.buttons:
        if button.url:
            token = secrets.token_urlsafe(12)
            TrackedLink.create(token=token, run=run, action=action, url=button.url, created_at=now_ms())
            button = msgspec.structs.replace(button, url=f"{base}/r/{token}")
        buttons.append(button)
    return msgspec.structs.replace(content, buttons=tuple(buttons))


def _tag_payloads(content: MessageContent, run: CampaignRun, action: CampaignAction) -> MessageContent:
    """Payload buttons carry the run and action, so a tap is counted for this campaign."""
    buttons = tuple(msgspec.structs.replace(b, payload=f"{POSTBACK_PREFIX}{run.id}:{action.id}:{b.payload}")
                    if b.payload else b for b in content.buttons)
    return msgspec.structs.replace(content, buttons=buttons)


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
    messages: list[str]  # rendered texts of the message / reply actions


class DryRunReport(msgspec.Struct):
    comments: int
    matched: int
    skipped: dict[str, int]
    eligible_for_private_reply: int  # matched and still within Meta's 7-day private-reply window
    samples: list[DryRunSample]
    matched_comment_ids: list[str]


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
    matched: list[Comment] = []
    comments = list(comments_for_dry_run(spec.channel_id, now - days * 86400 * 1000))
    for comment in comments:
        handled_now = comment.comment_id in handled
        reason = "already_handled" if handled_now else match(spec.trigger, True, _facts(comment, spec))
        if reason == "matched":
            matched.append(comment)
        else:
            skipped[reason] = skipped.get(reason, 0) + 1
    eligible = [c for c in matched if c.deleted_at is None and c.created_at + PRIVATE_REPLY_MS > now]
    return DryRunReport(comments=len(comments), matched=len(matched), skipped=skipped,
                        eligible_for_private_reply=len(eligible),
                        samples=[_sample(spec, c) for c in matched[:samples]],
                        matched_comment_ids=[c.comment_id for c in matched])


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
    now = now_ms()
    ready: list[int] = []
    answered = 0
    with transaction():
        for comment in comments_for_dry_run(spec.channel_id, now - days * 86400 * 1000):
            if comment.deleted_at or comment.created_at + PRIVATE_REPLY_MS <= now:
                continue
            if match(spec.trigger, True, _facts(comment, spec)) != "matched":
                continue
            run = _record_run(campaign, comment.comment_id, comment.post_id, "matched", "past_comment")
            if run is not None:
                answered += 1
                ready += run_actions(run, spec, start=0)
    return PastComments(comments=answered, messages=ready)


def _facts(comment: Comment, spec: CampaignSpec | None = None) -> CommentFacts:
    wanted = spec is not None and bool(spec.trigger.attribute_conditions)
    return CommentFacts(post_id=comment.post_id, parent_id=comment.parent_id, text=comment.text,
                        by_account=comment.by_account, from_id=comment.from_id,
                        attributes=_commenter_attributes(comment.channel_id, comment.from_id) if wanted else None)


def _commenter_attributes(channel_id: int, from_id: str | None) -> dict[str, str]:
    """The custom attributes of the contact behind a commenter (none while unknown)."""
    identity = Identity.get_or_none((Identity.channel == channel_id) & (Identity.scoped_id == from_id)) \
        if from_id else None
    return attribute_values(identity.contact_id if identity else None)


def _sample(spec: CampaignSpec, comment: Comment) -> DryRunSample:
    context = shortcode_context(comment)
    texts = []
    for action in spec.actions:
        if action.kind == "send_message" and action.message and action.message.text:
            texts.append(render(action.message.text, context))
        elif action.kind == "reply_comment" and action.text:
            texts.append(render(action.text, context))
    return DryRunSample(comment_id=comment.comment_id, comment_text=comment.text,
                        author=comment.from_name or comment.from_username, messages=texts)
