"""One step of a flow: (flow, saved state, the customer's answer) -> (next state, messages).

Pure: no database, no clock, no network. The live engine (`bot.automation.flows.engine`) loads the flow
and the conversation's saved state, asks here what happens, then stores the new state and
hands the messages to the outbox. Keeping the decision pure lets tests walk any flow, and the
editor preview a flow, without a conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.automation.flows.spec import END, FLOW_PREFIX, HANDOVER, FlowSpec, machine_for, timeout_of
from bot.core.compose import MessageContent

AnswerKind = Literal["postback", "quick_reply", "text", "timeout"]
Outcome = Literal["moved", "ended", "handover", "flow"]

# Which machine events an answer is offered to: the specific ones first; catch-alls (any text)
# only after the flows' entry keywords had their chance (see `bot.automation.flows.engine`).
SPECIFIC_EVENTS: dict[str, tuple[str, ...]] = {
    "postback": ("postback",),
    "quick_reply": ("quick_reply", "text"),
    "text": ("text",),
    "timeout": ("timeout",),
}
CATCH_ALL_EVENTS: dict[str, tuple[str, ...]] = {"quick_reply": ("any_text",), "text": ("any_text",)}


@dataclass(frozen=True)
class Answer:
    """What the customer did, as a flow sees it (a quick reply carries its title as text)."""

    kind: AnswerKind
    payload: str | None = None
    text: str | None = None
    attributes: Mapping[str, str] | None = None  # the person's custom attributes, for `when` conditions
    kinds: Mapping[str, str] | None = None  # their declared types, so `when` compares by type


@dataclass(frozen=True)
class Say:
    """A message to send on entering `state`; `reply` matters for comment-originated conversations."""

    state: str
    content: MessageContent
    reply: Literal["private", "public"] = "private"


@dataclass(frozen=True)
class Step:
    """Where the conversation stands after one step.

    `state` is the state to save (None: no flow runs any more); `flow` names the flow to start
    next (outcome "flow"); `timeout_seconds` is how long to wait for an answer in `state`."""

    outcome: Outcome
    state: str | None = None
    says: list[Say] = field(default_factory=list)
    flow: str | None = None
    timeout_seconds: int | None = None


def enter(flow: FlowSpec, state: str) -> Step:
    """Entering a state sends its message; a state without transitions ends the flow after it."""
    spec = flow.states[state]
    says = [Say(state, spec.message, spec.reply)] if spec.message is not None else []
    if not spec.transitions:
        return Step("ended", None, says)
    return Step("moved", state, says, timeout_seconds=timeout_of(spec))


def start(flow: FlowSpec) -> Step:
    return enter(flow, flow.start)


def advance(flow: FlowSpec, state: str, answer: Answer, *, catch_all: bool = False) -> Step | None:
    """The step the answer causes in `state`, or None when the state does not expect it.

    The machine picks the transition (first enabled one, in the order written); we read which
    one fired from its model and turn its target into a step."""
    if state not in flow.states:
        return None
    events = (CATCH_ALL_EVENTS if catch_all else SPECIFIC_EVENTS).get(answer.kind, ())
    machine, model = machine_for(flow, state)
    for event in events:
        machine.send(event, payload=answer.payload, text=answer.text, attributes=answer.attributes,
                     kinds=answer.kinds)
        if model.fired is not None:
            return _target_step(flow, model.fired.target)
    return None


def _target_step(flow: FlowSpec, target: str) -> Step:
    if target == END:
        return Step("ended")
    if target == HANDOVER:
        return Step("handover")
    if target.startswith(FLOW_PREFIX):
        return Step("flow", flow=target[len(FLOW_PREFIX) :])
    return enter(flow, target)
