"""Assignment rules: per channel, new work goes round-robin to the staff who are available, at
most `cap` open conversations each; a person who becomes unavailable hands their open
conversations on (or leaves them unassigned when nobody can take them); the assignee is told
through the bell (a `Notification`).

Choosing is race-safe: the channel's `AssignmentRule` row (the round-robin cursor) and the
`StaffAvailability` rows of the candidates are locked (PostgreSQL `FOR UPDATE`, candidates in id
order so two channels never deadlock; SQLite's write transaction is exclusive anyway) before
their open conversations are counted, so two conversations arriving at once cannot both take the
last free place of one person. Conversations are locked before the rule everywhere (the inbox
holds its conversation's row when the router calls in), the same order for every path.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from peewee import ModelSelect, fn

from bot.core.errors import Invalid, NotFound
from bot.inbound.inbox import Applied
from bot.platform import cache
from bot.platform.db import is_sqlite, now_ms, transaction
from bot.platform.models import (
    AssignmentRule,
    Channel,
    Conversation,
    Notification,
    StaffAvailability,
    Team,
    TeamMember,
    User,
)

MAX_CAP = 1000
OPEN = "open"


class RuleView(msgspec.Struct, kw_only=True):
    """A channel's assignment settings (a channel without a row has auto-assignment off)."""

    channel_id: int
    enabled: bool
    cap: int
    members: list[int]  # empty: every active staff member
    updated_at: int | None
    team_id: int | None = None  # new conversations go to this team, round-robin among its members


@dataclass
class Handed:
    """What a change of availability did: (conversation, new assignee or None) for each
    conversation handed on (going unavailable) or picked up from the waiting ones (available)."""

    user_id: int
    moves: list[tuple[int, int | None]]


# --- settings ---------------------------------------------------------------------------------------------


def rule_of(channel_id: int) -> RuleView:
    if not Channel.select().where(Channel.id == channel_id).exists():
        raise NotFound("channel", channel_id)
    row = AssignmentRule.get_or_none(AssignmentRule.channel == channel_id)
    if row is None:
        return RuleView(channel_id=channel_id, enabled=False, cap=10, members=[], updated_at=None)
    return RuleView(channel_id=channel_id, enabled=row.enabled, cap=row.cap, members=list(row.members or []),
                    updated_at=row.updated_at, team_id=row.team_id)


def set_rule(channel_id: int, *, enabled: bool, cap: int, members: list[int], team_id: int | None = None) -> RuleView:
    """Save a channel's rule; `members` must be active staff (empty: everyone, or with a team
    every member of the team), the team one that works this channel."""
    rule_of(channel_id)
    if not 1 <= cap <= MAX_CAP:
        raise Invalid("cap", f"must be between 1 and {MAX_CAP}")
    _check_members(members)
    _check_team(team_id, channel_id)
    now = now_ms()
    members = sorted(set(members))
    (AssignmentRule.insert(channel=channel_id, enabled=enabled, cap=cap, members=members, team=team_id,
                           updated_at=now)
     .on_conflict(conflict_target=[AssignmentRule.channel],
                  update={AssignmentRule.enabled: enabled, AssignmentRule.cap: cap, AssignmentRule.team: team_id,
                          AssignmentRule.members: members, AssignmentRule.updated_at: now}).execute())
    return rule_of(channel_id)


def _check_team(team_id: int | None, channel_id: int) -> None:
    if team_id is None:
        return
    team = Team.get_or_none(Team.id == team_id)
    if team is None:
        raise Invalid("team_id", "no such team")
    if team.channel_id not in (None, channel_id):
        raise Invalid("team_id", f"team {team.name!r} works another channel")


def _check_members(members: list[int]) -> None:
    known = {u.id for u in User.select(User.id).where(User.id.in_(members or [0]) & User.is_active)}
    for index, user_id in enumerate(members):
        if user_id not in known:
            raise Invalid(f"members[{index}]", "no such active staff member")


# --- availability ------------------------------------------------------------------------------------------


def is_available(user_id: int) -> bool:
    row = StaffAvailability.get_or_none(StaffAvailability.user == user_id)
    return bool(row and row.available)


def set_available(user_id: int, available: bool) -> Handed:
    """Mark a staff member available or not. Going unavailable hands their open conversations on,
    each in its own short transaction after the flag is committed (so a choice made meanwhile
    already leaves them out)."""
    if not User.select().where(User.id == user_id).exists():
        raise NotFound("user", user_id)
    now = now_ms()
    with transaction():
        (StaffAvailability.insert(user=user_id, available=available, updated_at=now)
         .on_conflict(conflict_target=[StaffAvailability.user],
                      update={StaffAvailability.available: available, StaffAvailability.updated_at: now}).execute())
    if available:
        return Handed(user_id=user_id, moves=_pick_up_waiting())
    return Handed(user_id=user_id, moves=[m for c in _open_of(user_id) if (m := _hand_on(c, user_id))])


def _pick_up_waiting(limit: int = 200) -> list[tuple[int, int | None]]:
    """Someone became available: the open conversations left unassigned on channels with a rule
    (nobody could take them) are offered again, oldest first, until nobody has room."""
    ruled = AssignmentRule.select(AssignmentRule.channel).where(AssignmentRule.enabled)
    waiting = (Conversation.select(Conversation.id, Conversation.channel)
               .where(Conversation.assignee.is_null() & (Conversation.status == OPEN)
                      & Conversation.channel.in_(ruled))
               .order_by(Conversation.last_message_at, Conversation.id).limit(limit))
    moves, full = [], set()
    for row in list(waiting):
        if row.channel_id not in full:
            chosen = _offer(row.id)
            if chosen is None:
                full.add(row.channel_id)
            else:
                moves.append((row.id, chosen))
    return moves


