"""Custom attributes on contacts: admins define them (a key, a label, a type), staff set values.

Types are text, number, date (YYYY-MM-DD) and list (one of the definition's choices). A value is
checked by its type when set and stored as canonical text (`1.50` -> `1.5`, ` 2026-01-02 ` ->
`2026-01-02`), so shortcodes (`{{ attributes.vip_level }}`) render what staff see and campaign
conditions compare plain strings. A bad value is an `Invalid` naming `attributes.<key>`.
"""

from __future__ import annotations

import re

import msgspec

from bot.automation.conditions import parse_date, parse_number
from bot.automation.context import attribute_values
from bot.core.errors import Invalid, NotFound
from bot.platform.db import now_ms, storable_text, transaction
from bot.platform.models import AttributeDefinition, Contact, ContactAttribute

KINDS = ("text", "number", "date", "list")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")  # a template identifier: `attributes.<key>`
RESERVED = frozenset(dir(dict))  # `attributes.items` would name the dict's method, not a value
MAX_DEFINITIONS = 100
MAX_LABEL = 100
MAX_CHOICES = 50
MAX_CHOICE = 100
MAX_TEXT = 500


class AttributeView(msgspec.Struct):
    key: str
    label: str
    kind: str
    choices: list[str]


def define(key: str, label: str, kind: str, choices: list[str] | None = None) -> AttributeView:
    """Add an attribute definition; the key is fixed once values use it (delete and re-create)."""
    key = _checked_key(key)
    label = _checked_label(label or key)
    if kind not in KINDS:
        raise Invalid("kind", f"must be one of {', '.join(KINDS)}")
    options = _checked_choices(choices or []) if kind == "list" else []
    if choices and kind != "list":
        raise Invalid("choices", "only a list attribute has choices")
    with transaction():
        if AttributeDefinition.select().count() >= MAX_DEFINITIONS:
            raise Invalid("key", f"at most {MAX_DEFINITIONS} attributes")
        if AttributeDefinition.get_or_none(AttributeDefinition.key == key) is not None:
            raise Invalid("key", f"an attribute {key!r} exists already")
        row = AttributeDefinition.create(key=key, label=label, kind=kind, choices=options, created_at=now_ms())
    return view_of(row)


def _checked_key(key: str) -> str:
    key = (key or "").strip()
    if not KEY.match(key):
        raise Invalid("key", "1 to 50 lowercase letters, digits or _, starting with a letter")
    if key in RESERVED:
        raise Invalid("key", f"{key!r} is reserved (it names a built-in of templates)")
    return key


def _checked_label(label: str) -> str:
    label = storable_text(label.strip())
    if not 0 < len(label) <= MAX_LABEL:
        raise Invalid("label", f"must be 1 to {MAX_LABEL} characters")
    return label


def _checked_choices(choices: list[str]) -> list[str]:
    cleaned = [storable_text(c.strip()) for c in choices]
    if not 0 < len(cleaned) <= MAX_CHOICES:
        raise Invalid("choices", f"a list attribute needs 1 to {MAX_CHOICES} choices")
    for i, choice in enumerate(cleaned):
        if not 0 < len(choice) <= MAX_CHOICE:
            raise Invalid(f"choices[{i}]", f"must be 1 to {MAX_CHOICE} characters")
    if len(set(cleaned)) != len(cleaned):
        raise Invalid("choices", "each choice once")
    return cleaned


def remove(key: str) -> None:
    """Delete a definition and every contact's value of it."""
    if AttributeDefinition.delete().where(AttributeDefinition.key == key).execute() == 0:
        raise NotFound("attribute", key)


def definitions() -> list[AttributeView]:
    return [view_of(d) for d in AttributeDefinition.select().order_by(AttributeDefinition.key)]


def view_of(row: AttributeDefinition) -> AttributeView:
    return AttributeView(key=row.key, label=row.label, kind=row.kind, choices=list(row.choices or []))


def set_values(contact_id: int, values: dict[str, str | float | None]) -> dict[str, str]:
    """Set (or with None clear) several values of a contact at once: all are checked before any
    is stored, so one bad value changes nothing. Returns the contact's values."""
    _contact(contact_id)
    by_key = {d.key: d for d in AttributeDefinition.select().where(AttributeDefinition.key.in_(list(values)))}
    checked = {key: _checked_or_cleared(_definition(by_key, key), raw) for key, raw in values.items()}
    with transaction():
        for key, value in checked.items():
            _store(contact_id, by_key[key], value)
    return attribute_values(contact_id)


def _checked_or_cleared(definition: AttributeDefinition, raw: str | float | None) -> str | None:
    return None if raw is None or raw == "" else checked_value(definition, raw)


def _definition(by_key: dict[str, AttributeDefinition], key: str) -> AttributeDefinition:
    if key not in by_key:
        raise Invalid(f"attributes.{key}"[:120], "no such attribute (an admin defines attributes first)")
    return by_key[key]


def _store(contact_id: int, definition: AttributeDefinition, value: str | None) -> None:
    where = (ContactAttribute.contact == contact_id) & (ContactAttribute.attribute == definition.id)
    ContactAttribute.delete().where(where).execute()
    if value is not None:
        ContactAttribute.create(contact=contact_id, attribute=definition.id, value=value, updated_at=now_ms())


def clear(contact_id: int, key: str) -> dict[str, str]:
    _contact(contact_id)
    definition = AttributeDefinition.get_or_none(AttributeDefinition.key == key)
    if definition is None:
        raise NotFound("attribute", key)
    _store(contact_id, definition, None)
    return attribute_values(contact_id)


def checked_value(definition: AttributeDefinition | AttributeView, raw: str | float) -> str:
    """The canonical text of `raw` for this attribute's type, or Invalid naming the field."""
    field = f"attributes.{definition.key}"
    text = str(raw).strip() if not isinstance(raw, bool) else ""
    if definition.kind == "number":
        return _number(text, field)
    if definition.kind == "date":
        return _date(text, field)
    if definition.kind == "list":
        if text not in (definition.choices or []):
            raise Invalid(field, f"must be one of: {', '.join(definition.choices or [])}")
        return text
    if not 0 < len(text) <= MAX_TEXT:
        raise Invalid(field, f"must be 1 to {MAX_TEXT} characters")
    return storable_text(text)


def _number(text: str, field: str) -> str:
    number = parse_number(text)
    if number is None:
        raise Invalid(field, "must be a number (like 42 or -3.5)")
    canonical = format(number.normalize(), "f")
    return canonical if canonical != "-0" else "0"


def _date(text: str, field: str) -> str:
    day = parse_date(text)
    if day is None:
        raise Invalid(field, "must be a date as YYYY-MM-DD")
    return day.isoformat()


def _contact(contact_id: int) -> None:
    if not Contact.select().where(Contact.id == contact_id).exists():
        raise NotFound("contact", contact_id)
