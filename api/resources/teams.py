"""Teams over REST: `/api/v1/teams` (everyone reads, admins change) and a conversation's team at
`PUT /api/v1/conversations/{id}/team`. The inbox filters by team with `team_id=` or
`my_teams=true` on `GET /api/v1/conversations`."""

from __future__ import annotations

from litestar import Controller

from api.guards import Caller, requires
from api.resources import delete, get, patch, post, put
from api.schemas import IdParam
from api.schemas_teams import ConversationTeamBody, TeamBody, TeamPatchBody
from bot import commands, queries
from bot.helpdesk.teams import TeamView
from bot.platform.db import connection
from bot.queries import ConversationView
from bot.staff.permissions import Action


class TeamController(Controller):
    path = "/teams"
    tags = ["teams"]
    guards = [requires(Action.WORK_INBOX)]

    @get(summary="Every team, by name, with its channel and members")
    def list_teams(self) -> list[TeamView]:
        with connection():
            return queries.teams_list()

    @post(summary="Create a team (admins)", guards=[requires(Action.MANAGE_USERS)])
    def create(self, data: TeamBody) -> TeamView:
        with connection():
            return commands.create_team(data.name, data.channel_id, list(data.members))

    @get("/{team_id:str}", summary="One team")
    def get_team(self, team_id: IdParam) -> TeamView:
        with connection():
            return queries.team(team_id)

    @patch("/{team_id:str}", summary="Rename a team, change its channel or members (admins)",
           guards=[requires(Action.MANAGE_USERS)])
    def update(self, team_id: IdParam, data: TeamPatchBody) -> TeamView:
        with connection():
            return commands.update_team(team_id, **data.changes())

    @delete("/{team_id:str}", status_code=204, summary="Remove a team (its conversations lose the team; admins)",
            guards=[requires(Action.MANAGE_USERS)])
    def remove(self, team_id: IdParam) -> None:
        with connection():
            commands.delete_team(team_id)


class ConversationTeamController(Controller):
    path = "/conversations/{conversation_id:str}/team"
    tags = ["conversations"]
    guards = [requires(Action.WORK_INBOX)]

    @put(summary="Give the conversation to a team (one that works its channel), or to none")
    def set_team(self, caller: Caller, conversation_id: IdParam, data: ConversationTeamBody) -> ConversationView:
        with connection():
            commands.assign_team(caller.id, conversation_id, data.team_id)
            return queries.conversation_view(conversation_id)


TEAM_CONTROLLERS = [TeamController, ConversationTeamController]
