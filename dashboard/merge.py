"""Merging contacts in the contacts page: "Merge with…" and "Undo merge" in a profile, and the
list of suggested merges (two contacts that look like one person, with the reason) above the
list. The page calls in; the rules live in `bot.helpdesk.merge`."""

from __future__ import annotations

import streamlit as st

from bot import commands, queries
from bot.core.errors import Invalid, NotFound, Refused
from bot.helpdesk.merge import MergeView
from bot.queries import ContactView
from dashboard import state, widgets

OPEN = "sd_open_contact"
SEARCH_LIMIT = 20


def suggestions(user_id: int) -> None:
    """Suggested merges, each with "Merge" (the older contact survives) and "Open"."""
    pairs = queries.merge_suggestions(limit=20)
    if not pairs:
        return
    with st.expander(f"Suggested merges ({len(pairs)})", icon=":material/merge:"):
        for pair in pairs:
            text, merge_button = st.columns([6, 1], vertical_alignment="center")
            text.markdown(f"**{widgets.plain(pair.contact_name)}** and **{widgets.plain(pair.other_name)}** · "
                          f":gray[{', '.join(pair.reasons)}]")
            merge_button.button("Merge", key=f"suggest_merge_{pair.contact_id}_{pair.other_id}",
                                on_click=_merge, args=(user_id, pair.contact_id, pair.other_id))


def profile_panel(user_id: int, person: ContactView) -> None:
    """In a profile: merge another contact into this one, and undo earlier merges into it."""
    with st.expander("Merge with…", icon=":material/merge:"):
        search = st.text_input("Find the other contact", key=f"merge_search_{person.id}")
        others = [c for c in queries.contacts(search=search.strip() or None, page_size=SEARCH_LIMIT)
                  if c.id != person.id] if search.strip() else []
        if search.strip() and not others:
            st.caption("Nobody else matches.")
        for other in others:
            channels = ", ".join(sorted({i["channel"] for i in other.identities}))
            text, merge_button = st.columns([4, 1], vertical_alignment="center")
            text.markdown(f"**{widgets.plain(other.name)}**  \n:gray[{widgets.plain(channels)}]")
            merge_button.button("Merge", key=f"merge_{person.id}_{other.id}",
                                on_click=_merge, args=(user_id, person.id, other.id),
                                help="Everything of that contact moves here; undo any time below.")
    for record in queries.contact_merges(person.id):
        _merge_line(user_id, record)


def _merge_line(user_id: int, record: MergeView) -> None:
    moved = ", ".join(f"{n} {table.replace('_', ' ')}(s)" for table, n in record.moved.items() if n)
    if record.unmerged_at is not None:
        st.caption(f"Merged {widgets.plain(record.merged_name)} on {state.when(record.created_at)}, "
                   f"undone {state.when(record.unmerged_at)}")
        return
    st.markdown(f":gray[Merged **{widgets.plain(record.merged_name)}** {state.when(record.created_at)}: "
                f"{moved or 'nothing else'}]")
    st.button("Undo merge", key=f"unmerge_{record.id}", icon=":material/undo:",
              on_click=_unmerge, args=(user_id, record.id))


@state.with_db
def _merge(user_id: int, survivor_id: int, merged_id: int) -> None:
    try:
        done = commands.merge_contacts(user_id, survivor_id, merged_id)
    except (Invalid, NotFound, Refused) as exc:
        state.notice(f"Not merged: {exc}", "error")
        return
    st.session_state[OPEN] = survivor_id
    state.notice(f"Merged {done.merged_name or 'the contact'} into this one. Undo below if that was a mistake.")


@state.with_db
def _unmerge(user_id: int, merge_id: int) -> None:
    try:
        undone = commands.unmerge_contacts(user_id, merge_id)
    except (NotFound, Refused) as exc:
        state.notice(f"Not undone: {exc}", "error")
        return
    state.notice(f"Undone: {undone.merged_name or 'the contact'} is a separate contact again.")
