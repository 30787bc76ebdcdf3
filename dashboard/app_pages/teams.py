"""Teams (admins): a name, the channel it works (or every channel) and its members. Staff then
give conversations to a team, filter the inbox by "My teams", keep saved replies for a team, and
a channel's round-robin can hand its new conversations to one team (Settings → Channels)."""

from __future__ import annotations

import streamlit as st

from bot import commands, queries
from bot.core.errors import Invalid, NotFound
from bot.helpdesk.teams import TeamView
from bot.staff.permissions import Action
from dashboard import state

EVERY_CHANNEL = 0


def editor(prefix: str, current: TeamView | None = None) -> None:
    staff = {u.id: u.name or u.email for u in queries.staff_users() if u.is_active}
    channels = {EVERY_CHANNEL: "Every channel", **{c.id: c.name for c in queries.channels()}}
    with st.form(prefix + "form", border=False):
        st.text_input("Name", value=current.name if current else "", key=prefix + "name", max_chars=100)
        st.selectbox("Works", list(channels), format_func=channels.get, key=prefix + "channel",
                     index=list(channels).index(current.channel_id or EVERY_CHANNEL) if current else 0)
        st.multiselect("Members", list(staff), format_func=staff.get, key=prefix + "members",
                       default=[m for m in (current.members if current else []) if m in staff])
        st.form_submit_button("Save team", type="primary", on_click=_save,
                              args=(prefix, current.id if current else None))


@state.with_db
def _save(prefix: str, team_id: int | None) -> None:
    name = st.session_state.get(prefix + "name", "")
    channel_id = st.session_state.get(prefix + "channel") or None
    members = list(st.session_state.get(prefix + "members") or [])
    try:
        if team_id is None:
            saved = commands.create_team(name, channel_id, members)
        else:
            saved = commands.update_team(team_id, name=name, channel_id=channel_id, members=members)
    except (Invalid, NotFound) as exc:
        state.notice(f"Team not saved: {exc}", "error")
        return
    state.notice(f"Team {saved.name} saved.")


@state.with_db
def _delete(team_id: int) -> None:
    try:
        commands.delete_team(team_id)
    except NotFound as exc:
        state.notice(f"Not removed: {exc}", "error")


def listing() -> None:
    staff = {u.id: u.name or u.email for u in queries.staff_users()}
    found = queries.teams_list()
    if not found:
        st.info("No teams yet.")
    for team in found:
        with st.expander(f"{team.name} · {len(team.members)} member(s)"):
            st.caption(", ".join(staff.get(m, str(m)) for m in team.members) or "No members")
            editor(f"team{team.id}_", team)
            st.button("Remove team", key=f"team{team.id}_delete", icon=":material/delete:", on_click=_delete,
                      args=(team.id,))


state.require(state.user_or_stop(), Action.MANAGE_USERS)
st.title("Teams")
state.show_notice()
with st.container(border=True):
    st.markdown("**New team**")
    editor("team_new_")
listing()
