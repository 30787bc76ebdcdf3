"""The sandbox (only when the Graph API in use is the built-in emulator): play a customer over
the sandbox's control API -- write a DM, comment on a post or reply under a comment, tap a button
or a quick reply -- and see what the person's phone shows. Everything goes through the same
signed webhooks and Send API calls as with Meta, so what happens here is what would happen live.

The phone is drawn from the sandbox's own record of what Meta would show the person
(`/control/phone`), not from socialdesk's database: it is the other side's view, bubbles, cards,
buttons, attachments and quick replies included. Customer text is shown with `widgets.plain`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import streamlit as st

from bot.platform import registry as channels
from bot.staff.permissions import Action
from dashboard import state, widgets

if TYPE_CHECKING:
    from bot.platform.models import Channel

PHONE_HEIGHT = 560


@st.cache_resource(show_spinner=False)
def client() -> httpx.Client:
    """One pooled HTTP client for the process (httpx.Client is thread-safe)."""
    return httpx.Client(timeout=15)


def control(path: str, **body: Any) -> dict | None:
    """POST to the sandbox control API; a refusal becomes a notice instead of an exception."""
    try:
        answer = client().post(f"{state.sandbox_url()}/control/{path}", json=body)
    except httpx.HTTPError as exc:
        state.notice(f"The sandbox did not answer: {exc}", "error")
        return None
    if answer.status_code >= 300:
        state.notice(f"The sandbox refused: {answer.text}", "error")
        return None
    return answer.json()


def read(path: str, **params: Any) -> dict:
    try:
        answer = client().get(f"{state.sandbox_url()}/control/{path}", params=params)
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        st.error(f"The sandbox did not answer: {exc}")
        st.stop()
    return answer.json()


def people_of(account_id: str, known: dict) -> dict[str, str]:
    """The sandbox's customers of this account: user id -> name."""
    return {c["id"]: c["name"] for c in known.get("customers", []) if c["account_id"] == account_id}


def reconnect_token(known: dict) -> None:
    """The sandbox user's token: what Settings -> Connect asks for to (re)connect sandbox pages."""
    with st.expander("Sandbox user token (to connect or reconnect a page in Settings)", icon=":material/key:"):
        st.code(known["config"]["user_token"], language=None)
        st.caption(f"User {widgets.plain(known['config']['user_name'])}; a sandbox token, never a real one.")


# --- playing the customer ------------------------------------------------------------------------------


def add_person(account_id: str) -> None:
    with st.form("sandbox_customer", clear_on_submit=True):
        name = st.text_input("Name of a new customer", placeholder="Dana Buyer")
        created = st.form_submit_button("Create customer")
    if created and name.strip():
        answer = control("customers", account_id=account_id, name=name.strip())
        if answer:
            state.notice(f"{name.strip()} exists now (id {answer['user_id']}).")
            st.rerun()


def write_dm(account_id: str, who: str) -> None:
    with st.form("sandbox_dm", clear_on_submit=True):
        text = st.text_input("Message")
        image = st.text_input("Image URL (optional)")
        sent = st.form_submit_button("Send DM", type="primary")
    if sent and (text.strip() or image.strip()):
        attachments = [{"type": "image", "url": image.strip()}] if image.strip() else []
        if control("dm", account_id=account_id, user_id=who, text=text.strip() or None, attachments=attachments):
            state.notice("Message sent: it appears in the inbox within seconds.")
            st.rerun()


def write_comment(account_id: str, who: str, posts: list[dict]) -> None:
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
        post = st.selectbox("On the post", list(labels), format_func=labels.get, index=len(labels) - 1)
        text = st.text_input("Comment")
        sent = st.form_submit_button("Comment", type="primary")
    if sent and text.strip() and control("comment", account_id=account_id, post_id=post, user_id=who,
                                         text=text.strip()):
        state.notice("Comment posted: campaigns that watch this post run now.")
        st.rerun()


# --- the phone -----------------------------------------------------------------------------------------


