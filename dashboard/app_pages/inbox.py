"""The inbox: every conversation, newest first, filtered and paginated by `queries.inbox`.

The filters are ordinary widgets; the list is a fragment that refreshes itself every few
seconds, so new messages appear without a reload and without disturbing the filters. Besides
the kind of channel (Messenger, Instagram Direct, comments), staff can pick the connected pages
and accounts themselves, by name.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import streamlit as st

from bot import queries
from bot.queries import InboxItem
from dashboard import state, teams, widgets

PAGE_KEY = "inbox_page"
CHANNELS_KEY = "inbox_channels"
ANY = "Any"


class InboxFilters(msgspec.Struct, frozen=True):
    kind: str | None = None
    channel_ids: tuple[int, ...] = ()
    status: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    tag: str | None = None
    search: str | None = None
    team_id: int | None = None
    my_teams: bool = False


def filters(user_id: int) -> InboxFilters:
    """The filter row; any change goes back to page 1."""
    def reset_page() -> None:
        st.session_state[PAGE_KEY] = 1

    staff = {u.id: u.name or u.email for u in state.staff_users() if u.is_active}
    kind_col, channel_col, status_col, who_col, team_col, tag_col, search_col = st.columns(
        [1.1, 2.0, 0.9, 1.2, 1, 1, 1.5])
    kind = kind_col.selectbox("Channel", [ANY, *widgets.KIND_LABELS], key="inbox_kind", on_change=reset_page,
                              format_func=lambda k: widgets.KIND_LABELS.get(k, k))
    with channel_col:
        channel_ids = channel_filter(reset_page)
    status = status_col.selectbox("Status", ["open", "snoozed", "closed", ANY], key="inbox_status",
                                  on_change=reset_page, format_func=str.capitalize)
    who = who_col.selectbox("Assignee", [ANY, "mine", "unassigned", *staff], key="inbox_assignee",
                            on_change=reset_page,
                            format_func=lambda w: {"mine": "Assigned to me", "unassigned": "Unassigned"}.get(
                                w, staff.get(w, w)) if w != ANY else ANY)
    with team_col:
        team_id, my_teams = teams.inbox_filter(reset_page)
    tag = tag_col.selectbox("Tag", [ANY, *state.tag_names()], key="inbox_tag", on_change=reset_page)
    search = search_col.text_input("Search names and messages", key="inbox_search", on_change=reset_page)
    return InboxFilters(
        kind=None if kind == ANY else kind, channel_ids=channel_ids, status=None if status == ANY else status,
        assignee_id=user_id if who == "mine" else (who if isinstance(who, int) else None),
        unassigned=who == "unassigned", tag=None if tag == ANY else tag, search=search.strip() or None,
        team_id=team_id, my_teams=my_teams)


def channel_filter(on_change: Callable[[], None]) -> tuple[int, ...]:
    """The connected pages and accounts to show, by name (none chosen: all of them)."""
    connected = {c.id: widgets.channel_label(c) for c in state.channels()}
    chosen = st.session_state.get(CHANNELS_KEY)
    if chosen and any(i not in connected for i in chosen):  # a channel removed since it was picked
        st.session_state[CHANNELS_KEY] = [i for i in chosen if i in connected]
    picked = st.multiselect("Pages and accounts", list(connected), key=CHANNELS_KEY, on_change=on_change,
                            format_func=lambda i: connected.get(i, str(i)), placeholder="All")
    return tuple(picked)


@st.fragment(run_every=state.LIVE_SECONDS)
@state.with_db
def conversation_list(chosen: InboxFilters) -> None:
    user_id = state.user_or_stop().id
    page = st.session_state.get(PAGE_KEY, 1)
    result = queries.inbox(kind=chosen.kind, channel_ids=chosen.channel_ids, status=chosen.status,
                           assignee_id=chosen.assignee_id, unassigned=chosen.unassigned, tag=chosen.tag,
                           search=chosen.search, page=page, team_id=chosen.team_id,
                           teams_of=user_id if chosen.my_teams else None)
    unread = queries.unread_conversations()
    st.caption(f"{result.total} conversation{'s' if result.total != 1 else ''}"
               + (f" · {unread} with unread messages" if unread else ""))
    if not result.items:
        st.info("No conversations match these filters.")
    for item in result.items:
        row(item)
    pager(result.page, result.pages)


def row(item: InboxItem) -> None:
    with st.container(border=True):
        picture, body, meta, action = st.columns([0.5, 6, 2, 1], vertical_alignment="center")
        with picture:
            if item.picture_url:
                st.image(item.picture_url, width=40)
            else:
                st.markdown(f"## {widgets.KIND_ICONS.get(item.kind, ':material/person:')}")
        with body:
            badge = f" :red-badge[{item.unread} new]" if item.unread else ""
            closed = f" :gray-badge[{item.status}]" if item.status in ("closed", "snoozed") else ""
            kind = f"{widgets.KIND_ICONS.get(item.kind, '')} {widgets.KIND_LABELS.get(item.kind, item.kind)}"
            st.markdown(f"**{widgets.plain(item.contact_name)}**{badge}{closed}  \n{kind}"
                        f" · {widgets.plain(item.channel)}  \n:gray[{widgets.plain(item.preview[:140])}]")
        with meta:
            st.caption(f"{state.when(item.last_message_at)}  \n"
                       + (f":material/person: {item.assignee}" if item.assignee else "Unassigned"))
        with action:
            if st.button("Open", key=f"open_{item.id}", type="primary" if item.unread else "secondary"):
                state.remember_conversation(item.id)
                st.switch_page("app_pages/conversation.py", query_params={"conversation": str(item.id)})


def pager(page: int, pages: int) -> None:
    if pages <= 1:
        return
    back, label, forward = st.columns([1, 2, 1])
    back.button("Newer", key="inbox_prev", disabled=page <= 1, icon=":material/chevron_left:",
                on_click=st.session_state.update, kwargs={PAGE_KEY: page - 1})
    label.caption(f"Page {page} of {pages}")
    forward.button("Older", key="inbox_next", disabled=page >= pages, icon=":material/chevron_right:",
                   on_click=st.session_state.update, kwargs={PAGE_KEY: page + 1})


user = state.user_or_stop()
st.title("Inbox")
state.show_notice()
conversation_list(filters(user.id))
