"""Contacts: search people by name or Instagram username, and open a profile with its
identities per channel, tags and every conversation."""

from __future__ import annotations

import streamlit as st
from peewee import DoesNotExist

from bot import queries
from bot.queries import ContactView
from dashboard import attributes, campaign_growth, merge, state, widgets

OPEN = "sd_open_contact"
PAGE_KEY = "contacts_page"


def contact_list() -> None:
    search = st.text_input("Search by name or username", key="contacts_search",
                           on_change=lambda: st.session_state.update({PAGE_KEY: 1}))
    page = st.session_state.get(PAGE_KEY, 1)
    people = queries.contacts(search=search.strip() or None, page=page)
    if not people:
        st.info("Nobody matches." if search
                else "No contacts yet: they appear with their first message or comment.")
    for person in people:
        with st.container(border=True):
            picture, body, action = st.columns([0.5, 7, 1], vertical_alignment="center")
            if person.picture_url:
                picture.image(person.picture_url, width=40)
            else:
                picture.markdown("## :material/person:")
            channels = ", ".join(sorted({i["channel"] for i in person.identities}))
            tags = " ".join(f":blue-badge[{widgets.plain(t)}]" for t in person.tags)
            body.markdown(f"**{widgets.plain(person.name)}** {tags}  \n:gray[{widgets.plain(channels)} · "
                          f"{len(person.conversations)} conversation(s)]")
            if action.button("Open", key=f"contact_{person.id}"):
                st.session_state[OPEN] = person.id
                st.rerun()
    back, label, forward = st.columns([1, 2, 1])
    if back.button("Previous", disabled=page <= 1, key="contacts_prev"):
        st.session_state[PAGE_KEY] = page - 1
        st.rerun()
    label.caption(f"Page {page}")
    if forward.button("Next", disabled=len(people) < queries.PAGE_SIZE, key="contacts_next"):
        st.session_state[PAGE_KEY] = page + 1
        st.rerun()


def identity_line(identity: dict) -> str:
    """One identity: where, under which name, and the page- or Instagram-scoped id."""
    platform = "Instagram" if identity["platform"] == "instagram" else "Messenger"
    parts = [f"**{platform}** on {widgets.plain(identity['channel'])}"]
    if identity["name"]:
        parts.append(widgets.plain(identity["name"]))
    if identity["username"]:
        parts.append(widgets.link(f"@{identity['username']}", widgets.instagram_profile_url(identity["username"]))
                     if identity["platform"] == "instagram" else f"@{widgets.plain(identity['username'])}")
    if identity["follower_count"] is not None:
        parts.append(f"{identity['follower_count']:,} followers")
    return " · ".join(parts) + f"  \n:gray[id {widgets.plain(identity['scoped_id'])}]"


def conversation_line(conversation: dict) -> str:
    """One of the person's conversations: where (kind and page or account), its state, its last words."""
    kind = widgets.KIND_LABELS.get(conversation["kind"], conversation["kind"])
    where = f" on {widgets.plain(conversation['channel'])}" if conversation.get("channel") else ""
    return (f"{widgets.KIND_ICONS.get(conversation['kind'], '')} **{kind}**{where} · {conversation['status']} · "
            f"{state.when(conversation['last_message_at'])}  \n"
            f":gray[{widgets.plain((conversation['preview'] or '')[:140])}]")


def profile(person: ContactView) -> None:
    if st.button("All contacts", icon=":material/arrow_back:", key="contacts_back"):
        st.session_state.pop(OPEN, None)
        st.rerun()
    head, side = st.columns([3, 1.4], gap="large")
    with head:
        if person.picture_url:
            st.image(person.picture_url, width=96)
        st.title(widgets.plain(person.name))
        st.markdown("#### Identities")
        for identity in person.identities:
            st.markdown(identity_line(identity))
        st.markdown(f"#### Conversations ({len(person.conversations)})")
        for conversation in person.conversations:
            with st.container(border=True):
                body, action = st.columns([7, 1], vertical_alignment="center")
                body.markdown(conversation_line(conversation))
                if action.button("Open", key=f"contact_conv_{conversation['id']}"):
                    state.remember_conversation(conversation["id"])
                    st.switch_page("app_pages/conversation.py",
                                   query_params={"conversation": str(conversation["id"])})
    with side:
        widgets.tag_editor(person.id, person.tags)
        merge.profile_panel(state.user_or_stop().id, person)
        attributes.values_form(person.id, person.attributes)
        campaign_growth.source_panel(person.source)


user = state.user_or_stop()
state.show_notice()
open_id = st.session_state.get(OPEN)
if open_id is None:
    st.title("Contacts")
    merge.suggestions(user.id)
    contact_list()
    attributes.definitions_editor(user)
else:
    try:
        profile(queries.contact(open_id))
    except DoesNotExist:
        st.session_state.pop(OPEN, None)
        st.error("This contact no longer exists.")
