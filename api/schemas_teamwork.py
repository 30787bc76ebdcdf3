"""REST bodies and answers of contact merges and assignment rules. Like every body they refuse
unknown fields (a 422 naming it); the rules (cap bounds, who may be a member, which contacts
can merge) stay in `bot.helpdesk.merge` and `bot.automation.assignment`."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.openapi.spec import Example
from litestar.params import Body

from api.schemas import MAX_ID
from bot.automation.assignment import MAX_CAP

Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class MergeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The contact to merge into this one (it is removed; everything it had moves here)."""

    merged_id: Id


class RuleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Round-robin for the channel's new conversations: `enabled`, at most `cap` open
    conversations per person, among `members` (staff ids; empty: all active staff), of `team_id`
    when given (its new conversations are given to that team)."""

    enabled: bool
    cap: Annotated[int, msgspec.Meta(ge=1, le=MAX_CAP)] = 10
    members: Annotated[list[Id], msgspec.Meta(max_length=500)] = []
    team_id: Id | None = None  # new conversations go to this team, round-robin among its members


class AvailabilityIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Whether the staff member takes new conversations; false hands their open ones on."""

    available: bool


class AvailabilityOut(msgspec.Struct, kw_only=True):
    user_id: int
    available: bool
    handed_on: list[list[int | None]] = []  # [conversation id, new assignee or null], handed on or picked up


def _body(summary: str, value: dict) -> Body:
    return Body(examples=[Example(summary=summary, value=value)])


MergeBody = Annotated[MergeIn, _body("Merge the Instagram contact 12 into this one", {"merged_id": 12})]
RuleBody = Annotated[RuleIn, _body("Round-robin, 5 open conversations each", {"enabled": True, "cap": 5,
                                                                              "members": []})]
AvailabilityBody = Annotated[AvailabilityIn, _body("Going on a break", {"available": False})]
