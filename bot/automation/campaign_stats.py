"""Campaign funnels counted from stored facts only (ledger rows, outgoing messages and their
Meta statuses, clicks, the person's later messages), so the numbers match what happened.

received -> matched -> private reply accepted by Meta -> delivered -> read -> clicked -> replied,
plus failures by reason and a per-day series.

One unit per chart: the funnel and the per-day series count people (one per comment a campaign
handled: a run), each once per stage; the per-action table counts message parts (one Send API
message each), which is what Meta accepts, delivers and reports read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

import msgspec
from peewee import fn

from bot.automation import moderation, variants
from bot.automation.context import parse_payload
from bot.core import events as ev
from bot.platform.db import now_ms
from bot.platform.models import (
    ButtonClick,
    Campaign,
    CampaignAction,
    CampaignRun,
    CommentModeration,
    Message,
    TrackedLink,
)


class ActionStats(msgspec.Struct):
    """One action's message parts by how far they went (`clicked` counts people)."""

    action_id: int
    position: int
    kind: str
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    clicked: int = 0
    refused: int = 0
    failed: int = 0


class Funnel(msgspec.Struct):
    campaign_id: int
    received: int  # comments on the watched posts (story campaigns: story events of their kind)
    matched: int
    sent: int  # private replies accepted by Meta (story campaigns: their DMs)
    delivered: int
    read: int
    clicked: int
    replied: int
    skipped: dict[str, int]  # ledger reasons other than matched
    failures: dict[str, int]  # outgoing failures and refusals by reason
    per_day: list[dict]  # {"day", "matched", "sent", "clicked"}: people, each on the day they got there
    actions: list[ActionStats]
    moderated: dict[str, int] = {}  # liked / hidden / <action>_<refused|failed|skipped> (issue 22)
    variants: list[variants.VariantStats] = []  # A/B actions: each variant on sent -> read -> clicked -> replied


def record_postback(event: ev.Postback) -> None:
    """A tap on a campaign's payload button counts as a click (once per postback event)."""
    parsed = parse_payload(event.payload)
    if parsed is None:
        return
    run_id, action_id, _ = parsed
    if not CampaignRun.select().where(CampaignRun.id == run_id).exists():
        return
    ButtonClick.insert(run=run_id, action=action_id, kind="postback", key=event.event_key,
                       created_at=now_ms()).on_conflict_ignore().execute()


def record_link_click(token: str) -> str | None:
    """Count a click on a tracked link and return where to forward (None: unknown token)."""
    link = TrackedLink.get_or_none(TrackedLink.token == token)
    if link is None:
        return None
    now = now_ms()
    first = fn.COALESCE(TrackedLink.first_clicked_at, now)
    TrackedLink.update(clicks=TrackedLink.clicks + 1, first_clicked_at=first).where(
        TrackedLink.id == link.id).execute()
    ButtonClick.insert(run=link.run_id, action=link.action_id, kind="link", key=f"link:{token}:{now}",
                       created_at=now).on_conflict_ignore().execute()
    return link.url


def funnel(campaign_id: int) -> Funnel:
    campaign = Campaign.get_by_id(campaign_id)
    runs = list(CampaignRun.select().where(CampaignRun.campaign == campaign))
    matched_runs = [r for r in runs if r.matched]
    messages = _campaign_messages(campaign_id)
    private = _openers(campaign, messages)
    sent_private = [m for m in private if m.status in ("sent", "delivered", "read")]
    clicks = list(ButtonClick.select().join(CampaignRun).where(CampaignRun.campaign == campaign))
    clicked_runs = {c.run_id for c in clicks}
    moderated = moderation.campaign_rows([r.id for r in runs])
    return Funnel(
        campaign_id=campaign_id,
        received=_received(runs),
        matched=len(matched_runs),
        sent=len(sent_private),
        delivered=sum(1 for m in sent_private if m.status in ("delivered", "read")),
        read=sum(1 for m in sent_private if m.status == "read"),
        clicked=len(clicked_runs),
        replied=sum(1 for m in sent_private if _replied_after(m)),
        skipped=dict(Counter(r.reason for r in runs if not r.matched)),
        failures=dict(Counter(m.status_reason or m.status for m in messages if m.status in ("failed", "refused"))),
        per_day=_per_day(matched_runs, sent_private, clicks),
        actions=_per_action(campaign_id, messages, clicks, moderated),
        moderated=moderation.campaign_counts(moderated),
        variants=variants.compare(campaign_id, messages, clicks, _replied_after),
    )


