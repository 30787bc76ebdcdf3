"""Teams in the dashboard: a conversation's team (the side panel), the inbox's team filter, and
the choice of team for a channel's round-robin and for a saved reply. The rules live in
`bot.helpdesk.teams`; the Teams page (app_pages/teams.py) creates and changes them."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from bot import commands, queries
from bot.core.errors import Invalid, NotFound
from bot.queries import ConversationView
from dashboard import state

NO_TEAM = 0
MY_TEAMS = -1
ANY = None


def names() -> dict[int, str]:
    return {t.id: t.name for t in queries.teams_list()}


def team_control(view: ConversationView) -> None:
    """Give the conversation to a team (those working its channel, or every channel)."""
    fitting = {t.id: t.name for t in queries.teams_list() if t.channel_id in (None, view.channel_id)}
    if not fitting and view.team_id is None:
        return
    key = f"team_of{view.id}"
    st.session_state[key] = view.team_id or NO_TEAM
    st.selectbox("Team", [NO_TEAM, *fitting], key=key, format_func=lambda t: fitting.get(t, "No team"),
                 on_change=_set_team, args=(view.id, key))


@state.with_db
def _set_team(conversation_id: int, key: str) -> None:
    user = state.user_or_stop()
    team_id = st.session_state.get(key) or None
    try:
        commands.assign_team(user.id, conversation_id, team_id)
    except (Invalid, NotFound) as exc:
        state.notice(f"Team not changed: {exc}", "error")
        return
    state.notice("Team changed.")


def inbox_filter(on_change: Callable[[], None]) -> tuple[int | None, bool]:
    """(team id, only my teams) for `queries.inbox`."""
    known = names()
    labels = {MY_TEAMS: "My teams", **known}
    chosen = st.selectbox("Team", [ANY, MY_TEAMS, *known], key="inbox_team", on_change=on_change,
                          format_func=lambda t: "Any" if t is ANY else labels.get(t, "Any"))
    if chosen not in (ANY, MY_TEAMS) and chosen not in known:  # removed since it was picked
        return None, False
    return (chosen if chosen not in (ANY, MY_TEAMS) else None), chosen == MY_TEAMS
