"""Flows and per-conversation bot state in the database.

Saving validates the flow on its own (`spec.validate`) and against the other flows: one flow
per name, and a payload or keyword that starts a flow names exactly one flow where both could
run, otherwise which flow a button starts would depend on luck.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from bot.automation import conditions
from bot.automation.flows.spec import FlowSpec, fold_phrase, from_data, from_text, has_keyword, to_text, validate
from bot.core.errors import Invalid, NotFound
from bot.platform import cache, statements
from bot.platform.db import is_sqlite, now_ms, transaction
from bot.platform.models import BotState, Channel, Flow

# --- flows ------------------------------------------------------------


def save(spec: FlowSpec, flow_id: int | None = None) -> Flow:
    """Create or replace a flow after validating it; errors name the field."""
    validate(spec, _platforms(spec.channel_id))
    _check_conditions(spec)
    _check_against_others(spec, flow_id)
    now = now_ms()
    fields = dict(
        name=spec.name,
        title=spec.title,
        channel=spec.channel_id,
        is_active=spec.is_active,
        definition=msgspec.to_builtins(spec),
        updated_at=now,
    )
    with transaction():
        if flow_id is None:
            return Flow.create(created_at=now, **fields)
        if Flow.update(**fields).where(Flow.id == flow_id).execute() == 0:
            raise NotFound("flow", flow_id)
    return Flow.get_by_id(flow_id)


def _check_conditions(spec: FlowSpec) -> None:
    """Transitions' `when` against the attribute definitions (typed operators and values)."""
    for name, state in spec.states.items():
        for index, transition in enumerate(state.transitions):
            conditions.validate(transition.when, f"states.{name}.transitions[{index}].when")


def import_text(text: str, fmt: Literal["yaml", "json"] = "yaml") -> Flow:
    """Import a flow document: a flow of the same name is replaced, otherwise one is created."""
    spec = from_text(text, fmt)
    existing = Flow.get_or_none(Flow.name == spec.name)
    return save(spec, existing.id if existing else None)


def export_text(flow_id: int, fmt: Literal["yaml", "json"] = "yaml") -> str:
    return to_text(load(flow_id)[1], fmt)


def load(flow_id: int) -> tuple[Flow, FlowSpec]:
    row = Flow.get_or_none(Flow.id == flow_id)
    if row is None:
        raise NotFound("flow", flow_id)
    return row, spec_of(row)


def spec_of(row: Flow) -> FlowSpec:
    return from_data(row.definition)


def delete(flow_id: int) -> None:
    if Flow.delete().where(Flow.id == flow_id).execute() == 0:
        raise NotFound("flow", flow_id)


def list_flows(channel_id: int | None = None) -> list[Flow]:
    query = Flow.select().order_by(Flow.name)
    if channel_id is not None:
        query = query.where(Flow.channel.is_null() | (Flow.channel == channel_id))
    return list(query)


def runnable(name: str, channel_id: int) -> FlowSpec | None:
    """The active flow `name` if it may run on this channel."""
    return next((spec for spec in _active(channel_id) if spec.name == name), None)


def flow_for_payload(channel_id: int, payload: str) -> FlowSpec | None:
    """The active flow a payload names (Get Started, ice breakers, campaign buttons)."""
    return next((s for s in _active(channel_id) if payload in s.entry.payloads), None)


def flow_for_text(channel_id: int, text: str) -> FlowSpec | None:
    """The active flow one of whose entry keywords the text contains."""
    return next(
        (s for s in _active(channel_id) if s.entry.keywords and has_keyword(text, s.entry.keywords)), None
    )


def any_active(channel_id: int) -> bool:
    """Whether any flow may run on the channel (most channels of a helpdesk have none: a
    customer's text then needs no bot state)."""
    return bool(_active(channel_id))