def _offer(conversation_id: int) -> int | None:
    """Assign one waiting conversation, if it still waits (its row locked first, as in the inbox)."""
    with transaction():
        still = Conversation.update(assignee=None).where(
            (Conversation.id == conversation_id) & Conversation.assignee.is_null()
            & (Conversation.status == OPEN)).execute()
        conversation = Conversation.get_by_id(conversation_id)
        chosen = choose(conversation.channel_id) if still else None
        if chosen is not None:
            _give(conversation, chosen, reason="was waiting")
    return chosen


def _open_of(user_id: int) -> list[int]:
    return [c.id for c in Conversation.select(Conversation.id).where(
        (Conversation.assignee == user_id) & (Conversation.status == OPEN)).order_by(Conversation.id)]


def _hand_on(conversation_id: int, user_id: int) -> tuple[int, int | None] | None:
    """Take one conversation from `user_id` and give it to the next available person (or
    nobody). The conversation row is changed (so locked) first, like on the inbox's path."""
    with transaction():
        taken = Conversation.update(assignee=None).where(
            (Conversation.id == conversation_id) & (Conversation.assignee == user_id)
            & (Conversation.status == OPEN)).execute()
        if not taken:
            return None  # someone reassigned or closed it meanwhile
        conversation = Conversation.get_by_id(conversation_id)
        chosen = choose(conversation.channel_id, exclude=user_id)
        if chosen is not None:
            _give(conversation, chosen, reason="handed on")
    return conversation_id, chosen


# --- choosing -----------------------------------------------------------------------------------------------


def on_customer_message(applied: Applied) -> int | None:
    """The decide step: an open, unassigned conversation the customer writes in (a new one, or one
    nobody could take earlier) goes to the next available person. Runs inside the event's
    transaction; returns the assignee."""
    conversation = applied.conversation
    if conversation is None or conversation.assignee_id is not None or conversation.status != OPEN:
        return None
    _to_rule_team(conversation)
    chosen = choose(conversation.channel_id)
    if chosen is not None:
        _give(conversation, chosen, reason="new conversation")
    return chosen


def _to_rule_team(conversation: Conversation) -> None:
    """A conversation with no team joins the team the channel's rule names (if any)."""
    if conversation.team_id is not None:
        return
    team_id = cache.cached("assignment_rule_team", conversation.channel_id, lambda: AssignmentRule.select(
        AssignmentRule.team).where((AssignmentRule.channel == conversation.channel_id) & AssignmentRule.enabled)
        .scalar())  # the process's copy (rules are configuration): no read per customer message
    if team_id is not None:
        Conversation.update(team=team_id).where(Conversation.id == conversation.id).execute()
        conversation.team = team_id


def choose(channel_id: int, exclude: int | None = None) -> int | None:
    """The next available person under the cap on this channel, moving the round-robin cursor.
    Call inside a transaction: the locks hold until it commits."""
    if not cache.cached("assignment_rule", channel_id, lambda: _rule_query(channel_id).exists()):
        return None  # no rule: no lock, so channels without one never queue on it
    rule = _locked(_rule_query(channel_id)).first()
    if rule is None:
        return None
    candidates = [u for u in _candidates(rule) if u != exclude]
    loads = _loads(candidates)
    for user_id in _rotated(candidates, rule.last_user_id):
        if loads.get(user_id, 0) < rule.cap:
            AssignmentRule.update(last_user_id=user_id).where(AssignmentRule.id == rule.id).execute()
            return user_id
    return None


def _rule_query(channel_id: int) -> ModelSelect:
    """The channel's enabled rule. Built only when the process's copy says there is one: building
    a peewee query costs more than the cached answer, and most channels have no rule while
    every new conversation asks."""
    return AssignmentRule.select().where((AssignmentRule.channel == channel_id) & AssignmentRule.enabled)


def _locked(query):  # noqa: ANN001, ANN202 - a peewee select, returned locked where that means something
    return query if is_sqlite() else query.for_update()


def _candidates(rule: AssignmentRule) -> list[int]:
    """Available, active staff (of the rule's members when listed, of its team when it names
    one), locked in id order."""
    query = (StaffAvailability.select(StaffAvailability.user).join(User)
             .where(StaffAvailability.available & User.is_active).order_by(StaffAvailability.user))
    if rule.members:
        query = query.where(StaffAvailability.user.in_(rule.members))
    if rule.team_id is not None:
        query = query.where(StaffAvailability.user.in_(
            TeamMember.select(TeamMember.user).where(TeamMember.team == rule.team_id)))
    if not is_sqlite():
        query = query.for_update(of=StaffAvailability)
    return [row.user_id for row in query]


def _loads(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    rows = (Conversation.select(Conversation.assignee, fn.COUNT(Conversation.id).alias("n"))
            .where(Conversation.assignee.in_(user_ids) & (Conversation.status == OPEN))
            .group_by(Conversation.assignee))
    return {r.assignee_id: r.n for r in rows}


def _rotated(user_ids: list[int], last: int | None) -> list[int]:
    """The candidates in round-robin order: those after the last one chosen, then the rest."""
    after = [u for u in user_ids if last is not None and u > last]
    return after + [u for u in user_ids if u not in after]


def _give(conversation: Conversation, user_id: int, *, reason: str) -> None:
    Conversation.update(assignee=user_id).where(Conversation.id == conversation.id).execute()
    conversation.assignee = user_id
    who = (conversation.contact.name if conversation.contact_id else "") or "A customer"
    Notification.insert(user=user_id, kind="assigned", text=f"Assigned to you ({reason}): {who}"[:300],
                        conversation=conversation.id, channel=conversation.channel_id,
                        created_at=now_ms()).execute()
