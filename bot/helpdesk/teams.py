"""Teams: a named group of staff working one channel (or every channel, with no channel).

Kept simple on purpose: a team is a name, an optional channel and its members. A conversation
may be given to a team (`Conversation.team`), which the inbox filters on ("my teams"); a
channel's assignment rule may name a team, so its new conversations go to that team and
round-robin among its members (`bot.automation.assignment`); canned responses may be kept for a
team (`bot.helpdesk.canned`). Removing a team leaves its conversations without a team.
"""

from __future__ import annotations

import msgspec

from bot.core.errors import Invalid, NotFound
from bot.platform.db import insert_new, now_ms, storable_text, transaction
from bot.platform.models import CannedResponse, Channel, Conversation, Team, TeamMember, User

MAX_NAME = 100
MAX_TEAMS = 200
MAX_MEMBERS = 500


class TeamView(msgspec.Struct, kw_only=True):
    id: int
    name: str
    channel_id: int | None  # None: every channel
    members: list[int]
    created_at: int
    updated_at: int


def create(name: str, channel_id: int | None, members: list[int]) -> TeamView:
    """A new team; the name is unique, members must be active staff."""
    name = _checked_name(name)
    _check_channel(channel_id)
    members = _checked_members(members)
    now = now_ms()
    with transaction():
        if Team.select().count() >= MAX_TEAMS:
            raise Invalid("name", f"at most {MAX_TEAMS} teams")
        team_id = insert_new(Team.insert(name=name, channel=channel_id, created_at=now, updated_at=now))
        if not team_id:
            raise Invalid("name", f"a team {name!r} exists already")
        _set_members(team_id, members)
    return team(team_id)


def update(team_id: int, *, name: str | None = None, channel_id: int | None | object = ...,
           members: list[int] | None = None) -> TeamView:
    """Change what is given (`channel_id=None` makes it a team of every channel)."""
    row = _row(team_id)
    name = row.name if name is None else _checked_name(name)
    channel = row.channel_id if channel_id is ... else channel_id
    _check_channel(channel)  # type: ignore[arg-type]
    checked = None if members is None else _checked_members(members)
    with transaction():
        if Team.select().where((Team.name == name) & (Team.id != team_id)).exists():
            raise Invalid("name", f"a team {name!r} exists already")
        Team.update(name=name, channel=channel, updated_at=now_ms()).where(Team.id == team_id).execute()
        if checked is not None:
            _set_members(team_id, checked)
    return team(team_id)


def delete(team_id: int) -> None:
    """Remove a team; its conversations keep their assignee and lose the team;
    its canned responses go with it."""
    with transaction():
        _row(team_id)
        Conversation.update(team=None).where(Conversation.team == team_id).execute()
        CannedResponse.delete().where(CannedResponse.scope == f"team:{team_id}").execute()
        Team.delete().where(Team.id == team_id).execute()


def team(team_id: int) -> TeamView:
    return _view(_row(team_id), _members_of([team_id]).get(team_id, []))


def teams() -> list[TeamView]:
    rows = list(Team.select().order_by(Team.name))
    members = _members_of([r.id for r in rows])
    return [_view(r, members.get(r.id, [])) for r in rows]


def team_ids_of(user_id: int) -> list[int]:
    """The teams a staff member belongs to (the inbox's "my teams")."""
    return [r.team_id for r in TeamMember.select(TeamMember.team).where(TeamMember.user == user_id)]


def is_member(user_id: int, team_id: int) -> bool:
    return TeamMember.select().where((TeamMember.user == user_id) & (TeamMember.team == team_id)).exists()


def assign(conversation_id: int, team_id: int | None) -> tuple[int | None, int | None]:
    """Give a conversation to a team (or to none). The team must work the conversation's
    channel. Returns (team before, team now); call inside a transaction."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        raise NotFound("conversation", conversation_id)
    if team_id is not None:
        row = Team.get_or_none(Team.id == team_id)
        if row is None:
            raise Invalid("team_id", "no such team")
        if row.channel_id not in (None, conversation.channel_id):
            raise Invalid("team_id", f"team {row.name!r} works another channel")
    Conversation.update(team=team_id).where(Conversation.id == conversation_id).execute()
    return conversation.team_id, team_id


def _checked_name(name: str) -> str:
    name = storable_text((name or "").strip())
    if not 0 < len(name) <= MAX_NAME:
        raise Invalid("name", f"must be 1 to {MAX_NAME} characters")
    return name


def _check_channel(channel_id: int | None) -> None:
    if channel_id is not None and not Channel.select().where(Channel.id == channel_id).exists():
        raise Invalid("channel_id", "no such channel")


def _checked_members(members: list[int]) -> list[int]:
    if len(members) > MAX_MEMBERS:
        raise Invalid("members", f"at most {MAX_MEMBERS} members")
    known = {u.id for u in User.select(User.id).where(User.id.in_(members or [0]) & User.is_active)}
    for index, user_id in enumerate(members):
        if user_id not in known:
            raise Invalid(f"members[{index}]", "no such active staff member")
    return sorted(set(members))


def _set_members(team_id: int, members: list[int]) -> None:
    TeamMember.delete().where(TeamMember.team == team_id).execute()
    if members:
        TeamMember.insert_many([{"team": team_id, "user": u} for u in members]).execute()


def _members_of(team_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    rows = TeamMember.select(TeamMember.team, TeamMember.user).where(TeamMember.team.in_(team_ids or [0]))
    for row in rows.order_by(TeamMember.user):
        found.setdefault(row.team_id, []).append(row.user_id)
    return found


def _row(team_id: int) -> Team:
    row = Team.get_or_none(Team.id == team_id)
    if row is None:
        raise NotFound("team", team_id)
    return row


def _view(row: Team, members: list[int]) -> TeamView:
    return TeamView(id=row.id, name=row.name, channel_id=row.channel_id, members=members,
                    created_at=row.created_at, updated_at=row.updated_at)
