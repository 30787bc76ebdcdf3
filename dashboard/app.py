"""socialdesk's staff dashboard: `streamlit run dashboard/app.py` (or `socialdesk dashboard`).

This entry script wraps every page: it boots the process once, lets nobody past the sign-in
form without a live session, and builds the navigation from the user's role, so an agent's
browser never even learns the admin pages' addresses. Each page is a script in `app_pages/`.
A sign-in is kept in a cookie so a browser reload does not sign staff out (`state.log_in`).

Speed: the sign-in form needs little, so what only signed-in pages use (commands, queries, the
bell's notifications, charts) is imported when first needed, and the first run of the process
starts `state.warm_up`, which imports the pages' modules in the background while staff type
their password; a page's first visit then finds them loaded (bench/dashboard measures this).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from bot.core.errors import Throttled  # noqa: E402
from bot.staff.permissions import Action  # noqa: E402
from dashboard import state  # noqa: E402

if TYPE_CHECKING:
    from bot.platform.models import User


def sign_in() -> None:
    """The only page anyone sees without a session."""
    st.title("socialdesk")
    state.show_notice()
    state.forget_login()
    with st.form("sign_in"):
        email = st.text_input("E-mail", key="login_email")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    state.preload_widgets()
    if submitted:
        try:
            user = state.log_in(email, password)
        except Throttled as exc:
            st.error(f"Too many failed sign-ins: try again in {exc.retry_after} seconds"
                     + (" (or ask an administrator to unlock your account)." if exc.locked else "."))
            return
        if user is None:
            st.error("Wrong e-mail or password.")
        else:
            st.rerun()


def pages_for(user: User) -> dict[str, list[st.Page]]:
    """Pages by what the user's role may do (`bot.staff.permissions`, the table the REST API's guards
    consult too): everyone works the inbox; automations and settings only for roles allowed them."""
    sections = {
        "Inbox": [
            st.Page("app_pages/inbox.py", title="Inbox", icon=":material/inbox:", default=True),
            st.Page("app_pages/conversation.py", title="Conversation", icon=":material/forum:",
                    visibility="hidden"),
            st.Page("app_pages/contacts.py", title="Contacts", icon=":material/contacts:"),
            st.Page("app_pages/canned.py", title="Saved replies", icon=":material/quickreply:"),
        ],
    }
    automations = []
    if state.may(user, Action.MANAGE_CAMPAIGNS):
        automations += [st.Page("app_pages/campaigns.py", title="Campaigns", icon=":material/campaign:"),
                        st.Page("app_pages/stats.py", title="Stats", icon=":material/bar_chart:")]
    if state.may(user, Action.MANAGE_FLOWS):
        automations.insert(1, st.Page("app_pages/flows.py", title="Bot flows", icon=":material/account_tree:"))
    if automations:
        sections["Automations"] = automations
    admin = []
    if state.may(user, Action.MANAGE_CHANNELS) or state.may(user, Action.MANAGE_USERS):
        admin.append(st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"))
    if state.may(user, Action.MANAGE_USERS):
        admin.append(st.Page("app_pages/teams.py", title="Teams", icon=":material/groups:"))
    if state.may(user, Action.VIEW_REPORTS):
        admin.append(st.Page("app_pages/reports.py", title="Reports", icon=":material/monitoring:"))
    if state.may(user, Action.MANAGE_DELIVERIES):
        admin.append(st.Page("app_pages/deliveries.py", title="Deliveries", icon=":material/report:"))
    if state.sandbox_url() and state.may(user, Action.USE_SANDBOX):
        admin.append(st.Page("app_pages/sandbox.py", title="Sandbox", icon=":material/science:"))
    if admin:
        sections["Admin"] = admin
    if state.may(user, Action.OWN_TOKENS):
        sections["Account"] = [st.Page("app_pages/tokens.py", title="API tokens", icon=":material/key:")]
    return sections


@st.fragment(run_every=state.LIVE_SECONDS * 2)
@state.with_db
def bell(user_id: int) -> None:
    """Unread internal notifications, refreshed on their own."""
    from bot.automation import notifications
    from dashboard import widgets

    unread = notifications.unread_count(user_id)
    with st.popover(f":material/notifications: {unread}" if unread else ":material/notifications:",
                    width="stretch"):
        items = notifications.list_notifications(user_id, limit=15)
        if not items:
            st.caption("No notifications yet.")
        for item in items:
            mark = "**" if item.read_at is None else ""
            st.markdown(f"{mark}{state.when(item.created_at)}{mark} · {widgets.plain(item.label)}")
            if item.conversation_id and st.button("Open", key=f"notif{item.id}"):
                notifications.mark_read(user_id, [item.id])
                state.remember_conversation(item.conversation_id)
                st.switch_page("app_pages/conversation.py",
                               query_params={"conversation": str(item.conversation_id)})
        if unread:
            st.button("Mark all as read", key="notif_all", on_click=state.with_db(notifications.mark_read),
                      args=(user_id,))


def sidebar(user: User) -> None:
    from dashboard import assignment

    with st.sidebar:
        st.markdown(f"**{user.name or user.email}**  \n:gray[{user.email} · {user.role}]")
        bell(user.id)
        assignment.availability_toggle(user)
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            state.log_out()
            st.rerun()
        state.remember_login()


def main() -> None:
    st.set_page_config(page_title="socialdesk", page_icon=":material/forum:", layout="wide")
    state.boot()
    with state.db_scope():
        user = state.current_user()
        if user is None:
            login = st.Page(sign_in, title="Sign in", icon=":material/login:")
            st.navigation([login], position="hidden").run()
        else:
            navigation = st.navigation(pages_for(user))
            sidebar(user)
            navigation.run()
    state.warm_up(Path(__file__).parent)  # after the page is drawn: it must not delay it


main()