def _active(channel_id: int) -> list[FlowSpec]:
    """The flows that may run on the channel, parsed: a copy per configuration version (saving a
    flow bumps it, migration 0032), read for every message a customer writes. Callers must not
    change them."""
    return cache.cached("active_flows", channel_id, lambda: [spec_of(row) for row in Flow.select().where(
        Flow.is_active & (Flow.channel.is_null() | (Flow.channel == channel_id))).order_by(Flow.id)])


def _platforms(channel_id: int | None) -> tuple[str, ...]:
    if channel_id is None:
        return ("facebook", "instagram")
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:
        raise Invalid("channel_id", "no such channel")
    return (channel.platform,)


def _check_against_others(spec: FlowSpec, flow_id: int | None) -> None:
    others = [r for r in Flow.select() if r.id != flow_id]
    if any(r.name == spec.name for r in others):
        raise Invalid("name", f"another flow is already named {spec.name!r}")
    names = {r.name for r in others} | {spec.name}
    for state_name, state in spec.states.items():
        for i, t in enumerate(state.transitions):
            if t.flow is not None and t.flow not in names:
                raise Invalid(f"states.{state_name}.transitions[{i}].flow", f"no flow named {t.flow!r}")
    for other in (spec_of(r) for r in others):
        if (
            other.channel_id is not None
            and spec.channel_id is not None
            and other.channel_id != spec.channel_id
        ):
            continue  # never run on the same channel
        _check_claims(spec, other)


def _check_claims(spec: FlowSpec, other: FlowSpec) -> None:
    for i, payload in enumerate(spec.entry.payloads):
        if payload in other.entry.payloads:
            raise Invalid(
                f"entry.payloads[{i}]", f"the payload {payload!r} already starts the flow {other.name!r}"
            )
    theirs = {fold_phrase(k) for k in other.entry.keywords}
    for i, keyword in enumerate(spec.entry.keywords):
        if fold_phrase(keyword) in theirs:
            raise Invalid(
                f"entry.keywords[{i}]", f"the keyword {keyword!r} already starts the flow {other.name!r}"
            )


# --- per-conversation bot state ------------------------------------------------------------


def state_of(conversation_id: int) -> BotState | None:
    return BotState.get_or_none(BotState.conversation == conversation_id)


def lock_state(conversation_id: int) -> BotState:
    """The conversation's bot state, locked until the caller's transaction ends. The DM thread's
    events step the flow under its conversation lock, but a campaign can start a flow for the
    same person from a comment (another lock): locking the row makes each see the other's
    committed state instead of overwriting it. (SQLite's write transactions are exclusive
    already; PostgreSQL takes the row lock.)"""
    return ensure_state(conversation_id, lock=not is_sqlite())


def ensure_state(conversation_id: int, *, lock: bool = False) -> BotState:
    """The conversation's bot state row, created empty on first use (concurrent-safe); with
    `lock`, read FOR UPDATE."""
    found = statements.select_one(BotState, {"conversation": conversation_id}, for_update=lock)
    if found is not None:  # nearly always: one statement
        return found
    statements.insert_new(BotState, {"conversation": conversation_id, "updated_at": now_ms()})
    return statements.select_one(BotState, {"conversation": conversation_id}, for_update=lock)


def set_position(
    conversation_id: int,
    flow_name: str | None,
    state: str | None,
    *,
    timeout_due_at: int | None = None,
    origin_comment_id: str | None = None,
    keep_origin: bool = True,
) -> BotState:
    """Move the conversation to (flow, state); `step` grows so older timeouts know they are stale."""
    row = ensure_state(conversation_id)
    origin = row.origin_comment_id if keep_origin and origin_comment_id is None else origin_comment_id
    if flow_name is None:
        origin = None
    BotState.update(
        flow_name=flow_name,
        state=state,
        step=BotState.step + 1,
        timeout_due_at=timeout_due_at,
        origin_comment_id=origin,
        updated_at=now_ms(),
    ).where(BotState.id == row.id).execute()
    return BotState.get_by_id(row.id)
