"""Connecting an Instagram professional account with Instagram Login (no Facebook Page), and
reconnecting one: an Instagram User access token is typed in a password field and handed straight
to `commands.connect_instagram_login`, which checks it against the account, subscribes the
webhooks and only then stores it encrypted. Meta's refusal is shown as Meta said it."""

from __future__ import annotations

import streamlit as st

from bot import commands
from bot.core.errors import GraphError, Invalid
from bot.platform.models import Channel
from dashboard import state, widgets

FORM_KEYS = ("ig_login_token", "ig_login_id")


def connect_form() -> None:
    st.markdown("Or connect an **Instagram professional account without a Facebook Page** (Instagram "
                "Login): paste its **Instagram User access token** (from your app's *Instagram API with "
                "Instagram login* settings). Story mentions, story replies, DMs and comments work the same; "
                "see the README for what each login offers.")
    with st.form("connect_instagram_login"):
        st.text_input("Instagram User access token", type="password", key="ig_login_token")
        st.text_input("Instagram account id (optional: checked against the token)", key="ig_login_id")
        st.form_submit_button("Connect Instagram account", type="primary", on_click=_connect)


def reconnect_form(channel: Channel) -> None:
    """A broken Instagram Login channel asks for a new Instagram User token of the same account."""
    with st.expander(f"Reconnect (Instagram account {channel.account_id})", expanded=True, icon=":material/link:"):
        with st.form(f"reconnect_ig_{channel.id}", border=False):
            st.text_input("Instagram User access token", type="password", key=f"ig_reconnect_{channel.id}")
            st.form_submit_button("Reconnect", type="primary", on_click=_reconnect, args=(channel.id,))


@state.with_db
def _connect() -> None:
    """Submit callback: the token field is emptied whatever happens."""
    token, account_id = ((st.session_state.get(key) or "").strip() for key in FORM_KEYS)
    for key in FORM_KEYS:
        st.session_state[key] = ""
    connect(token, account_id or None)


@state.with_db
def _reconnect(channel_id: int) -> None:
    key = f"ig_reconnect_{channel_id}"
    token = (st.session_state.get(key) or "").strip()
    st.session_state[key] = ""
    connect(token, Channel.get_by_id(channel_id).account_id)


def connect(token: str, account_id: str | None) -> None:
    if not token:
        state.notice("Not connected: paste the Instagram User access token.", "error")
        return
    try:
        connected = commands.connect_instagram_login(token, account_id)
    except (Invalid, GraphError) as exc:
        state.notice(f"Not connected: {exc}", "error")
        return
    names = ", ".join(f"@{widgets.plain(c.username or c.name)}" for c in connected)
    state.notice(f"Connected with Instagram Login: {names}. Webhooks are subscribed.")
