"""Custom contact attributes in the dashboard: a contact's values as a small form (one input per
attribute, by type), and for admins the definitions (add, delete). The checks are the service's
(`bot.helpdesk.attributes`): a bad value is shown as its error, naming the field, and nothing of
the form is stored."""

from __future__ import annotations

import datetime

import streamlit as st

from bot import commands, queries
from bot.core.errors import Invalid, NotFound
from bot.helpdesk.attributes import KINDS, AttributeView
from bot.platform.models import User
from bot.staff.permissions import Action
from dashboard import state, widgets

UNSET = "—"


def values_form(contact_id: int, values: dict[str, str]) -> None:
    """Every defined attribute with this contact's value; Save sets them all at once."""
    st.markdown("#### Attributes")
    definitions = queries.attribute_definitions()
    if not definitions:
        st.caption("No custom attributes defined yet (an admin adds them below the contact list).")
        return
    with st.form(f"attributes{contact_id}", border=False):
        entered = {d.key: _input(d, values.get(d.key), contact_id) for d in definitions}
        if st.form_submit_button("Save attributes", icon=":material/save:"):
            _save(contact_id, entered)


def _input(definition: AttributeView, current: str | None, contact_id: int) -> str | None:
    key = f"attr_{contact_id}_{definition.key}"
    label = definition.label
    if definition.kind == "list":
        options = [UNSET, *definition.choices]
        picked = st.selectbox(label, options, index=options.index(current) if current in options else 0, key=key)
        return None if picked == UNSET else picked
    if definition.kind == "date":
        day = st.date_input(label, value=_date(current), key=key, format="YYYY-MM-DD")
        return day.isoformat() if isinstance(day, datetime.date) else None
    return st.text_input(label, value=current or "", key=key,
                         placeholder="a number" if definition.kind == "number" else "") or None


def _date(text: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _save(contact_id: int, entered: dict[str, str | None]) -> None:
    try:
        commands.set_contact_attributes(contact_id, entered, state.user_or_stop().id)
    except (Invalid, NotFound) as exc:
        st.error(f"Attributes not saved: {exc}")
        return
    for key in [k for k in st.session_state if str(k).startswith(f"attr_{contact_id}_")]:
        del st.session_state[key]  # the inputs show the stored, canonical values again
    state.notice("Attributes saved.")
    st.rerun()


def definitions_editor(user: User) -> None:
    """Admins: the attributes staff can set on contacts, and a form to add one."""
    if not state.may(user, Action.MANAGE_ATTRIBUTES):
        return
    with st.expander("Custom attributes", icon=":material/tune:"):
        for definition in queries.attribute_definitions():
            text, action = st.columns([6, 1], vertical_alignment="center")
            choices = f" ({', '.join(definition.choices)})" if definition.choices else ""
            text.markdown(f"**{widgets.plain(definition.label)}** · `{definition.key}` · "
                          f"{definition.kind}{widgets.plain(choices)}")
            action.button("Delete", key=f"attr_del_{definition.key}", on_click=_remove, args=(definition.key,))
        _new_definition_form()


def _new_definition_form() -> None:
    with st.form("attr_new", clear_on_submit=False):
        key_col, label_col, kind_col = st.columns(3)
        key = key_col.text_input("Key", placeholder="vip_level", help="used as {{ attributes.vip_level }}")
        label = label_col.text_input("Label", placeholder="VIP level")
        kind = kind_col.selectbox("Type", KINDS)
        choices = st.text_input("Choices (for a list, comma-separated)", placeholder="silver, gold")
        if st.form_submit_button("Add attribute", icon=":material/add:"):
            options = [c for c in (part.strip() for part in choices.split(",")) if c]
            try:
                commands.define_attribute(key, label, kind, options)
            except Invalid as exc:
                st.error(f"Attribute not added: {exc}")
                return
            state.notice(f"Attribute {key.strip()} added.")
            st.rerun()


@state.with_db
def _remove(key: str) -> None:
    try:
        commands.remove_attribute(key)
    except NotFound:
        pass
    state.notice(f"Attribute {key} deleted, with every contact's value of it.")
