"""Assignment rules in the dashboard: each staff member's "Available" switch in the sidebar
(going unavailable hands their open conversations on), and a channel's round-robin settings in
Settings → Channels. The rules live in `bot.automation.assignment`."""

from __future__ import annotations

import streamlit as st

from bot import commands, queries
from bot.automation.assignment import MAX_CAP
from bot.core.errors import Invalid, NotFound
from bot.platform.models import Channel, User
from dashboard import state


def availability_toggle(user: User) -> None:
    """The sidebar switch: take new conversations, or stop."""
    key = "sd_available"
    st.session_state[key] = queries.is_available(user.id)
    st.toggle("Available for new conversations", key=key, on_change=_set_available, args=(user.id, key),
              help="New conversations of channels with round-robin go to available staff. "
                   "Switching off hands your open conversations to someone available.")


@state.with_db
def _set_available(user_id: int, key: str) -> None:
    handed = commands.set_availability(user_id, bool(st.session_state[key]))
    if handed.moves:
        kept = sum(1 for _, to in handed.moves if to is None)
        state.notice(f"{len(handed.moves)} open conversation(s) handed on"
                     + (f", {kept} left unassigned (nobody available)." if kept else "."))


def rule_panel(channel: Channel) -> None:
    """Round-robin for this channel: on/off, the cap, and who takes part."""
    rule = queries.assignment_rule(channel.id)
    staff = [u for u in queries.staff_users() if u.is_active]
    names = {u.id: u.name or u.email for u in staff}
    key = f"assign_{channel.id}_"
    with st.expander("Assignment (round-robin)", icon=":material/group:"), st.form(key + "form", border=False):
        st.toggle("Assign new conversations automatically", value=rule.enabled, key=key + "enabled")
        st.number_input("At most this many open conversations per person", min_value=1, max_value=MAX_CAP,
                        value=rule.cap, step=1, key=key + "cap")
        st.multiselect("Among (empty: all staff; only those marked available get work)", list(names),
                       default=[m for m in rule.members if m in names], format_func=names.get, key=key + "members")
        teams = {0: "No team", **{t.id: t.name for t in queries.teams_list() if t.channel_id in (None, channel.id)}}
        st.selectbox("Give new conversations to the team (its members share the work)", list(teams),
                     index=list(teams).index(rule.team_id) if rule.team_id in teams else 0, format_func=teams.get,
                     key=key + "team")
        st.form_submit_button("Save assignment", on_click=_save_rule, args=(channel.id, key))


@state.with_db
def _save_rule(channel_id: int, key: str) -> None:
    try:
        commands.set_assignment_rule(channel_id, enabled=bool(st.session_state[key + "enabled"]),
                                     cap=int(st.session_state[key + "cap"]),
                                     members=list(st.session_state[key + "members"]),
                                     team_id=st.session_state.get(key + "team") or None)
    except (Invalid, NotFound) as exc:
        state.notice(f"Assignment not saved: {exc}", "error")
        return
    state.notice("Assignment saved.")
