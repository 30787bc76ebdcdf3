"""Conditions on custom attributes in the campaign editor: the trigger's audience and each
action's "only if" (issue 21). A row picks an attribute; the comparisons offered are those of its
type (`bot.automation.conditions.OPS`) and the value is entered as the type needs it: a choice
of the list (several for "is one of"), a date from a calendar, a number or text typed in. The
rules themselves are the service's: what it refuses is shown by the editor's problem display,
next to the action or the trigger. Every widget key carries the attribute's type, so switching
the attribute never leaves a comparison of another type selected.
"""

from __future__ import annotations

import datetime

import streamlit as st

from bot import queries
from bot.automation import conditions
from bot.automation.conditions import Condition
from bot.helpdesk.attributes import AttributeView
from dashboard import state
from dashboard.widgets import drafted

NONE = ""
NO_VALUE = ("is_set", "is_not_set")
OP_WORDS = {**conditions.WORDS, "is_set": "is set", "is_not_set": "is not set"}


def condition_fields(key: str, saved: list[Condition], title: str) -> None:
    """Rows of conditions under `title`; one choosing "(none)" is dropped on save."""
    definitions = {d.key: d for d in queries.attribute_definitions()}
    count = state.drafts().setdefault(key + "count", len(saved))
    if not definitions and not count:
        return
    st.caption(title)
    for index in range(count):
        _row(f"{key}{index}_", saved[index] if index < len(saved) else None, definitions)
    if definitions and count < conditions.MAX_CONDITIONS:
        st.button("Add a condition", icon=":material/filter_alt:", key=key + "add", on_click=_add, args=(key,))


def _add(key: str) -> None:
    state.drafts()[key + "count"] = state.drafts().get(key + "count", 0) + 1


def _row(row: str, saved: Condition | None, definitions: dict[str, AttributeView]) -> None:
    keys = [NONE, *definitions, *([saved.key] if saved and saved.key not in definitions else [])]
    key_col, op_col, value_col = st.columns([2, 1.3, 2.5])
    with key_col:
        attribute = drafted(st.selectbox, "Attribute", row + "key", saved.key if saved else NONE, options=keys,
                            format_func=lambda k: k or "(none)", label_visibility="collapsed")
    if not attribute:
        return
    definition = definitions.get(attribute)
    kind = definition.kind if definition else "text"
    ops = list(conditions.OPS[kind])
    with op_col:
        op = drafted(st.selectbox, "Comparison", f"{row}op_{kind}", saved.op if saved and saved.op in ops
                     else ops[0], options=ops, format_func=OP_WORDS.get, label_visibility="collapsed")
    with value_col:
        _value_field(row, kind, op, saved, definition.choices if definition else [])


def _value_field(row: str, kind: str, op: str, saved: Condition | None, choices: list[str]) -> None:
    """The value in the form the type needs (nothing for is set / is not set)."""
    key = f"{row}value_{kind}_{op}"
    if op in NO_VALUE:
        return
    if op == "one_of":
        drafted(st.multiselect, "Values", key, [v for v in (saved.values if saved else []) if v in choices],
                options=choices, placeholder="Choose one or more", label_visibility="collapsed")
    elif kind == "list":
        wanted = saved.value if saved and saved.value in choices else (choices[0] if choices else None)
        drafted(st.selectbox, "Value", key, wanted, options=choices, label_visibility="collapsed")
    elif kind == "date":
        drafted(st.date_input, "Date", key, conditions.parse_date(saved.value) if saved else None,
                format="YYYY-MM-DD", label_visibility="collapsed")
    else:
        drafted(st.text_input, "Value", key, saved.value if saved else "", label_visibility="collapsed",
                placeholder="a number, like 42 or -3.5" if kind == "number" else "text")


def conditions_from_state(key: str, saved: list[Condition]) -> list[Condition]:
    """The conditions as edited, in order; rows set to "(none)" are left out."""
    kinds = {d.key: d.kind for d in queries.attribute_definitions()}
    found: list[Condition] = []
    for index in range(state.drafts().get(key + "count", len(saved))):
        before = saved[index] if index < len(saved) else None
        condition = _condition(f"{key}{index}_", before, kinds)
        if condition is not None:
            found.append(condition)
    return found


def _condition(row: str, saved: Condition | None, kinds: dict[str, str]) -> Condition | None:
    attribute = state.value(row + "key", saved.key if saved else NONE)
    if not attribute:
        return None
    kind = kinds.get(attribute, "text")
    ops = conditions.OPS[kind]
    op = state.value(f"{row}op_{kind}", saved.op if saved and saved.op in ops else ops[0])
    if op in NO_VALUE:
        return Condition(key=attribute, op=op)
    if op == "one_of":
        return Condition(key=attribute, op=op, values=list(state.value(f"{row}value_{kind}_{op}",
                                                                       saved.values if saved else [])))
    entered = state.value(f"{row}value_{kind}_{op}", saved.value if saved else "")
    text = entered.isoformat() if isinstance(entered, datetime.date) else str(entered or "")
    return Condition(key=attribute, op=op, value=text.strip())
