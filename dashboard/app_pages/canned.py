"""Saved replies (canned responses): shared, your teams' and your own, with the shortcodes campaigns use.
In a conversation's reply box, pick one or type `/name` to insert it filled in for the person.
Each is checked when saved (`bot.helpdesk.canned`), so a misspelt shortcode is refused here."""

from __future__ import annotations

import streamlit as st

from bot import commands, queries
from bot.core.compose import SHORTCODES, MessageContent
from bot.core.errors import Invalid, NotFound, Refused
from bot.helpdesk.canned import CannedView
from dashboard import state, widgets

NEW = "canned_new_"
PERSONAL, SHARED = "personal", "shared"


def editor(user_id: int, prefix: str, current: CannedView | None = None) -> None:
    """Name, message (text, attachments, buttons) and sharing; saving creates or changes it."""
    st.session_state.setdefault(prefix + "name", current.name if current else "")
    st.session_state.setdefault(prefix + "shared", current.shared if current else False)
    st.text_input("Name (type /name in the reply box)", key=prefix + "name")
    content = MessageContent(text=current.text, attachments=tuple(current.attachments),
                             buttons=tuple(current.buttons)) if current else None
    widgets.composer(prefix, media=True, text_label="Text", height=100,
                     defaults=widgets.composer_defaults(prefix, content))
    if current is None:
        keep_for(user_id, prefix)
    elif current.team_id is None:
        st.checkbox("Shared with everyone", key=prefix + "shared")
    st.button("Save", key=prefix + "save", type="primary", icon=":material/save:", on_click=_save,
              args=(user_id, prefix, current.id if current else None))


@state.with_db
def _save(user_id: int, prefix: str, canned_id: int | None) -> None:
    name, content = st.session_state.get(prefix + "name", ""), widgets.composed(prefix, media=True)
    shared = bool(st.session_state.get(prefix + "shared"))
    scope = st.session_state.get(prefix + "scope", PERSONAL)
    try:
        if canned_id is None:
            saved = commands.create_canned(user_id, name, content, shared=scope == SHARED,
                                           team_id=scope if isinstance(scope, int) else None)
            state.clear_drafts(prefix, {**widgets.composer_keys(prefix), prefix + "name": "",
                                        prefix + "scope": PERSONAL})
        else:
            saved = commands.update_canned(user_id, canned_id, name=name, content=content, shared=shared)
    except (Invalid, NotFound, Refused) as exc:
        state.notice(f"Not saved: {exc}", "error")
        return
    state.notice(f"Saved /{saved.name}.")


def keep_for(user_id: int, prefix: str) -> None:
    """Who uses a new saved reply: you, everyone, or one of your teams."""
    mine = set(queries.team_ids_of(user_id))
    known = {t.id: t.name for t in queries.teams_list() if t.id in mine}
    labels = {PERSONAL: "Only me", SHARED: "Everyone", **{i: f"Team {n}" for i, n in known.items()}}
    st.selectbox("Kept for", list(labels), key=prefix + "scope", format_func=labels.get)


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
        scope = (":blue-badge[everyone]" if item.shared else ":violet-badge[team]" if item.team_id
                 else ":gray-badge[personal]")
        with st.expander(f"/{item.name}", expanded=False):
            extras = f" · {len(item.attachments)} attachment(s), {len(item.buttons)} button(s)" \
                if item.attachments or item.buttons else ""
            st.markdown(f"{scope}{extras}  \n{widgets.plain(item.text)}")
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