@st.fragment(run_every=state.LIVE_SECONDS)
@state.with_db
def phone(account_id: str, who: str, name: str) -> None:
    """What the person's phone shows, live: the chat with the page and the comment threads."""
    state.user_or_stop()
    seen = read("phone", account_id=account_id, user_id=who)
    chat_tab, comments_tab = st.tabs(["Chat", f"Comments ({len(seen['posts'])} posts)"])
    with chat_tab, st.container(border=True, height=PHONE_HEIGHT, autoscroll=True, key="sandbox_phone"):
        st.caption(f":material/smartphone: {widgets.plain(name)}'s phone · {widgets.plain(seen['account_name'])}")
        if not seen["chat"]:
            st.caption("No messages yet.")
        for index, bubble in enumerate(seen["chat"]):
            last = index == len(seen["chat"]) - 1
            message_bubble(bubble, account_id, who, quick_replies=last)
    with comments_tab, st.container(border=True, height=PHONE_HEIGHT):
        if not seen["posts"]:
            st.caption(f"{widgets.plain(name)} has not commented yet.")
        for post in seen["posts"]:
            post_thread(post, account_id, who)


def message_bubble(bubble: dict, account_id: str, who: str, *, quick_replies: bool) -> None:
    """One message, on the page's side (left) or the person's (right), with its cards, buttons to
    tap, attachments, and (on the newest message) the quick replies above the keyboard."""
    left, right = st.columns([4, 1] if bubble["from_page"] else [1, 4])
    with (left if bubble["from_page"] else right), st.container(border=True):
        if bubble.get("private_reply_to"):
            st.caption(":material/comment: Reply to your comment: “"
                       f"{widgets.plain((bubble['private_reply_to'].get('text') or '')[:80])}”")
        if bubble.get("text"):
            st.markdown(widgets.plain(bubble["text"]))
        for media in bubble["media"]:
            media_view(media)
        if bubble.get("template"):
            template_view(bubble["template"], bubble["mid"], account_id, who)
        st.caption(state.when(bubble["time_ms"]))
    if quick_replies and bubble["from_page"] and bubble["quick_replies"]:
        quick_reply_row(bubble["quick_replies"], bubble["mid"], account_id, who)


def media_view(media: dict) -> None:
    url = widgets.safe_url(media.get("url"))
    if url and media.get("type") == "image":
        st.image(url, width=220)
    elif url and media.get("type") == "video":
        st.video(url)
    elif url and media.get("type") == "audio":
        st.audio(url)
    else:
        st.markdown(f":material/attach_file: {widgets.link(media.get('title') or 'File', url)}")


def template_view(template: dict, mid: str, account_id: str, who: str) -> None:
    """A button template (text and buttons) or a generic template (cards with image, title,
    subtitle and buttons); every postback button can be tapped, link buttons open their page.
    A card's button is tapped as the person does, by card and button (`card_index`)."""
    if template.get("text"):
        st.markdown(widgets.plain(template["text"]))
    for index, button in enumerate(template.get("buttons") or []):
        tap_button(button, Tap(account_id, who, mid, index))
    for card_index, card in enumerate(template.get("elements") or []):
        card_view(card, Tap(account_id, who, mid, 0, card_index))


def card_view(card: dict, tap: Tap) -> None:
    """One card: its image, title, subtitle and buttons, framed like Messenger draws it."""
    with st.container(border=True):
        image = widgets.safe_url(card.get("image_url"))
        if image:
            st.image(image, width=220)
        st.markdown(f"**{widgets.plain(card.get('title'))}**")
        if card.get("subtitle"):
            st.caption(widgets.plain(card["subtitle"]))
        for index, button in enumerate(card.get("buttons") or []):
            tap_button(button, tap._replace(button=index))


class Tap(NamedTuple):
    """Which button the person taps: by index in a button template, or in card `card` of a
    generic template."""

    account_id: str
    who: str
    mid: str
    button: int
    card: int | None = None

    @property
    def key(self) -> str:
        return f"tap_{self.mid}_{self.button}" if self.card is None else f"tap_{self.mid}_{self.card}_{self.button}"


