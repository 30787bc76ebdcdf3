"""Settings (admins only): connected channels with their toggles, health and handover to a
person, connecting a Facebook Page (and its Instagram account), what to paste into Meta's app
settings, staff, and the sign-in log with locked accounts (`dashboard.access`).

Page and user tokens are typed in password fields and handed straight to
`commands.connect_page`, which stores them encrypted; nothing here ever shows one.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bot import commands, queries
from bot.automation import handover
from bot.automation.handover import HandoverSettings
from bot.channels import connect as channel_settings
from bot.channels import health
from bot.core.errors import GraphError, Invalid
from bot.platform import registry as channels
from bot.platform import runtime
from bot.platform.db import now_ms
from bot.platform.models import Channel
from bot.staff import auth
from bot.staff.permissions import Action
from dashboard import access, assignment, instagram_login, messenger_profile, state, widgets

FOUND_PAGES = "sd_found_pages"  # PageAccount list (with tokens) between "find" and "connect"; never drawn
TOGGLE_LABELS = {
    "receive_messages": "Show direct messages in the inbox",
    "receive_comments": "Show comments in the inbox",
    "notifications": "Notify staff of new messages (the bell)",
    "emails": "E-mail staff about new messages",
    "human_agent": "Human agent tag: staff may answer up to 7 days after the person's last message "
                   "(needs Meta's approval of the Human Agent feature)",
    "notify_postbacks": "Notify staff when someone taps a button (the bot answers those)",
    "notify_campaign_comments": "Notify staff of comments a campaign already answered",
}
RECONNECT_STATUSES = (health.NEEDS_RECONNECTING, health.UNSUBSCRIBED, health.TOKEN_EXPIRING)
HEALTH_BADGES = {"healthy": ":green-badge[healthy]", "unknown": ":gray-badge[not checked yet]",
                 "token_expiring": ":orange-badge[token expiring soon]"}
HOUR_MS = 3_600_000
PAUSE_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
HANDOVER_FIELDS = ("keywords", "payloads", "message", "pause_amount", "pause_unit")
HISTORY_WORDS = {"status": "status", "resubscribed": "re-subscribed", "gap": "gap detected"}
INSTAGRAM_NOTE = ("Meta limits Instagram messaging for some accounts: it once required more than 10,000 "
                  "followers while the feature rolled out. Any professional account can use it now, but if "
                  "messages do not arrive, check the account's eligibility in Meta's settings.")


def channel_card(channel: Channel) -> None:
    with st.container(border=True):
        kind = "Instagram account" if channel.platform == "instagram" else "Facebook Page"
        kind += " (Instagram Login, no Facebook Page)" if channel.login == "instagram" else ""
        view = health.view(channel.id)
        badge = health_badge(view)
        st.markdown(f"#### {widgets.plain(channel.name)} {badge}\n{kind} · id `{channel.account_id}`"
                    + (f" · @{widgets.plain(channel.username)}" if channel.username else ""))
        if channel.health_reason:
            st.error(channel.health_reason)
        st.caption(f"Last webhook: {state.when(channel.last_webhook_at) or 'never'} · "
                   f"last send: {state.when(channel.last_send_at) or 'never'}")
        health_panel(channel, view)
        if channel.health_status in RECONNECT_STATUSES:
            (instagram_login.reconnect_form if channel.login == "instagram" else reconnect_form)(channel)
        if channel.platform == "instagram":
            followers = "unknown" if channel.followers_count is None else f"{channel.followers_count:,}"
            st.markdown(f"Followers: **{followers}**")
            st.info(INSTAGRAM_NOTE, icon=":material/info:")
        for name in channels.TOGGLES:
            key = f"toggle_{channel.id}_{name}"
            st.session_state[key] = bool(getattr(channel, name))
            st.toggle(TOGGLE_LABELS[name], key=key, on_change=_set_toggle, args=(channel.id, name, key))
        for warning in channel_settings.setting_warnings(channel):
            st.warning(warning, icon=":material/warning:")
        handover_panel(channel)
        assignment.rule_panel(channel)
        messenger_profile.profile_panel(channel)


def health_badge(view: health.HealthView) -> str:
    """Never "healthy" before a check ran, nor next to a failed check: a problem first, then a
    failed check, then "not checked yet", and only then the status itself."""
    if view.status not in health.GOOD:
        return HEALTH_BADGES.get(view.status, f":red-badge[{view.label}]")
    if view.last_error:
        return ":orange-badge[last check failed]"
    if view.last_checked_at is None:
        return HEALTH_BADGES[health.UNKNOWN]
    return HEALTH_BADGES.get(view.status, f":gray-badge[{view.label}]")


def reconnect_form(channel: Channel) -> None:
    """Reconnect a broken channel: its page id is known, only a new page token is asked for."""
    page = channel_page(channel)
    with st.expander(f"Reconnect (page id {channel.page_id})", expanded=True, icon=":material/link:"):
        st.caption(f"Paste a new page access token for page `{channel.page_id}`"
                   + (" (it reconnects the Instagram account linked to it too)." if page is not channel else "."))
        with st.form(f"reconnect_{channel.id}", border=False):
            st.text_input("Page access token", type="password", key=f"reconnect_token_{channel.id}")
            st.form_submit_button("Reconnect", type="primary", on_click=_reconnect, args=(channel.id,))


def channel_page(channel: Channel) -> Channel:
    """The Facebook Page channel serving this one (itself for a page)."""
    if channel.platform == "facebook":
        return channel
    return (Channel.select().where((Channel.platform == "facebook")
                                            & (Channel.account_id == channel.page_id)).first() or channel)


@state.with_db
def _reconnect(channel_id: int) -> None:
    """Submit callback: the token field is emptied whatever happens."""
    key = f"reconnect_token_{channel_id}"
    token = (st.session_state.get(key) or "").strip()
    st.session_state[key] = ""
    channel = Channel.get_by_id(channel_id)
    page = channel_page(channel)
    ig = channel if channel.platform == "instagram" else None
    if not token:
        state.notice("Not reconnected: paste the page access token.", "error")
        return
    connect(channel.page_id, page.name if page.platform == "facebook" else channel.page_id, token,
            ig.account_id if ig else None, ig.username if ig else None, ig.followers_count if ig else None)


def handover_panel(channel: Channel) -> None:
    """What asks for a person on this channel, what the bot says then, and how long it stays
    quiet once a person has the conversation (`bot.automation.handover`). A refused value stays in its field,
    with the reason under it, so it can be fixed."""
    key = f"handover_{channel.id}_"
    if key + "keywords" not in st.session_state:  # first drawn (again): the stored settings, no old error
        _show_handover(key, handover.settings_for(channel.id))
        st.session_state.pop(key + "errors", None)
    errors: dict[str, str] = st.session_state.get(key + "errors", {})
    with st.expander("Handover to a person", expanded=bool(errors)), st.form(key + "form", border=False):
        st.text_area("Words that ask for a person (one per line; whole words, any case)", key=key + "keywords")
        _field_error(errors, "handover_keywords")
        st.text_area("Button payloads that ask for a person (one per line)", key=key + "payloads", height=68)
        _field_error(errors, "handover_payloads")
        st.text_input("What the bot says when it hands over (empty: nothing)", key=key + "message")
        _field_error(errors, "handover_message")
        amount, unit = st.columns(2)
        amount.number_input("Bot pause after a person takes over", min_value=1, step=1, key=key + "pause_amount")
        unit.selectbox("Unit", list(PAUSE_UNITS), key=key + "pause_unit")
        _field_error(errors, "pause_seconds")
        _field_error(errors, "")
        st.form_submit_button("Save handover settings", on_click=_save_handover, args=(channel.id, key))


def _show_handover(key: str, settings: HandoverSettings) -> None:
    """Put stored settings into the panel's fields (before they are drawn)."""
    unit = next(u for u in ("days", "hours", "minutes") if settings.pause_seconds % PAUSE_UNITS[u] == 0
                or u == "minutes")
    values = {"keywords": "\n".join(settings.handover_keywords), "payloads": "\n".join(settings.handover_payloads),
              "message": settings.handover_message or "", "pause_unit": unit,
              "pause_amount": max(1, settings.pause_seconds // PAUSE_UNITS[unit])}
    for name in HANDOVER_FIELDS:
        st.session_state[key + name] = values[name]


def _field_error(errors: dict[str, str], field: str) -> None:
    if field in errors:
        st.error(errors[field])


@state.with_db
def _save_handover(channel_id: int, key: str) -> None:
    """Form callback: save through `handover.save_settings`, which validates; its error names
    the field, shown under it on the next run."""
    values = {name: st.session_state.get(key + name) for name in HANDOVER_FIELDS}
    settings = HandoverSettings(
        handover_keywords=_lines(values["keywords"]), handover_payloads=_lines(values["payloads"]),
        handover_message=(values["message"] or "").strip() or None,
        pause_seconds=int(values["pause_amount"] or 0) * PAUSE_UNITS.get(values["pause_unit"], 60))
    try:
        saved = handover.save_settings(channel_id, settings)
    except Invalid as exc:
        st.session_state[key + "errors"] = {_handover_field(exc.field): _handover_problem(exc)}
        return
    st.session_state.pop(key + "errors", None)
    _show_handover(key, saved)
    state.notice("Handover settings saved: they apply to the next message.")


def _lines(text: str | None) -> list[str]:
    """One entry per non-empty line, in order, without repeats."""
    return list(dict.fromkeys(line.strip() for line in (text or "").splitlines() if line.strip()))


def _handover_field(field: str) -> str:
    """The panel field an error belongs to ("handover_payloads[1]" is the payloads field)."""
    root = field.split("[", 1)[0]
    return root if root in ("handover_keywords", "handover_payloads", "handover_message", "pause_seconds") else ""


def _handover_problem(exc: Invalid) -> str:
    if exc.field == "pause_seconds":  # the service counts seconds; the panel shows minutes to days
        return f"The pause must be between 1 minute and {handover.MAX_PAUSE_SECONDS // 86400} days."
    if "[" in exc.field:
        index = int(exc.field.split("[", 1)[1].rstrip("]"))
        return f"Line {index + 1}: {exc.problem}."
    return f"{exc.problem.capitalize()}."


def health_panel(channel: Channel, view: health.HealthView) -> None:
    """When the channel was last checked, its health history and backfills, and the buttons to
    check now or read back a period from Meta."""
    expiry = f" · token expires: {state.when(view.token_expires_at)}" if view.token_expires_at else ""
    st.caption(f"Last health check: {state.when(view.last_checked_at) or 'not yet'} · "
               f"next: {state.when(view.next_check_at) or 'soon'}{expiry}"
               + (f" · last check failed: {view.last_error}" if view.last_error else ""))
    with st.expander("Health history and backfills"):
        for entry in view.history:
            what = HISTORY_WORDS.get(entry.kind, entry.kind)
            status = health.LABELS.get(entry.status, entry.status)
            st.markdown(f"- {state.when(entry.created_at)} · {what}: **{status}** (found by {entry.source})"
                        + (f" · {widgets.plain(entry.reason)}" if entry.reason else ""))
        if not view.history:
            st.caption("No change recorded yet.")
        for run in view.backfills:
            st.markdown(f"**Backfill** {state.when(run.since)} → {state.when(run.until)} ({run.trigger}): "
                        f"{run.status} · messages {run.messages_stored} new of {run.messages_found} found · "
                        f"comments {run.comments_stored} new of {run.comments_found} found")
            for line in run.unrecovered:
                st.warning(line)
        check, hours, read = st.columns([1, 1, 1], vertical_alignment="bottom")
        check.button("Check now", key=f"check_{channel.id}", on_click=_check_now, args=(channel.id,))
        hours.number_input("Hours to read back", min_value=1, max_value=24 * 7, value=24, step=1,
                           key=f"backfill_hours_{channel.id}")
        read.button("Read back from Meta", key=f"backfill_{channel.id}", on_click=_request_backfill,
                    args=(channel.id,))


@state.with_db
def _check_now(channel_id: int) -> None:
    health.check_soon(channel_id)
    state.notice("The channel will be checked within a few seconds.")


@state.with_db
def _request_backfill(channel_id: int) -> None:
    hours = int(st.session_state.get(f"backfill_hours_{channel_id}") or 24)
    user = state.current_user()
    try:
        commands.request_backfill(channel_id, now_ms() - hours * HOUR_MS, None, requested_by=user.id if user else None)
    except Invalid as exc:
        state.notice(f"Not started: {exc}", "error")
        return
    state.notice(f"Reading back the last {hours} hours from Meta; the result shows under the channel.")


@state.with_db
def _set_toggle(channel_id: int, name: str, key: str) -> None:
    commands.update_channel_settings(channel_id, **{name: bool(st.session_state[key])})
    state.notice("Saved.")


TOKEN_FORM = ("connect_page_id", "connect_page_name", "connect_page_token", "connect_ig_id",
              "connect_ig_username")


def connect_by_token() -> None:
    st.markdown("Paste a **page access token** (from Meta's Graph API Explorer or your app's settings).")
    with st.form("connect_token"):
        st.text_input("Page id", key="connect_page_id")
        st.text_input("Page name", key="connect_page_name")
        st.text_input("Page access token", type="password", key="connect_page_token")
        st.text_input("Instagram account id (optional)", key="connect_ig_id")
        st.text_input("Instagram username (optional)", key="connect_ig_username")
        st.number_input("Instagram followers (optional)", min_value=0, step=1, key="connect_ig_followers")
        st.form_submit_button("Connect", type="primary", on_click=_connect_pasted)


@state.with_db
def _connect_pasted() -> None:
    """Submit callback: it runs before the page is drawn again, so the token field can be
    emptied whatever happens (a token never sits in a widget after use)."""
    values = {key: (st.session_state.get(key) or "").strip() for key in TOKEN_FORM}
    followers = int(st.session_state.get("connect_ig_followers") or 0) or None
    for key in TOKEN_FORM:
        st.session_state[key] = ""
    page_id = values["connect_page_id"]
    connect(page_id, values["connect_page_name"] or page_id, values["connect_page_token"],
            values["connect_ig_id"] or None, values["connect_ig_username"] or None, followers)


def connect(page_id: str, name: str, token: str, ig_id: str | None, ig_username: str | None,
            ig_followers: int | None) -> None:
    """Connect and subscribe; the outcome is shown as a notice on the next run."""
    try:
        connected = commands.connect_page(page_id, name, token, instagram_id=ig_id,
                                          instagram_username=ig_username, instagram_followers=ig_followers)
    except (Invalid, GraphError) as exc:
        state.notice(f"Not connected: {exc}", "error")
        return
    st.session_state.pop(FOUND_PAGES, None)
    names = ", ".join(widgets.plain(c.name) for c in connected)
    state.notice(f"Connected: {names}. Webhooks are subscribed.")


def connect_from_user_token() -> None:
    st.markdown("Or paste a **user access token**: socialdesk lists the Pages that user manages.")
    with st.form("find_pages"):
        st.text_input("User access token", type="password", key="user_token")
        st.form_submit_button("Find my pages", on_click=_find_pages)
    for page in st.session_state.get(FOUND_PAGES, []):
        with st.container(border=True):
            text, action = st.columns([5, 1], vertical_alignment="center")
            ig = page.instagram
            text.markdown(f"**{widgets.plain(page.name or page.id)}** · `{page.id}`" + (
                f"  \nInstagram @{widgets.plain(ig.username)} · {ig.followers_count or 0:,} followers"
                if ig else ""))
            action.button("Connect", key=f"connect_{page.id}", on_click=state.with_db(connect),
                          args=(page.id, page.name or page.id, page.access_token, ig.id if ig else None,
                                ig.username if ig else None, ig.followers_count if ig else None))


def _find_pages() -> None:
    """Submit callback: list the user's pages (with their tokens, kept only until connected)."""
    user_token = (st.session_state.get("user_token") or "").strip()
    st.session_state["user_token"] = ""
    if not user_token:
        return
    try:
        st.session_state[FOUND_PAGES] = runtime.graph().list_pages(user_token)
    except GraphError as exc:
        state.notice(f"Meta refused: {exc}", "error")


def webhook_help() -> None:
    current = state.settings()
    st.markdown("In your Meta app, **Webhooks → Page** (and **Instagram**), set:")
    st.caption("Callback URL")
    st.code(f"{current.public_url}/webhooks/meta", language=None)
    st.caption("Verify token")
    st.code(current.meta_verify_token, language=None)
    st.markdown("and subscribe these fields: " + ", ".join(f"`{f}`" for f in channels.PAGE_FIELDS)
                + "; for Instagram also `comments`. For accounts connected with Instagram Login, set the same "
                "two values under *Instagram → API setup with Instagram login → Webhooks*.")
    if current.sandbox:
        st.info("Sandbox mode: no Meta app is configured; the built-in sandbox Graph API plays Meta.")


def staff() -> None:
    users = queries.staff_users()
    st.dataframe(pd.DataFrame([{"E-mail": u.email, "Name": u.name, "Role": u.role, "Active": u.is_active,
                                "Since": state.when(u.created_at)} for u in users]),
                 hide_index=True, width="stretch")
    st.markdown("#### Add a staff member")
    with st.form("add_user", clear_on_submit=True):
        email = st.text_input("E-mail", key="new_user_email")
        name = st.text_input("Name", key="new_user_name")
        role = st.selectbox("Role", [auth.Role.AGENT.value, auth.Role.ADMIN.value], key="new_user_role",
                            help="Agents work the inbox and campaigns; admins also manage channels, staff.")
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


state.require(state.user_or_stop(), Action.MANAGE_CHANNELS)
st.title("Settings")
state.show_notice()
channel_tab, connect_tab, webhook_tab, staff_tab, sign_in_tab = st.tabs(
    ["Channels", "Connect a page or account", "Webhook", "Staff", "Sign-ins"])
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
    st.divider()
    instagram_login.connect_form()
with webhook_tab:
    webhook_help()
with staff_tab:
    staff()
with sign_in_tab:
    access.sign_ins()
