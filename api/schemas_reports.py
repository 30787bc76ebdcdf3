"""REST request bodies and parameters of custom attributes and reports (issue 21). Bodies refuse
unknown fields; the rules (key syntax, types, choices) stay in `bot.helpdesk.attributes`."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.openapi.spec import Example
from litestar.params import Body, Parameter

from bot.helpdesk.attributes import MAX_CHOICE, MAX_CHOICES, MAX_LABEL, MAX_TEXT

MAX_MS = 2**53
AttributeValue = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | float | None


class AttributeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A custom attribute: `key` (used as `{{ attributes.<key> }}`), a label for staff, a type
    (text | number | date | list) and, for a list, its choices."""

    key: Annotated[str, msgspec.Meta(max_length=50)]
    label: Annotated[str, msgspec.Meta(max_length=MAX_LABEL)] = ""
    kind: Annotated[str, msgspec.Meta(max_length=10)]
    choices: Annotated[list[Annotated[str, msgspec.Meta(max_length=MAX_CHOICE)]],
                       msgspec.Meta(max_length=MAX_CHOICES)] = []


class AttributeValuesIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Values by attribute key; null (or "") clears one. All are checked before any is stored."""

    values: Annotated[dict[Annotated[str, msgspec.Meta(max_length=50)], AttributeValue],
                      msgspec.Meta(max_length=100)]


AttributeBody = Annotated[AttributeIn, Body(examples=[Example(summary="A VIP level", value={
    "key": "vip_level", "label": "VIP level", "kind": "list", "choices": ["silver", "gold"]})])]
AttributeValuesBody = Annotated[AttributeValuesIn, Body(examples=[Example(summary="Set two, clear one", value={
    "values": {"vip_level": "gold", "lifetime_value": 1250.5, "birthday": None}})])]
SinceParam = Annotated[int | None, Parameter(ge=0, le=MAX_MS, description="start (ms since the epoch, included); "
                                                                           "default: 7 days before `until`")]
UntilParam = Annotated[int | None, Parameter(ge=0, le=MAX_MS, description="end (ms since the epoch, excluded); "
                                                                           "default: now")]
