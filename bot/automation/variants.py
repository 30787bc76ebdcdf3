"""A/B variants of a campaign's private message (issue 22).

A `send_message` action may carry 2-6 weighted variants instead of one message: each run picks
one at random in proportion to the weights, the ledger step records which one went
(`CampaignStep.variant`, shown as A, B, C...), and `compare` sets the variants side by side on the
funnel sent -> read -> clicked -> replied, counted from the same stored facts as the campaign's
funnel (private replies Meta accepted, their read receipts, button clicks, the person's later
messages), with rates against the variant's sent count.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import msgspec

from bot.core.compose import MessageContent, check_content_templates, validate_content
from bot.core.errors import Invalid
from bot.platform.models import ButtonClick, CampaignAction, CampaignStep, Message

MIN_VARIANTS, MAX_VARIANTS = 2, 6
MAX_WEIGHT = 100
SENT_STATES = ("sent", "delivered", "read")


class MessageVariant(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One version of the message; `weight` is its share of the runs relative to the others."""

    message: MessageContent
    weight: int = 1


def letter(index: int) -> str:
    return chr(ord("A") + index)


def validate(variants: list[MessageVariant], platform: str, field: str) -> None:
    """2 to 6 variants, weights 1-100, each message valid on its own (errors name the field)."""
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise Invalid(f"{field}.variants", f"give {MIN_VARIANTS} to {MAX_VARIANTS} variants, or one message")
    for i, variant in enumerate(variants):
        name = f"{field}.variants[{i}]"
        if not 1 <= variant.weight <= MAX_WEIGHT:
            raise Invalid(f"{name}.weight", f"must be between 1 and {MAX_WEIGHT}")
        check_content_templates(variant.message, f"{name}.message")
        validate_content(variant.message, platform, f"{name}.message")


def pick(variants: list[MessageVariant], rng: random.Random | None = None) -> int:
    """The index of the variant this run sends, drawn in proportion to the weights."""
    weights = [v.weight for v in variants]
    return (rng or random).choices(range(len(variants)), weights=weights)[0]


def share(variants: list[MessageVariant], index: int) -> float:
    """The variant's expected share of runs (shown next to the measured one)."""
    return variants[index].weight / sum(v.weight for v in variants)


# --- stats ----------------------------------------------------------------------------------------


class VariantStats(msgspec.Struct):
    """One variant of one action on the funnel; rates are fractions of `sent` (0 when none)."""

    action_id: int
    position: int
    variant: str  # "A", "B", ...
    weight: int
    text: str | None
    chosen: int  # runs that picked it
    sent: int
    read: int
    clicked: int
    replied: int
    read_rate: float
    click_rate: float
    reply_rate: float


def compare(campaign_id: int, messages: list[Message], clicks: list[ButtonClick],
            replied: Callable[[Message], bool]) -> list[VariantStats]:
    """Every variant of every A/B action of the campaign; `messages` are the campaign's outgoing
    messages and `clicks` its button clicks (as the funnel reads them)."""
    result = []
    for action in CampaignAction.select().where(CampaignAction.campaign == campaign_id).order_by(
            CampaignAction.position):
        variants = _variants_of(action)
        if not variants:
            continue
        chosen = _chosen(action)
        for index, variant in enumerate(variants):
            runs = {run for run, picked in chosen.items() if picked == index}
            result.append(_stats(action, index, variant, runs, messages, clicks, replied))
    return result


def _variants_of(action: CampaignAction) -> list[MessageVariant]:
    raw = (action.config or {}).get("variants") or []
    return msgspec.convert(raw, list[MessageVariant]) if action.kind == "send_message" else []


def _chosen(action: CampaignAction) -> dict[int, int]:
    """run id -> the variant its step recorded."""
    steps = CampaignStep.select(CampaignStep.run, CampaignStep.variant).where(
        (CampaignStep.action == action.id) & CampaignStep.variant.is_null(False))
    return {s.run_id: s.variant for s in steps}


def _stats(action: CampaignAction, index: int, variant: MessageVariant, runs: set[int], messages: list[Message],
           clicks: list[ButtonClick], replied: Callable[[Message], bool]) -> VariantStats:
    sent = [m for m in messages if m.send_kind == "private_reply" and m.status in SENT_STATES
            and _run_action(m)[1] == action.id and _run_action(m)[0] in runs]
    clicked = len({c.run_id for c in clicks if c.action_id == action.id and c.run_id in runs})
    read = sum(1 for m in sent if m.status == "read")
    answered = sum(1 for m in sent if replied(m))
    return VariantStats(action_id=action.id, position=action.position, variant=letter(index), weight=variant.weight,
                        text=variant.message.text, chosen=len(runs), sent=len(sent), read=read, clicked=clicked,
                        replied=answered, read_rate=_rate(read, len(sent)), click_rate=_rate(clicked, len(sent)),
                        reply_rate=_rate(answered, len(sent)))


def _run_action(message: Message) -> tuple[int, int]:
    """(run id, action id) from the origin `campaign:<run>:<action>[:...]`."""
    parts = (message.origin or "").split(":")
    return int(parts[1]), int(parts[2])


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
