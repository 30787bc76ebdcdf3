"""Conditions on a person's custom attributes, shared by campaigns (a trigger's audience, an
action's "only if") and bot flows (a transition's `when`).

A condition names an attribute `key`, an operator and a `value`. Which operators fit depends on
the attribute's type (`bot.helpdesk.attributes`): text compares without case or accents
(equals, not_equals, contains), numbers as numbers (equals, not_equals, less_than,
greater_than), dates as days (equals, before, after), a list attribute's choice (equals,
not_equals, one_of with `values`); any attribute can be asked `is_set` / `is_not_set`.
`validate` checks conditions against the definitions when a campaign or flow is saved, each
error naming the field. `miss` evaluates them against a person's stored values (canonical text)
without the database, so the flow runner stays pure: it reads the comparison from the operator
and the attribute's declared type (`kinds`, key -> type, from `bot.automation.context`) -- never
from how the value looks, so on a text attribute "007" is not "7" while on a number attribute
"1.50" is "1.5" -- and returns why a condition failed, in words, for the dry run and the ledger.
"""

from __future__ import annotations

import datetime
import math
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

import msgspec

from bot.core.errors import Invalid
from bot.platform.models import AttributeDefinition

OPS: dict[str, tuple[str, ...]] = {
    "text": ("equals", "not_equals", "contains", "is_set", "is_not_set"),
    "number": ("equals", "not_equals", "less_than", "greater_than", "is_set", "is_not_set"),
    "date": ("equals", "before", "after", "is_set", "is_not_set"),
    "list": ("equals", "not_equals", "one_of", "is_set", "is_not_set"),
}
WORDS = {"equals": "is", "not_equals": "is not", "contains": "contains", "less_than": "is less than",
         "greater_than": "is greater than", "before": "is before", "after": "is after", "one_of": "is one of"}
MAX_CONDITIONS = 5
MAX_VALUE = 200
MAX_VALUES = 50


class Condition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """The person's attribute `key` compared by `op` with `value` (or, for one_of, `values`)."""

    key: str
    op: str = "equals"
    value: str = ""
    values: list[str] = []


# --- typed values ------------------------------------------------------------------------------------------------


def parse_number(text: str) -> Decimal | None:
    """A finite number of at most 15 integer digits, or None."""
    try:
        number = Decimal(text.strip()) if len(text) <= 40 else None
    except InvalidOperation:
        return None
    if number is None or not math.isfinite(number) or abs(number) >= Decimal(10) ** 15:
        return None
    return number


def parse_date(text: str) -> datetime.date | None:
    """A date written YYYY-MM-DD, or None."""
    text = text.strip()
    try:
        return datetime.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Café" and "cafe" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


# --- checking when saved -------------------------------------------------------------------------------------


def validate(conditions: Sequence[Condition], field: str) -> None:
    """Each condition names a defined attribute, an operator of its type and a value of its type."""
    if len(conditions) > MAX_CONDITIONS:
        raise Invalid(field, f"at most {MAX_CONDITIONS} conditions")
    if not conditions:
        return
    defined = {d.key: d for d in AttributeDefinition.select()}
    for index, condition in enumerate(conditions):
        where = f"{field}[{index}]"
        definition = defined.get(condition.key)
        if definition is None:
            raise Invalid(f"{where}.key", "no custom attribute with this key")
        ops = OPS.get(definition.kind, ())
        if condition.op not in ops:
            raise Invalid(f"{where}.op", f"a {definition.kind} attribute can be compared with: {', '.join(ops)}")
        _check_value(condition, definition, where)


def _check_value(condition: Condition, definition: AttributeDefinition, where: str) -> None:
    if condition.op in ("is_set", "is_not_set"):
        return
    if condition.op == "one_of":
        _check_choices(condition.values, definition, f"{where}.values")
        return
    value = condition.value.strip()
    if not 0 < len(value) <= MAX_VALUE:
        raise Invalid(f"{where}.value", f"must be 1 to {MAX_VALUE} characters")
    if definition.kind == "number" and parse_number(value) is None:
        raise Invalid(f"{where}.value", "must be a number (like 42 or -3.5)")
    if definition.kind == "date" and parse_date(value) is None:
        raise Invalid(f"{where}.value", "must be a date as YYYY-MM-DD")
    if definition.kind == "list" and value not in (definition.choices or []):
        raise Invalid(f"{where}.value", f"must be one of: {', '.join(definition.choices or [])}")


def _check_choices(values: list[str], definition: AttributeDefinition, where: str) -> None:
    if not 0 < len(values) <= MAX_VALUES:
        raise Invalid(where, f"give 1 to {MAX_VALUES} choices")
    for index, value in enumerate(values):
        if value not in (definition.choices or []):
            raise Invalid(f"{where}[{index}]", f"must be one of: {', '.join(definition.choices or [])}")


# --- evaluating ------------------------------------------------------------------------------------------------


def miss(conditions: Sequence[Condition], attributes: Mapping[str, str], kinds: Mapping[str, str]) -> str | None:
    """Why the first failing condition fails (in words), or None when all hold. `kinds` gives
    each attribute's declared type; an attribute no longer defined compares as text."""
    for condition in conditions:
        reason = _failure(condition, attributes.get(condition.key), kinds.get(condition.key, "text"))
        if reason is not None:
            return reason
    return None


def holds(conditions: Sequence[Condition], attributes: Mapping[str, str], kinds: Mapping[str, str]) -> bool:
    return miss(conditions, attributes, kinds) is None


def describe(condition: Condition) -> str:
    """The condition as staff read it: `plan is gold`, `orders is greater than 3`."""
    if condition.op in ("is_set", "is_not_set"):
        return f"{condition.key} {'is set' if condition.op == 'is_set' else 'is not set'}"
    wanted = ", ".join(condition.values) if condition.op == "one_of" else condition.value.strip()
    return f"{condition.key} {WORDS.get(condition.op, condition.op)} {wanted}"


def _failure(condition: Condition, value: str | None, kind: str) -> str | None:
    if condition.op == "is_not_set":
        return None if value is None else f"{condition.key} is set ({value}), wanted not set"
    if value is None:
        return f"{condition.key} is not set (wanted: {describe(condition)})"
    if _compare(condition, value, kind):
        return None
    return f"{condition.key} is {value} (wanted: {describe(condition)})"


def _compare(condition: Condition, value: str, kind: str) -> bool:
    op, wanted = condition.op, condition.value
    if op == "is_set":
        return True
    if op == "one_of":
        return fold(value) in {fold(v) for v in condition.values}
    if op in ("less_than", "greater_than"):
        return _ordered(parse_number(value), parse_number(wanted), op == "less_than")
    if op in ("before", "after"):
        return _ordered(parse_date(value), parse_date(wanted), op == "before")
    if op == "contains":
        return fold(wanted) in fold(value)
    same = _same(value, wanted, kind)
    return same if op == "equals" else not same


def _ordered(have: object, wanted: object, less: bool) -> bool:
    if have is None or wanted is None:
        return False  # a stored value of another type (the definition changed) never matches
    return have < wanted if less else have > wanted  # type: ignore[operator]


def _same(value: str, wanted: str, kind: str) -> bool:
    """By the attribute's declared type: a number as a number (1.50 = 1.5), a date as a day,
    text and list choices as folded text -- so on a text attribute "007" is not "7"."""
    if kind == "number":
        have, want = parse_number(value), parse_number(wanted)
        return have is not None and have == want  # a stored value of another type never matches
    if kind == "date":
        day = parse_date(value)
        return day is not None and day == parse_date(wanted)
    return fold(value) == fold(wanted)