def tap_button(button: dict, tap: Tap) -> None:
    title = str(button.get("title") or "Button")
    url = widgets.safe_url(button.get("url"))
    if button.get("type") == "web_url" and url:
        st.link_button(title, url, width="stretch")
    else:
        st.button(title, key=tap.key, width="stretch", on_click=_tap, args=(tap,))


def quick_reply_row(replies: list[dict], mid: str, account_id: str, who: str) -> None:
    columns = st.columns(min(len(replies), 4))
    for index, reply in enumerate(replies):
        with columns[index % len(columns)]:
            st.button(str(reply.get("title") or reply.get("payload")), key=f"quick_{mid}_{index}",
                      on_click=_quick_reply, args=(account_id, who, str(reply.get("payload"))))


def post_thread(post: dict, account_id: str, who: str) -> None:
    """A post with its comments; replies sit under their comment; any comment can be answered."""
    st.markdown(f":material/article: **{widgets.plain(post['message'] or post['id'])}**")
    for comment in post["comments"]:
        with st.container(border=True):
            comment_line(comment)
            for reply in comment["replies"]:
                _, inner = st.columns([1, 12])
                with inner:
                    comment_line(reply)
            reply_under(post["id"], comment["id"], account_id, who)


def comment_line(comment: dict) -> None:
    author = "Your page" if comment["by_page"] else widgets.plain(comment["author"])
    st.markdown(f"**{author}** {widgets.plain(comment['text'])}")


def reply_under(post_id: str, comment_id: str, account_id: str, who: str) -> None:
    key = f"reply_under_{comment_id}"
    with st.popover("Reply under this comment", icon=":material/reply:"):
        st.text_input("Your reply", key=key)
        st.button("Reply", key=f"{key}_go", type="primary", on_click=_reply_under,
                  args=(account_id, who, post_id, comment_id, key))


@state.with_db
def _tap(tap: Tap) -> None:
    place = {} if tap.card is None else {"card_index": tap.card}
    if control("postback", account_id=tap.account_id, user_id=tap.who, mid=tap.mid, button_index=tap.button, **place):
        state.notice("Tapped: the page's answer arrives in the chat.")


@state.with_db
def _quick_reply(account_id: str, who: str, payload: str) -> None:
    if control("dm", account_id=account_id, user_id=who, quick_reply_payload=payload):
        state.notice("Quick reply sent.")


@state.with_db
def _reply_under(account_id: str, who: str, post_id: str, comment_id: str, key: str) -> None:
    text = (st.session_state.get(key) or "").strip()
    if not text:
        return
    if control("comment", account_id=account_id, post_id=post_id, user_id=who, text=text, parent_id=comment_id):
        st.session_state[key] = ""
        state.notice("Reply posted under the comment.")


def account_label(channel: Channel) -> str:
    return f"{channel.name} ({'Instagram' if channel.platform == 'instagram' else 'Facebook Page'})"


state.require(state.user_or_stop(), Action.USE_SANDBOX)
st.title("Sandbox")
st.caption("Play a customer against the built-in sandbox Graph API and see what their phone shows.")
state.show_notice()
known = read("state")
reconnect_token(known)
connected = {c.account_id: c for c in channels.list_channels()}
if not connected:
    st.info("Connect a sandbox page in Settings first (with the sandbox user token above).")
    st.stop()
account = st.selectbox("Account", list(connected), format_func=lambda a: account_label(connected[a]),
                       key="sandbox_account")
people = people_of(account, known)
posts = [p for p in known.get("posts", []) if p["account_id"] == account]
play, watch = st.columns([1, 1.3], gap="large")
with play:
    add_person(account)
    if people:
        person = st.selectbox("Play as", list(people), format_func=people.get, index=len(people) - 1,
                              key="sandbox_person")
        dm_tab, comment_tab = st.tabs(["Direct message", "Comment"])
        with dm_tab:
            write_dm(account, person)
        with comment_tab:
            write_comment(account, person, posts)
with watch:
    if people:
        phone(account, person, people[person])
    else:
        st.caption("Create a customer to see their phone.")