def _openers(campaign: Campaign, messages: list[Message]) -> list[Message]:
    """The message that answers each trigger: the private reply to a comment, or for a story
    campaign (issue 22) the first part of each DM it sent (one per run and action)."""
    if campaign.trigger_kind == "comment":
        return [m for m in messages if m.send_kind == "private_reply"]
    return [m for m in messages if m.send_kind == "direct" and m.idempotency_key.endswith(":0")]


def _campaign_messages(campaign_id: int) -> list[Message]:
    prefix_runs = CampaignRun.select(CampaignRun.id).where(CampaignRun.campaign == campaign_id)
    run_ids = {r.id for r in prefix_runs}
    if not run_ids:
        return []
    rows = Message.select().where(Message.origin.startswith("campaign:") & (Message.direction == "out"))
    return [m for m in rows if int(m.origin.split(":")[1]) in run_ids]


def _received(runs: list[CampaignRun]) -> int:
    """Comments by people on the posts this campaign watches: every one it looked at (the ledger
    has a row per comment), whether it matched or not."""
    return sum(1 for r in runs if r.reason not in ("post_not_watched", "own_comment"))


def _replied_after(message: Message) -> bool:
    """Did the person write in their DM thread after our private reply reached them?"""
    return Message.select().where(
        (Message.conversation == message.conversation_id) & (Message.direction == "in")
        & (Message.occurred_at > (message.sent_at or 0))).exists()


def _per_day(matched: list[CampaignRun], sent: list[Message], clicks: list[ButtonClick]) -> list[dict]:
    """People per day, like the funnel: a person who clicks three times counts once, on the day of
    their first click (a private reply is one per person already)."""
    days: dict[str, Counter] = defaultdict(Counter)
    for run in matched:
        days[_day(run.created_at)]["matched"] += 1
    for message in sent:
        days[_day(message.sent_at or message.created_at)]["sent"] += 1
    first_click: dict[int, int] = {}
    for click in clicks:
        first_click[click.run_id] = min(click.created_at, first_click.get(click.run_id, click.created_at))
    for at in first_click.values():
        days[_day(at)]["clicked"] += 1
    return [{"day": day, "matched": c["matched"], "sent": c["sent"], "clicked": c["clicked"]}
            for day, c in sorted(days.items())]


def _per_action(campaign_id: int, messages: list[Message], clicks: list[ButtonClick],
                moderated: list[CommentModeration] | None = None) -> list[ActionStats]:
    result = []
    for action in CampaignAction.select().where(CampaignAction.campaign == campaign_id).order_by(
            CampaignAction.position):
        stats = ActionStats(action_id=action.id, position=action.position, kind=action.kind)
        for message in messages:
            if int(message.origin.split(":")[2]) != action.id:
                continue
            stats.queued += 1
            stats.sent += message.status in ("sent", "delivered", "read")
            stats.delivered += message.status in ("delivered", "read")
            stats.read += message.status == "read"
            stats.refused += message.status == "refused"
            stats.failed += message.status == "failed"
        stats.clicked = len({c.run_id for c in clicks if c.action_id == action.id})
        if action.kind in moderation.KINDS:  # a like / hide: "sent" is done on Meta
            done = moderation.action_counts(moderated or [], action.id)
            stats.queued, stats.sent = sum(done.values()), done["done"]
            stats.refused, stats.failed = done["refused"], done["failed"]
        result.append(stats)
    return result


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


# How far a message part went, least to furthest; failed and refused parts went nowhere.
PROGRESS = ("refused", "failed", "held", "queued", "pending", "sending", "sent", "delivered", "read")
STOPPED = ("refused", "failed")


def step_status(recorded: str, parts: list[str]) -> str:
    """A campaign step's status in words, from its message parts: the furthest state they reached
    (the step row says "queued" forever, though every part may have been read), then what waits
    for the person's answer and what failed."""
    if not parts:
        return recorded
    going = [p for p in parts if p not in STOPPED] or parts
    furthest = max(going, key=lambda p: PROGRESS.index(p) if p in PROGRESS else 0)
    notes = []
    if parts.count("held") and furthest != "held":
        notes.append(f"{_parts(parts.count('held'))} waiting for the person's answer")
    stopped = sum(p in STOPPED for p in parts)
    if stopped and stopped != len(parts):
        notes.append(f"{_parts(stopped)} not sent")
    words = "waiting for the person's answer" if furthest == "held" else furthest
    return " · ".join([words, *notes])


def _parts(count: int) -> str:
    return f"{count} part{'s' if count != 1 else ''}"
