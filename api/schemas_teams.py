"""REST bodies of teams and a conversation's team. Like every body they refuse unknown fields (a
422 naming it); the rules (unique names, active members, the team's channel) stay in
`bot.helpdesk.teams`."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.openapi.spec import Example
from litestar.params import Body

from api.schemas import MAX_ID
from bot.helpdesk.teams import MAX_MEMBERS, MAX_NAME

Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]
Members = Annotated[list[Id], msgspec.Meta(max_length=MAX_MEMBERS)]


class TeamIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A team: its name, the channel it works (null: every channel) and its members (staff ids)."""

    name: Name
    channel_id: Id | None = None
    members: Members = []


class TeamPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields given change; `"channel_id": null` makes it a team of every channel."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    channel_id: Id | None | msgspec.UnsetType = msgspec.UNSET
    members: Members | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict:
        return {k: v for k in ("name", "channel_id", "members") if (v := getattr(self, k)) is not msgspec.UNSET}


class ConversationTeamIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The team the conversation is given to, or null for none."""

    team_id: Id | None


def _body(summary: str, value: dict) -> Body:
    return Body(examples=[Example(summary=summary, value=value)])


TeamBody = Annotated[TeamIn, _body("Instagram sales, three people", {"name": "Instagram sales", "channel_id": 2,
                                                                    "members": [3, 4, 7]})]
TeamPatchBody = Annotated[TeamPatch, _body("New members", {"members": [3, 4]})]
ConversationTeamBody = Annotated[ConversationTeamIn, _body("Give it to team 1", {"team_id": 1})]
