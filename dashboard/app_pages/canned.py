"""Saved replies (canned responses): the team's and your own, with the shortcodes campaigns use.
In a conversation's reply box, pick one or type `/name` to insert it filled in for the person.
Each is checked when saved (`bot.helpdesk.canned`), so a misspelt shortcode is refused here."""

from __future__ import annotations

import streamlit as st

from bot import commands, queries
from bot.core.compose import SHORTCODES
from bot.core.errors import Invalid, NotFound, Refused
from bot.helpdesk.canned import CannedView
from dashboard import state, widgets

NEW = "canned_new_"


def editor(user_id: int, prefix: str, current: CannedView | None = None) -> None:
    """Name, text and sharing of a response; saving creates or changes it."""
    st.session_state.setdefault(prefix + "name", current.name if current else "")
    st.session_state.setdefault(prefix + "text", current.text if current else "")
    st.session_state.setdefault(prefix + "shared", current.shared if current else False)
    st.text_input("Name (type /name in the reply box)", key=prefix + "name")
    st.text_area("Text", key=prefix + "text", height=100)
    st.checkbox("Shared with the team", key=prefix + "shared")
    st.button("Save", key=prefix + "save", type="primary", icon=":material/save:", on_click=_save,
              args=(user_id, prefix, current.id if current else None))


@state.with_db
def _save(user_id: int, prefix: str, canned_id: int | None) -> None:
    name, text = st.session_state.get(prefix + "name", ""), st.session_state.get(prefix + "text", "")
    shared = bool(st.session_state.get(prefix + "shared"))
    try:
        if canned_id is None:
            saved = commands.create_canned(user_id, name, text, shared=shared)
            for key, empty in ((prefix + "name", ""), (prefix + "text", ""), (prefix + "shared", False)):
                st.session_state[key] = empty
        else:
            saved = commands.update_canned(user_id, canned_id, name=name, text=text, shared=shared)
    except (Invalid, NotFound, Refused) as exc:
        state.notice(f"Not saved: {exc}", "error")
        return
    state.notice(f"Saved /{saved.name}.")


@state.with_db
def _delete(user_id: int, canned_id: int) -> None:
    try:
        commands.delete_canned(user_id, canned_id)
    except (NotFound, Refused) as exc:
        state.notice(f"Not deleted: {exc}", "error")


def listing(user_id: int) -> None:
    responses = queries.canned_responses(user_id)
    if not responses:
        st.info("No saved replies yet.")
    for item in responses:
        scope = ":blue-badge[team]" if item.shared else ":gray-badge[personal]"
        with st.expander(f"/{item.name}", expanded=False):
            st.markdown(f"{scope}  \n{widgets.plain(item.text)}")
            editor(user_id, f"canned{item.id}_", item)
            st.button("Delete", key=f"canned{item.id}_delete", icon=":material/delete:", on_click=_delete,
                      args=(user_id, item.id))


user = state.user_or_stop()
st.title("Saved replies")
state.show_notice()
st.caption("Shortcodes: " + ", ".join(f"`{{{{ {name} }}}}`" for name in SHORTCODES))
with st.container(border=True):
    st.markdown("**New saved reply**")
    editor(user.id, NEW)
listing(user.id)
