"""A bot flow as data: what staff write (YAML or JSON), what is stored, and the state machine
built from it.

A flow is a set of named states. Entering a state sends its message; its transitions say what
moves the conversation on: a button's postback payload, a quick reply, a keyword, a pattern, any
text, or no answer within a time. A transition leads to another state, another flow, a human
(handover) or the end.

The machine itself is python-statemachine's (`statemachine.io`): one event per kind of answer
(`postback`, `quick_reply`, `text`, `any_text`, `timeout`), each flow transition a guarded
transition on it, tried in the order written. The library also finds unreachable states
(`statemachine.graph.disconnected_states`); the rest of the checks here are ours, each raising
`Invalid` with the dotted path of the offending field, so an editor can point at it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, Literal

import msgspec
import yaml
from statemachine import StateChart
from statemachine.exceptions import InvalidDefinition
from statemachine.graph import disconnected_states
from statemachine.io import create_machine_class_from_definition

from bot.automation.conditions import Condition, holds
from bot.core.compose import MessageContent, check_content_templates, validate_content
from bot.core.errors import Invalid

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_STATES = 100
MAX_TIMEOUT_SECONDS = 7 * 86400  # beyond that Meta's windows are closed anyway (meta-platform.md §7)
END, HANDOVER, FLOW_PREFIX = "end__", "handover__", "flow__"  # pseudo-states: user names never hold "__"
EVENTS = ("postback", "quick_reply", "text", "any_text", "timeout")


class Transition(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One way out of a state: exactly one trigger and exactly one target.

    Triggers: `postback` (a button's payload), `quick_reply` (its payload), `keywords` (any of
    these whole words or phrases, case- and accent-insensitive), `pattern` (a regular expression
    searched in the text), `any_text`, `timeout_seconds` (no answer within that time).
    Targets: `to` (a state of this flow), `flow` (another flow's name), `handover` (a human takes
    over: the bot pauses), `end`.
    `when`: conditions on the person's custom attributes (`bot.automation.conditions`) that must
    all hold too, so one answer can branch by attribute (first matching transition wins).
    """

    postback: str | None = None
    quick_reply: str | None = None
    keywords: list[str] = msgspec.field(default_factory=list)
    pattern: str | None = None
    any_text: bool = False
    timeout_seconds: int | None = None
    to: str | None = None
    flow: str | None = None
    handover: bool = False
    end: bool = False
    when: list[Condition] = msgspec.field(default_factory=list)

    @property
    def event(self) -> str:
        """The machine event this transition listens to."""
        if self.postback is not None:
            return "postback"
        if self.quick_reply is not None:
            return "quick_reply"
        if self.keywords or self.pattern is not None:
            return "text"
        return "any_text" if self.any_text else "timeout"

    @property
    def target(self) -> str:
        """The machine state it leads to (a pseudo-state for flow, handover and end)."""
        if self.to is not None:
            return self.to
        if self.flow is not None:
            return FLOW_PREFIX + self.flow
        return HANDOVER if self.handover else END


class StateSpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A step: the message sent on entering it, and its transitions (none: the flow ends here).

    `reply` matters when the conversation began from a comment: `private` answers by private
    message (Meta allows one private reply per comment, then the DM thread), `public` by a
    reply under the comment (text only)."""

    message: MessageContent | None = None
    reply: Literal["private", "public"] = "private"
    transitions: list[Transition] = msgspec.field(default_factory=list)


class EntrySpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """What starts the flow from anywhere: a payload that names it (campaign buttons, Get Started,
    ice breakers) or a keyword in a message."""

    payloads: list[str] = msgspec.field(default_factory=list)
    keywords: list[str] = msgspec.field(default_factory=list)


class FlowSpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A whole flow as staff write it. `channel_id` None means every channel."""

    name: str
    start: str
    states: dict[str, StateSpec]
    title: str = ""
    channel_id: int | None = None
    is_active: bool = True
    entry: EntrySpec = msgspec.field(default_factory=EntrySpec)


# --- import / export ---------------------------------------------------------------------------------


def from_text(text: str, fmt: Literal["yaml", "json"] = "yaml") -> FlowSpec:
    """Parse a flow document; any error is Invalid naming where it is."""
    try:
        raw = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise _unreadable(exc, text, fmt) from None
    return from_data(raw)


