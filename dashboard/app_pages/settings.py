"""Settings (admins only): connected channels with their toggles and health, connecting a
Facebook Page (and its Instagram account), what to paste into Meta's app settings, and staff.

Page and user tokens are typed in password fields and handed straight to
`channels.connect_page`, which stores them encrypted; nothing here ever shows one.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bot import auth, channels, queries, runtime
from bot.errors import GraphError, Invalid
from bot.models import Channel
from dashboard import state

FOUND_PAGES = "sd_found_pages"  # PageAccount list (with tokens) between "find" and "connect"; never drawn
TOGGLE_LABELS = {
    "receive_messages": "Show direct messages in the inbox",
    "receive_comments": "Show comments in the inbox",
    "notifications": "Notify staff of new messages (the bell)",
    "emails": "E-mail staff about new messages",
    "human_agent": "Human agent tag: staff may answer up to 7 days after the person's last message "
                   "(needs Meta's approval of the Human Agent feature)",
}
HEALTH_BADGES = {"healthy": ":green-badge[healthy]", "unknown": ":gray-badge[not checked yet]"}
INSTAGRAM_NOTE = ("Meta limits Instagram messaging for some accounts: it once required more than 10,000 "
                  "followers while the feature rolled out. Any professional account can use it now, but if "
                  "messages do not arrive, check the account's eligibility in Meta's settings.")


def channel_card(channel: Channel) -> None:
    with st.container(border=True):
        kind = "Instagram account" if channel.platform == "instagram" else "Facebook Page"
        health = HEALTH_BADGES.get(channel.health_status, f":red-badge[{channel.health_status}]")
        st.markdown(f"#### {channel.name} {health}\n{kind} · id `{channel.account_id}`"
                    + (f" · @{channel.username}" if channel.username else ""))
        if channel.health_reason:
            st.error(channel.health_reason)
        st.caption(f"Last webhook: {state.when(channel.last_webhook_at) or 'never'} · "
                   f"last send: {state.when(channel.last_send_at) or 'never'}")
        if channel.platform == "instagram":
            followers = "unknown" if channel.followers_count is None else f"{channel.followers_count:,}"
            st.markdown(f"Followers: **{followers}**")
            st.info(INSTAGRAM_NOTE, icon=":material/info:")
        for name in channels.TOGGLES:
            key = f"toggle_{channel.id}_{name}"
            st.session_state[key] = bool(getattr(channel, name))
            st.toggle(TOGGLE_LABELS[name], key=key, on_change=_set_toggle, args=(channel.id, name, key))


@state.with_db
def _set_toggle(channel_id: int, name: str, key: str) -> None:
    channels.update_settings(channel_id, **{name: bool(st.session_state[key])})
    state.notice("Saved.")


def connect_by_token() -> None:
    st.markdown("Paste a **page access token** (from Meta's Graph API Explorer or your app's settings).")
    with st.form("connect_token", clear_on_submit=True):
        page_id = st.text_input("Page id")
        name = st.text_input("Page name")
        token = st.text_input("Page access token", type="password")
        ig_id = st.text_input("Instagram account id (optional)")
        ig_username = st.text_input("Instagram username (optional)")
        ig_followers = st.number_input("Instagram followers (optional)", min_value=0, step=1, value=0)
        submitted = st.form_submit_button("Connect", type="primary")
    if submitted:
        connect(page_id.strip(), name.strip() or page_id.strip(), token.strip(), ig_id.strip() or None,
                ig_username.strip() or None, int(ig_followers) or None)


def connect(page_id: str, name: str, token: str, ig_id: str | None, ig_username: str | None,
            ig_followers: int | None) -> None:
    try:
        connected = channels.connect_page(page_id, name, token, instagram_id=ig_id, instagram_username=ig_username,
                                          instagram_followers=ig_followers)
    except (Invalid, GraphError) as exc:
        st.error(f"Not connected: {exc}")
        return
    st.session_state.pop(FOUND_PAGES, None)
    state.notice("Connected: " + ", ".join(c.name for c in connected) + ". Webhooks are subscribed.")
    st.rerun()


def connect_from_user_token() -> None:
    st.markdown("Or paste a **user access token**: socialdesk lists the Pages that user manages.")
    with st.form("find_pages", clear_on_submit=True):
        user_token = st.text_input("User access token", type="password")
        find = st.form_submit_button("Find my pages")
    if find and user_token.strip():
        try:
            st.session_state[FOUND_PAGES] = runtime.graph().list_pages(user_token.strip())
        except GraphError as exc:
            st.error(f"Meta refused: {exc}")
    for page in st.session_state.get(FOUND_PAGES, []):
        with st.container(border=True):
            text, action = st.columns([5, 1], vertical_alignment="center")
            ig = page.instagram
            text.markdown(f"**{page.name or page.id}** · `{page.id}`"
                          + (f"  \nInstagram @{ig.username} · {ig.followers_count or 0:,} followers" if ig else ""))
            if action.button("Connect", key=f"connect_{page.id}"):
                connect(page.id, page.name or page.id, page.access_token, ig.id if ig else None,
                        ig.username if ig else None, ig.followers_count if ig else None)


def webhook_help() -> None:
    current = state.settings()
    st.markdown("In your Meta app, **Webhooks → Page** (and **Instagram**), set:")
    st.caption("Callback URL")
    st.code(f"{current.public_url}/webhooks/meta", language=None)
    st.caption("Verify token")
    st.code(current.meta_verify_token, language=None)
    st.markdown("and subscribe these fields: " + ", ".join(f"`{f}`" for f in channels.PAGE_FIELDS)
                + "; for Instagram also `comments`.")
    if current.sandbox:
        st.info("Sandbox mode: no Meta app is configured; the built-in sandbox Graph API plays Meta.")


def staff() -> None:
    users = queries.staff_users()
    st.dataframe(pd.DataFrame([{"E-mail": u.email, "Name": u.name, "Role": u.role, "Active": u.is_active,
                                "Since": state.when(u.created_at)} for u in users]),
                 hide_index=True, use_container_width=True)
    st.markdown("#### Add a staff member")
    with st.form("add_user", clear_on_submit=True):
        email = st.text_input("E-mail", key="new_user_email")
        name = st.text_input("Name", key="new_user_name")
        role = st.selectbox("Role", [auth.Role.AGENT.value, auth.Role.ADMIN.value], key="new_user_role",
                            help="Agents work the inbox and campaigns; admins also manage channels and staff.")
        password = st.text_input("Password (at least 8 characters)", type="password", key="new_user_password")
        added = st.form_submit_button("Add", type="primary")
    if added:
        try:
            user = auth.add_user(email, password, role, name)
        except Invalid as exc:
            st.error(f"Not added: {exc}")
        else:
            state.notice(f"Added {user.role} {user.email}.")
            st.rerun()


state.require_admin(state.user_or_stop())
st.title("Settings")
state.show_notice()
channel_tab, connect_tab, webhook_tab, staff_tab = st.tabs(["Channels", "Connect a page", "Webhook", "Staff"])
with channel_tab:
    connected = channels.list_channels()
    if not connected:
        st.info("No channel yet: connect a Facebook Page.")
    for channel in connected:
        channel_card(channel)
with connect_tab:
    connect_by_token()
    st.divider()
    connect_from_user_token()
with webhook_tab:
    webhook_help()
with staff_tab:
    staff()
