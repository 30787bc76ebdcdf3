"""The sandbox (only when the Graph API in use is the built-in emulator): play a customer over
the sandbox's control API -- write a DM, comment on a post, tap a button -- and watch the
automations answer. Everything goes through the same signed webhooks and Send API calls as
with Meta, so what happens here is what would happen live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd
import streamlit as st

from bot.platform import registry as channels
from bot.staff.permissions import Action
from dashboard import state

if TYPE_CHECKING:
    from bot.platform.models import Channel

PEOPLE = "sd_sandbox_people"  # [(account id, user id, name)] created in this session


@st.cache_resource(show_spinner=False)
def client() -> httpx.Client:
    """One pooled HTTP client for the process (httpx.Client is thread-safe)."""
    return httpx.Client(timeout=15)


def control(path: str, **body: Any) -> dict | None:
    """POST to the sandbox control API; shows the sandbox's refusal instead of raising."""
    try:
        answer = client().post(f"{state.sandbox_url()}/control/{path}", json=body)
    except httpx.HTTPError as exc:
        st.error(f"The sandbox did not answer: {exc}")
        return None
    if answer.status_code >= 300:
        st.error(f"The sandbox refused: {answer.text}")
        return None
    return answer.json()


def world() -> dict:
    try:
        answer = client().get(f"{state.sandbox_url()}/control/state")
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        st.error(f"The sandbox did not answer: {exc}")
        st.stop()
    return answer.json()


def people_of(account_id: str, known: dict) -> dict[str, str]:
    """The sandbox's customers of this account: user id -> name."""
    return {c["id"]: c["name"] for c in known.get("customers", []) if c["account_id"] == account_id}


def add_person(account_id: str) -> None:
    with st.form("sandbox_customer", clear_on_submit=True):
        name = st.text_input("Name of a new customer", placeholder="Dana Buyer")
        created = st.form_submit_button("Create customer")
    if created and name.strip():
        answer = control("customers", account_id=account_id, name=name.strip())
        if answer:
            state.notice(f"{name.strip()} exists now (id {answer['user_id']}).")
            st.rerun()


def write_dm(account_id: str, people: dict[str, str]) -> None:
    with st.form("sandbox_dm", clear_on_submit=True):
        who = st.selectbox("As", list(people), format_func=people.get, key="sandbox_dm_who")
        text = st.text_input("Message")
        image = st.text_input("Image URL (optional)")
        sent = st.form_submit_button("Send DM", type="primary")
    if sent and who and (text.strip() or image.strip()):
        attachments = [{"type": "image", "url": image.strip()}] if image.strip() else []
        answer = control("dm", account_id=account_id, user_id=who, text=text.strip() or None,
                         attachments=attachments)
        if answer:
            state.notice("Message sent: it appears in the inbox within seconds.")
            st.rerun()


def write_comment(account_id: str, people: dict[str, str], posts: list[dict]) -> None:
    if st.button("Publish a new post", key="sandbox_post"):
        text = st.session_state.get("sandbox_post_text") or "New post"
        control("posts", account_id=account_id, message=text)
        st.rerun()
    st.text_input("Text of the next post", key="sandbox_post_text", value="Our new collection is here!")
    if not posts:
        st.caption("This account has no posts yet.")
        return
    labels = {p["id"]: f"{p['message'][:50] or p['id']}" for p in posts}
    with st.form("sandbox_comment", clear_on_submit=True):
        who = st.selectbox("As", list(people), format_func=people.get, key="sandbox_comment_who")
        post = st.selectbox("On the post", list(labels), format_func=labels.get)
        text = st.text_input("Comment")
        sent = st.form_submit_button("Comment", type="primary")
    if sent and who and text.strip() and control("comment", account_id=account_id, post_id=post, user_id=who,
                                                  text=text.strip()):
        state.notice("Comment posted: campaigns that watch this post run now.")
        st.rerun()


def tap_button(account_id: str, people: dict[str, str], sent_rows: list[dict]) -> None:
    with_buttons = [r for r in sent_rows if r.get("message_id") and r.get("recipient_id") in people
                    and _buttons_of(r["body"])]
    if not with_buttons:
        st.caption("No message with buttons was sent yet.")
        return
    options = {}
    for row in with_buttons:
        for index, button in enumerate(_buttons_of(row["body"])):
            if button.get("type") == "postback":
                options[(row["message_id"], index, row["recipient_id"])] = (
                    f"{people[row['recipient_id']]}: “{button.get('title')}”")
    if not options:
        st.caption("The buttons sent so far are links (a tap opens a page; no postback).")
        return
    choice = st.selectbox("Button", list(options), format_func=options.get, key="sandbox_tap")
    if st.button("Tap it", key="sandbox_tap_go"):
        mid, index, user_id = choice
        if control("postback", account_id=account_id, user_id=user_id, mid=mid, button_index=index):
            state.notice("Tapped.")
            st.rerun()


def _buttons_of(body: dict) -> list[dict]:
    """The buttons of a Send API body (a button template), if any."""
    message = body.get("message")
    if not isinstance(message, dict):
        return []
    return ((message.get("attachment") or {}).get("payload") or {}).get("buttons") or []


def sent_by_page(account_id: str) -> list[dict]:
    answer = client().get(f"{state.sandbox_url()}/control/sent", params={"account_id": account_id})
    return answer.json().get("sent", []) if answer.status_code == 200 else []


@st.fragment(run_every=state.LIVE_SECONDS)
@state.with_db
def outbox_view(account_id: str, people: dict[str, str]) -> None:
    """What socialdesk sent through the sandbox, live, newest first."""
    state.user_or_stop()
    rows = sent_by_page(account_id)
    if not rows:
        st.caption("Nothing sent yet.")
        return
    st.dataframe(pd.DataFrame([{"When": state.when(r["time_ms"]), "Kind": r["kind"].replace("_", " "),
                                "To": people.get(r.get("recipient_id") or "", r.get("recipient_id"))
                                or f"comment {r.get('comment_id')}", "Text": _text_of(r["body"])}
                               for r in reversed(rows)]), hide_index=True, width="stretch")


def _text_of(body: dict) -> str:
    message = body.get("message") or {}
    if isinstance(message, str):  # a public comment reply's `message` is the text itself
        return message
    payload = (message.get("attachment") or {}).get("payload") or {}
    return message.get("text") or payload.get("text") or payload.get("url") or ""


def account_label(channel: Channel) -> str:
    return f"{channel.name} ({'Instagram' if channel.platform == 'instagram' else 'Facebook Page'})"


state.require(state.user_or_stop(), Action.USE_SANDBOX)
st.title("Sandbox")
st.caption("Play a customer against the built-in sandbox Graph API and watch the automations run.")
state.show_notice()
connected = {c.account_id: c for c in channels.list_channels()}
if not connected:
    st.info("Connect a sandbox page in Settings first.")
    st.stop()
account = st.selectbox("Account", list(connected), format_func=lambda a: account_label(connected[a]),
                       key="sandbox_account")
known = world()
people = people_of(account, known)
posts = [p for p in known.get("posts", []) if p["account_id"] == account]
play, watch = st.columns([1, 1.5], gap="large")
with play:
    add_person(account)
    if people:
        dm_tab, comment_tab, tap_tab = st.tabs(["Direct message", "Comment", "Tap a button"])
        with dm_tab:
            write_dm(account, people)
        with comment_tab:
            write_comment(account, people, posts)
        with tap_tab:
            tap_button(account, people, sent_by_page(account))
with watch:
    st.subheader("What the page sent")
    outbox_view(account, people)