def _unreadable(exc: Exception, text: str, fmt: str) -> Invalid:
    """Where the document cannot be read and why, in a sentence (line and column counted from 1,
    the line quoted), instead of the parser's multi-line dump."""
    line = column = None
    what = "it cannot be read"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        line, column = exc.problem_mark.line + 1, exc.problem_mark.column + 1
        what = exc.problem or what
        if exc.context:
            what += f" ({exc.context})"
    elif isinstance(exc, json.JSONDecodeError):
        line, column, what = exc.lineno, exc.colno, exc.msg
    if line is None:
        return Invalid("document", f"the {fmt.upper()} cannot be read: {what}")
    lines = text.splitlines()
    quoted = f' — the line reads "{lines[line - 1].strip()[:80]}"' if 0 < line <= len(lines) else ""
    return Invalid("document", f"the {fmt.upper()} cannot be read on line {line}, column {column}: {what}{quoted}")


def from_data(raw: Any) -> FlowSpec:
    """Typed flow from plain data (decoded JSON or YAML)."""
    if not isinstance(raw, dict):
        raise Invalid("document", "the flow must be a mapping with name, start and states")
    try:
        return msgspec.convert(raw, FlowSpec)
    except msgspec.ValidationError as exc:
        path = _validation_path(str(exc))
        if path.startswith("states[...]"):  # msgspec hides dict keys: find the state by itself
            path = path.replace("states[...]", f"states.{_bad_state(raw.get('states') or {})}", 1)
        problem = _plain_problem(str(exc).split(" - at `")[0])
        raise Invalid(path, f"the flow {problem}" if path == "document" else problem) from None


TYPE_WORDS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
              "array": "a list", "object": "a mapping", "null": "empty"}


def _plain_problem(message: str) -> str:
    """msgspec's "Expected `str`, got `int`" and friends, in people's words."""
    found = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", message)
    if found:
        wanted = " or ".join(TYPE_WORDS.get(w.strip(), w.strip()) for w in found[1].split("|"))
        return f"must be {wanted}, not {TYPE_WORDS.get(found[2], found[2])}"
    found = re.fullmatch(r"Object missing required field `([^`]+)`", message)
    if found:
        return f"is missing the required field {found[1]}"
    found = re.fullmatch(r"Object contains unknown field `([^`]+)`", message)
    if found:
        return f"has a field flows do not know: {found[1]}"
    return message


def _validation_path(message: str) -> str:
    """msgspec says "... at `$.states[...].message`": keep the dotted path for the editor."""
    found = re.search(r"at `\$\.?([^`]*)`", message)
    return found.group(1) if found and found.group(1) else "document"


def _bad_state(states: dict[str, Any]) -> str:
    for name, state in states.items():
        try:
            msgspec.convert(state, StateSpec)
        except msgspec.ValidationError:
            return str(name)
    return "..."


def to_data(spec: FlowSpec) -> dict[str, Any]:
    return msgspec.to_builtins(spec)


