"""Settings -> a channel -> "Messenger profile" (issue 22): the Get Started button, greeting,
persistent menu and ice breakers, one row per item and language, saved through
`commands.save_messenger_profile` (Meta's limits checked, pushed only when changed). A refused
value is shown with the field it concerns, in people's words."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from bot import commands, queries
from bot.core.errors import Invalid
from bot.core.profile import Greeting, IceBreaker, IceBreakers, Menu, MenuItem, ProfileSpec
from bot.platform.models import Channel
from dashboard import state, widgets

STATUS_WORDS = {"not_set": "not set", "pending": "waiting to be sent to Meta", "pushing": "being sent to Meta",
                "pushed": "live on Meta", "failed": "refused by Meta"}
ITEM_KINDS = ("payload", "flow", "link")


def profile_panel(channel: Channel) -> None:
    key = f"profile_{channel.id}_"
    view = queries.messenger_profile(channel.id)
    messenger = channel.platform != "instagram"
    error = st.session_state.get(key + "error")
    with st.expander("Messenger profile: Get Started, greeting, menu, ice breakers", expanded=bool(error),
                     icon=":material/menu:"), st.form(key + "form", border=False):
        st.caption(f"Status: {STATUS_WORDS.get(view.status, view.status)}"
                   + (f" · {widgets.plain(view.reason)}" if view.reason else ""))
        for warning in view.warnings:
            st.warning(warning, icon=":material/warning:")
        spec = view.spec
        if messenger:
            st.text_input("Get Started payload (empty: no button)", value=spec.get_started_payload or "",
                          key=key + "get_started")
            _table(key + "greeting", _greetings(spec))
            st.checkbox("Hide the text box (menu only)", key=key + "composer",
                        value=any(m.composer_input_disabled for m in spec.persistent_menu))
        st.caption("Menu items and ice breakers: kind payload (a button payload), flow (a bot flow's "
                   "name: its entry payload is used) or link (a URL, menu only). Language: default or en_US...")
        _table(key + "menu", _menu_rows(spec))
        _table(key + "breakers", _breaker_rows(spec))
        starts = [f"{widgets.plain(p)} → {widgets.plain(f) if f else 'no flow (staff answer)'}"
                  for p, f in view.starts.items()]
        if starts:
            st.caption("Payloads: " + " · ".join(starts))
        if error:
            st.error(error)
        st.form_submit_button("Save and send to Meta", on_click=_save, args=(channel.id, key, messenger))


def _table(key: str, frame: pd.DataFrame) -> None:
    """An editable table; the rows it started from are kept beside it, since Streamlit keeps
    only the edits under the widget's key."""
    st.session_state[key + "_base"] = frame
    st.data_editor(frame, num_rows="dynamic", key=key, width="stretch")


def _greetings(spec: ProfileSpec) -> pd.DataFrame:
    rows = [{"language": g.locale, "greeting": g.text} for g in spec.greeting]
    return pd.DataFrame(rows or [{"language": "default", "greeting": ""}])


def _menu_rows(spec: ProfileSpec) -> pd.DataFrame:
    rows = [{"language": m.locale, "menu item": i.title, "kind": "link" if i.url else "payload",
             "value": i.url or i.payload} for m in spec.persistent_menu for i in m.items]
    return pd.DataFrame(rows, columns=["language", "menu item", "kind", "value"])


def _breaker_rows(spec: ProfileSpec) -> pd.DataFrame:
    rows = [{"language": b.locale, "ice breaker": q.question, "kind": "payload", "value": q.payload}
            for b in spec.ice_breakers for q in b.questions]
    return pd.DataFrame(rows, columns=["language", "ice breaker", "kind", "value"])


@state.with_db
def _save(channel_id: int, key: str, messenger: bool) -> None:
    try:
        spec = _spec(key, messenger)
        commands.save_messenger_profile(channel_id, spec)
    except Invalid as exc:
        st.session_state[key + "error"] = f"{exc.field}: {exc.problem}"
        return
    st.session_state.pop(key + "error", None)
    state.notice("Messenger profile saved; it is sent to Meta when it changed.")


def _spec(key: str, messenger: bool) -> ProfileSpec:
    """The form's rows as a ProfileSpec (grouped by language, in order)."""
    greetings = [Greeting(locale=_locale(r), text=str(r.get("greeting") or ""))
                 for r in _rows(key + "greeting") if r.get("greeting")] if messenger else []
    menu_rows = [r for r in _rows(key + "menu") if r.get("menu item")]
    menus: dict[str, list[MenuItem]] = {}
    for row in menu_rows:
        menus.setdefault(_locale(row), []).append(MenuItem(title=str(row["menu item"]), **_target(row, "menu")))
    breakers: dict[str, list[IceBreaker]] = {}
    for row in (r for r in _rows(key + "breakers") if r.get("ice breaker")):
        breakers.setdefault(_locale(row), []).append(IceBreaker(question=str(row["ice breaker"]),
                                                                **_target(row, "ice breaker")))
    composer = bool(st.session_state.get(key + "composer")) and messenger
    return ProfileSpec(
        get_started_payload=(st.session_state.get(key + "get_started") or "").strip() or None if messenger else None,
        greeting=greetings,
        persistent_menu=[Menu(locale=loc, composer_input_disabled=composer, items=items)
                         for loc, items in menus.items()],
        ice_breakers=[IceBreakers(locale=loc, questions=qs) for loc, qs in breakers.items()],
    )


def _rows(key: str) -> list[dict[str, Any]]:
    """The edited table: Streamlit keeps the edits (edited/added/deleted rows) under the key."""
    edits = st.session_state.get(key) or {}
    base = st.session_state.get(key + "_base")
    rows = base.to_dict("records") if isinstance(base, pd.DataFrame) else []
    for index, change in (edits.get("edited_rows") or {}).items():
        if int(index) < len(rows):
            rows[int(index)].update(change)
    deleted = set(edits.get("deleted_rows") or [])
    rows = [r for i, r in enumerate(rows) if i not in deleted]
    return rows + list(edits.get("added_rows") or [])


def _locale(row: dict[str, Any]) -> str:
    return str(row.get("language") or "default").strip() or "default"


def _target(row: dict[str, Any], what: str) -> dict[str, str]:
    kind, value = str(row.get("kind") or "payload").strip(), str(row.get("value") or "").strip()
    if kind not in ITEM_KINDS or (kind == "link" and what != "menu"):
        raise Invalid(f"{what}.kind", f"must be {' or '.join(ITEM_KINDS[:2 if what != 'menu' else 3])}")
    return {"url" if kind == "link" else kind: value}