def to_text(spec: FlowSpec, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """The flow as a document that `from_text` reads back to the same flow."""
    data = to_data(spec)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# --- validation ------------------------------------------------------------


def validate(spec: FlowSpec, platforms: tuple[str, ...] = ("facebook", "instagram")) -> None:
    """Every rule a flow must satisfy on its own (cross-flow rules are in `bot.automation.flows.store`).

    Messages are checked against each platform the flow may run on, so a flow for every channel
    keeps to Instagram's stricter text limit too."""
    _check_name(spec.name, "name")
    if not spec.states:
        raise Invalid("states", "add at least one state")
    if len(spec.states) > MAX_STATES:
        raise Invalid("states", f"at most {MAX_STATES} states")
    if spec.start not in spec.states:
        raise Invalid("start", f"no state named {spec.start!r}")
    for name, state in spec.states.items():
        _check_name(name, f"states.{name}")
        _check_state(state, f"states.{name}", spec.states, platforms)
    _check_entry(spec.entry)
    unreachable = unreachable_states(spec)
    if unreachable:
        raise Invalid(
            f"states.{unreachable[0]}",
            f"unreachable: no transition leads here from the start state {spec.start!r}",
        )


def _check_name(name: str, field: str) -> None:
    if not NAME_RE.match(name) or "__" in name:
        raise Invalid(
            field, "use 1-50 lowercase letters, digits and single underscores, starting with a letter"
        )


def _check_state(
    state: StateSpec, field: str, states: dict[str, StateSpec], platforms: tuple[str, ...]
) -> None:
    if state.message is not None:
        check_content_templates(state.message, f"{field}.message")
        for platform in platforms:
            validate_content(state.message, platform, f"{field}.message")
        if state.reply == "public" and (
            state.message.buttons or state.message.attachments or state.message.quick_replies
        ):
            raise Invalid(f"{field}.reply", "a public reply to a comment is text only")
    seen: dict[tuple[str, str, bytes], int] = {}
    for index, transition in enumerate(state.transitions):
        where = f"{field}.transitions[{index}]"
        _check_transition(transition, where, states)
        for claim in _trigger_keys(transition):
            key = (*claim, msgspec.json.encode(transition.when))  # another `when` is another branch
            if key in seen:
                raise Invalid(where, f"the same answer is already handled by transitions[{seen[key]}]")
            seen[key] = index


def _check_transition(t: Transition, field: str, states: dict[str, StateSpec]) -> None:
    triggers = [
        t.postback is not None,
        t.quick_reply is not None,
        bool(t.keywords),
        t.pattern is not None,
        t.any_text,
        t.timeout_seconds is not None,
    ]
    if sum(triggers) != 1:
        raise Invalid(
            field, "give exactly one of postback, quick_reply, keywords, pattern, any_text, timeout_seconds"
        )
    targets = [t.to is not None, t.flow is not None, t.handover, t.end]
    if sum(targets) != 1:
        raise Invalid(field, "give exactly one of to, flow, handover, end")
    if t.to is not None and t.to not in states:
        raise Invalid(f"{field}.to", f"no state named {t.to!r}")
    if t.flow is not None:
        _check_name(t.flow, f"{field}.flow")
    for name, payload in (("postback", t.postback), ("quick_reply", t.quick_reply)):
        if payload is not None and not payload.strip():
            raise Invalid(f"{field}.{name}", "must not be empty")
    _check_keywords(t.keywords, f"{field}.keywords")
    if t.pattern is not None:
        _check_pattern(t.pattern, f"{field}.pattern")
    if t.timeout_seconds is not None and not 0 < t.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise Invalid(f"{field}.timeout_seconds", f"must be between 1 and {MAX_TIMEOUT_SECONDS}")


def _trigger_keys(t: Transition) -> list[tuple[str, str]]:
    """What a transition claims, to refuse two transitions of one state claiming the same answer."""
    if t.postback is not None:
        return [("postback", t.postback)]
    if t.quick_reply is not None:
        return [("quick_reply", t.quick_reply)]
    if t.keywords:
        return [("keyword", fold_phrase(k)) for k in t.keywords]
    if t.pattern is not None:
        return [("pattern", t.pattern)]
    return [("any_text", "")] if t.any_text else [("timeout", "")]


def _check_keywords(keywords: list[str], field: str) -> None:
    for i, keyword in enumerate(keywords):
        if not fold_phrase(keyword):
            raise Invalid(f"{field}[{i}]", "a keyword needs at least one letter or digit")


def _check_pattern(pattern: str, field: str) -> None:
    if not pattern or len(pattern) > 200:
        raise Invalid(field, "must be 1-200 characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise Invalid(field, f"not a valid regular expression: {exc}") from None


def _check_entry(entry: EntrySpec) -> None:
    for i, payload in enumerate(entry.payloads):
        if not payload.strip() or len(payload) > 1000:
            raise Invalid(f"entry.payloads[{i}]", "must be 1-1000 characters")
    _check_keywords(entry.keywords, "entry.keywords")


def unreachable_states(spec: FlowSpec) -> list[str]:
    """States no path leads to from the start, found by the library on the built machine."""
    machine = _build(spec)
    lost = disconnected_states(machine.initial_state, set(machine.states_map.values()))
    return sorted(s.id for s in lost if s.id in spec.states)


# --- words ------------------------------------------------------------


def fold_phrase(text: str) -> str:
    """Words of `text`, case- and accent-insensitive, single-spaced (the campaigns' rule)."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def has_keyword(text: str, keywords: list[str]) -> bool:
    """Whole-word (or whole-phrase) match, so "hi" does not match "this"."""
    words = f" {fold_phrase(text)} "
    return any(f" {fold_phrase(k)} " in words for k in keywords if fold_phrase(k))


# --- the machine ------------------------------------------------------------


class Fired:
    """The model the machine runs on: its current state and which transition fired last."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.fired: Transition | None = None


def machine_for(spec: FlowSpec, state: str) -> tuple[StateChart, Fired]:
    """A machine of `spec` standing in `state` (a saved conversation's state)."""
    model = Fired(state)
    return _cached_class(msgspec.json.encode(spec))(model=model), model


@functools.lru_cache(maxsize=256)
def _cached_class(encoded: bytes) -> type[StateChart]:
    """Building the class costs more than running it, and a flow changes rarely: keyed by content."""
    return _build(msgspec.json.decode(encoded, type=FlowSpec))


def _build(spec: FlowSpec) -> type[StateChart]:
    states: dict[str, dict[str, Any]] = {}
    for name, state in spec.states.items():
        definition: dict[str, Any] = {"initial": name == spec.start}
        if not state.transitions:
            definition["final"] = True
        else:
            definition["on"] = _events_of(state)
        states[name] = definition
    for target in {t.target for s in spec.states.values() for t in s.transitions if t.to is None}:
        states[target] = {"final": True}
    try:
        return create_machine_class_from_definition(
            f"Flow_{spec.name}",
            states=states,
            validate_disconnected_states=False,
            validate_final_reachability=False,
            catch_errors_as_events=False,
        )
    except InvalidDefinition as exc:  # our own checks should have caught it first
        raise Invalid("states", str(exc)) from None


def _events_of(state: StateSpec) -> dict[str, list[dict[str, Any]]]:
    events: dict[str, list[dict[str, Any]]] = {}
    for transition in state.transitions:
        events.setdefault(transition.event, []).append(
            {"target": transition.target, "cond": _guard(transition), "on": _recorder(transition)}
        )
    return events


def _guard(t: Transition) -> Callable[..., bool]:
    """Whether this transition takes the answer and its `when` holds for the person."""
    takes = _answer_guard(t)
    if not t.when:
        return takes
    return lambda attributes=None, kinds=None, **kw: takes(**kw) and holds(t.when, attributes or {}, kinds or {})


def _answer_guard(t: Transition) -> Callable[..., bool]:
    """Whether this transition takes the answer; the machine injects the event's keywords."""
    if t.postback is not None or t.quick_reply is not None:
        expected = t.postback if t.postback is not None else t.quick_reply

        def same_payload(payload: str | None = None, **_: Any) -> bool:
            return payload == expected

        return same_payload
    if t.keywords:
        return lambda text=None, **_: has_keyword(text or "", t.keywords)
    if t.pattern is not None:
        compiled = re.compile(t.pattern, re.IGNORECASE)
        return lambda text=None, **_: bool(compiled.search(text or ""))
    return lambda **_: True


def _recorder(t: Transition) -> Callable[..., None]:
    def record(model: Fired, **_: Any) -> None:
        model.fired = t

    return record


def timeout_of(state: StateSpec) -> int | None:
    """Seconds to wait for an answer in this state, if it has a timeout transition."""
    return next((t.timeout_seconds for t in state.transitions if t.timeout_seconds is not None), None)


def to_dot(spec: FlowSpec, current: str | None = None) -> str:
    """The flow as graphviz DOT, drawn from the same data the machine is built from."""
    lines = [
        "digraph flow {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname="Helvetica"];',
        "  __start [shape=point];",
        f'  __start -> "{spec.start}";',
    ]
    for name, state in spec.states.items():
        text = (state.message.text or "") if state.message else ""
        label = f"{name}\\n{_dot_escape(text[:40])}" if text else name
        extra = ', style="rounded,filled", fillcolor="turquoise"' if name == current else ""
        shape = ", peripheries=2" if not state.transitions else ""
        lines.append(f'  "{name}" [label="{label}"{shape}{extra}];')
    for name, state in spec.states.items():
        for t in state.transitions:
            lines.append(f'  "{name}" -> "{_dot_target(t)}" [label="{_dot_escape(_trigger_label(t))}"];')
    lines.append("}")
    return "\n".join(lines)


def _dot_target(t: Transition) -> str:
    if t.to is not None:
        return t.to
    return f"[flow {t.flow}]" if t.flow else ("[human]" if t.handover else "[end]")


def _trigger_label(t: Transition) -> str:
    if t.postback is not None:
        return f"button {t.postback}"
    if t.quick_reply is not None:
        return f"quick reply {t.quick_reply}"
    if t.keywords:
        return "says " + " / ".join(t.keywords)
    if t.pattern is not None:
        return f"matches {t.pattern}"
    return "any text" if t.any_text else f"no answer in {t.timeout_seconds}s"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
