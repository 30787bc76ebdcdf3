"""Pieces several pages draw: a message bubble, the composer, the send-window badge, a
Messenger-shaped preview and the funnel chart.

They render values from `bot.queries` / `bot.automation.campaign_stats` and collect input into
`bot.core.compose` types; they never decide what may be sent (that is `bot.outbound.sendpolicy`, through
`queries.send_options`). The tag editor is the one widget that writes, through `bot.commands`.
"""

from __future__ import annotations

import html
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import streamlit as st

from bot import commands, queries
from bot.automation.campaign_stats import Funnel
from bot.core.compose import MAX_ATTACHMENTS, MAX_BUTTONS, Button, Card, MediaAttachment, MessageContent
from bot.core.errors import Invalid, NotFound
from bot.queries import MessageView, SendOption
from dashboard import state

if TYPE_CHECKING:
    from bot.platform.models import Channel

KIND_LABELS = {
    "messenger": "Messenger",
    "instagram": "Instagram Direct",
    "facebook_comments": "Facebook comments",
    "instagram_comments": "Instagram comments",
}
KIND_ICONS = {
    "messenger": ":material/chat:",
    "instagram": ":material/photo_camera:",
    "facebook_comments": ":material/comment:",
    "instagram_comments": ":material/add_comment:",
}
AUTHOR_AVATARS = {
    "staff": ":material/support_agent:",
    "bot": ":material/smart_toy:",
    "campaign": ":material/campaign:",
    "page": ":material/storefront:",
}
AUTHOR_LABELS = {"staff": "Staff", "bot": "Bot", "campaign": "Campaign", "page": "Page (outside socialdesk)"}
KIND_WORDS = {"comment": "comment", "postback": "tapped a button", "referral": "opened via a link"}
REPLY_LABELS = {"message": "Message", "private": "Private message", "comment": "Reply to comment"}
MEDIA_TYPES = ("image", "video", "audio", "file")
FUNNEL_STAGES = ("received", "matched", "sent", "delivered", "read", "clicked", "replied")
FUNNEL_LABELS = {"received": "Comments received", "matched": "Matched", "sent": "Private reply sent",
                 "delivered": "Delivered", "read": "Read", "clicked": "Clicked", "replied": "Replied"}

# Meta's error codes in words staff can act on (meta-platform.md §7).
META_CODE_WORDS = {
    1: "Meta had an unknown problem with this message.",
    2: "Meta had a temporary problem.",
    4: "Too many calls: Meta asked us to slow down.",
    10: "Meta does not allow this message now (the messaging window is closed or sending is restricted).",
    17: "Too many calls: Meta asked us to slow down.",
    32: "Too many calls to this page: Meta asked us to slow down.",
    100: "Meta refused the message as invalid (unknown recipient, file too large or a bad value).",
    190: "The page's access token no longer works: an admin must reconnect the channel in Settings.",
    200: "The app lacks a permission for this page: an admin must reconnect the channel.",
    230: "This person's settings do not allow messages from the page.",
    368: "Meta has blocked the page from sending for a policy reason.",
    551: "This person isn't available right now (they blocked the page or left).",
    613: "Too many calls: Meta asked us to slow down.",
    10900: "This comment already had its one private reply.",
    10903: "This person can't be answered privately on this comment (too old or not allowed).",
    10904: "The page has messaging turned off.",
    80001: "Too many calls to this page: Meta asked us to slow down.",
}
# Every character that starts or shapes markdown, GFM (tables, strikethrough), Streamlit's own
# directives (:red[...], :material/...:, $math$), HTML or an entity is backslash-escaped (any ASCII
# punctuation may be, in CommonMark): `text\n===` stays text, a `)` cannot close a link.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:=&])")
# GFM's autolinks are found in the text after escapes are undone (mdast-util-gfm-autolink-literal),
# so no escape stops them: an invisible WORD JOINER (U+2060) inside `https://`, `www.` and after
# `@` breaks the pattern and leaves the text reading the same.
_AUTOLINK = re.compile(r"(?i)(?<=https:)(?=//)|(?<=http:)(?=//)|(?<=www)(?=\.)|(?<=@)")
WORD_JOINER = "\u2060"
# Characters that could end or reshape a markdown link destination, percent-encoded in URLs.
_URL_UNSAFE = {c: urllib.parse.quote(c) for c in "()<>[]{}\"'` |^"}


def plain(text: str | None) -> str:
    """The one way to show text that came from Meta (names, message and comment text, titles,
    URLs, payloads) in markdown: every markdown character escaped and line breaks kept, so it
    reads as the customer wrote it and can never format, link or load anything on our screen."""
    unlinked = _AUTOLINK.sub(WORD_JOINER, text or "")
    lines = _MARKDOWN_SPECIALS.sub(r"\\\1", unlinked).splitlines() or [""]
    return "  \n".join(line.strip("\r") for line in lines)


def safe_url(url: object) -> str | None:
    """An http(s) URL with a host, with the characters that could break out of a markdown link
    percent-encoded; None for anything else (javascript:, data:, relative, malformed)."""
    if not isinstance(url, str) or len(url) > 4096 or any(ord(c) < 32 for c in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return "".join(_URL_UNSAFE.get(c, c) for c in url.strip())


def link(label: str | None, url: object) -> str:
    """A markdown link socialdesk builds: the label shown as text, the URL escaped; without a
    usable http(s) URL, just the label."""
    target = safe_url(url)
    return f"[{plain(label)}]({target})" if target else plain(label)


def instagram_profile_url(username: str | None) -> str | None:
    """`https://www.instagram.com/<username>` (meta-platform.md §9), the username path-escaped."""
    return f"https://www.instagram.com/{urllib.parse.quote(username, safe='')}" if username else None


def channel_label(channel: Channel) -> str:
    """A connected page or account as staff know it: "Acme Shoes (Facebook Page)"."""
    kind = "Instagram" if channel.platform == "instagram" else "Facebook Page"
    return f"{channel.name} ({kind})"


# --- message bubble -------------------------------------------------------------------------------


def message_bubble(message: MessageView, *, customer_name: str, customer_picture: str | None) -> None:
    """One message of a thread: customer on one side, staff/bot/campaign on the other."""
    if message.direction == "in":
        name, avatar = "user", customer_picture or ":material/person:"
    else:
        name, avatar = "assistant", AUTHOR_AVATARS.get(message.author, ":material/support_agent:")
    with st.chat_message(name, avatar=avatar):
        st.caption(_byline(message, customer_name))
        story_context(message)
        if message.reply_to_story:
            story_view(message.reply_to_story)
        if message.deleted:
            st.markdown(":gray[*This message was removed.*]")
        elif message.text:
            st.markdown(plain(message.text))
        if message.unsupported:
            st.info(UNSUPPORTED_WORDS, icon=":material/visibility_off:")
        for index, attachment in enumerate(message.attachments):
            attachment_view(attachment, key=f"m{message.id}a{index}")
        for index, button in enumerate(message.buttons):
            button_view(button, key=f"m{message.id}b{index}")
        if message.direction == "out":
            st.caption(status_line(message))
        if message.can_retry:
            st.button("Retry", key=f"retry{message.id}", icon=":material/refresh:", on_click=_retry,
                      args=(message.id,), help="Send this message again as a new attempt (the send rules apply).")


UNSUPPORTED_WORDS = "This message type cannot be shown here: open it in Meta's inbox."
CONVERSATION_PAGE = "app_pages/conversation.py"


def story_context(message: MessageView) -> None:
    """Where a message stands in the person's story (issue 20): the comment it answers (a reply
    under someone's comment, a private or public reply), with a link to that comment's thread;
    and for a private reply shown in its comment thread, the DM conversation it opened."""
    answered = message.replying_to
    if answered:
        who = "your page" if answered.get("by_page") else plain(answered.get("author"))
        quote = plain((answered.get("text") or "")[:140])
        st.caption(f":material/subdirectory_arrow_right: Replying to {who}'s comment: “{quote}”")
        elsewhere = answered.get("conversation_id")
        if elsewhere and message.elsewhere_conversation_id is None and message.send_kind == "private_reply":
            st.page_link(CONVERSATION_PAGE, label="Open the comment thread", icon=":material/forum:",
                         query_params={"conversation": str(elsewhere)})
    if message.elsewhere_conversation_id is not None:
        st.page_link(CONVERSATION_PAGE, label="Private reply: continue in the person's inbox conversation",
                     icon=":material/chat:", query_params={"conversation": str(message.elsewhere_conversation_id)})


def story_view(story: dict) -> None:
    """The Instagram story a message answers: a link while its CDN URL lives, and its id."""
    story_id = f" (story {plain(str(story['id']))})" if story.get("id") else ""
    url = safe_url(story.get("url"))
    words = f"[the story]({url})" if url else "a story"
    st.caption(f":material/history_toggle_off: Replied to {words}{story_id}")


def _author(message: MessageView) -> str:
    """Who sent an outgoing message: the staff member by name, else the kind of sender."""
    if message.author == "staff" and message.author_name:
        return plain(message.author_name)
    return AUTHOR_LABELS.get(message.author, message.author)


@state.with_db
def _retry(message_id: int) -> None:
    user = state.user_or_stop()
    try:
        rows = commands.retry_message(user.id, message_id)
    except (Invalid, NotFound) as exc:
        state.notice(f"Not sent again: {exc}", "error")
        return
    refused = [r for r in rows if r.status == "refused"]
    if refused:
        state.notice(f"Not sent again: {refused[0].status_reason}", "error")
    else:
        state.notice("Sending again: the new attempt shows below with its outcome.", "info")


def _byline(message: MessageView, customer_name: str) -> str:
    who = plain(customer_name) if message.direction == "in" else _author(message)
    what = KIND_WORDS.get(message.kind, "")
    if message.send_kind == "private_reply":
        what = "private reply"
    elif message.send_kind == "comment_reply":
        what = "public reply"
    flags = [f for f, on in (("edited", message.edited), ("hidden", message.hidden)) if on]
    parts = [who, what, state.when(message.occurred_at), ", ".join(flags)]
    return " · ".join(p for p in parts if p)


ATTACHMENT_WORDS = {
    "fallback": "Shared link", "share": "Shared", "ig_post": "Shared an Instagram post", "post": "Shared a post",
    "ig_reel": "Shared a reel", "reel": "Shared a reel", "story_mention": "Mentioned you in their story",
    "file": "File", "appointment_booking": "Appointment booking", "location": "Location",
}


def attachment_view(attachment: dict, *, key: str = "att") -> None:
    """An attachment as the customer saw it: images and stickers inline, video and audio
    playable, a template as its card(s) and buttons, a location with a map link, anything else
    as a link with its title. Only http(s) URLs are ever linked or loaded."""
    kind = str(attachment.get("type") or "file")
    url = safe_url(attachment.get("url"))
    if attachment.get("file_id"):
        stored_file_view(attachment, key=key)
    elif kind == "template":
        template_view(attachment, key=key)
    elif kind == "location":
        location_view(attachment)
    elif url and kind in ("image", "sticker", "story_mention"):
        if kind == "story_mention":
            st.caption(f":material/alternate_email: {ATTACHMENT_WORDS[kind]} ({link('open the story', url)})")
        st.image(url, width=240)
    elif url and kind == "video":
        st.video(url)
    elif url and kind == "audio":
        st.audio(url)
    else:
        st.markdown(f":material/attach_file: {_attachment_line(kind, attachment, url)}")


INLINE_FILE_BYTES = 5 * 1024 * 1024  # larger stored files are read only when staff ask for them


@st.cache_data(max_entries=256, show_spinner=False)
@state.with_db
def _stored_facts(file_id: str) -> tuple[str, str, int] | None:
    """A stored file's name, type and size (files never change: cached by id)."""
    try:
        view, stream = queries.stored_file(file_id)
    except NotFound:
        return None
    stream.close()
    return view.name, view.content_type, view.size


@st.cache_data(max_entries=24, show_spinner=False)
@state.with_db
def _stored_bytes(file_id: str) -> bytes:
    view, stream = queries.stored_file(file_id)
    with stream:
        return stream.read(view.size)


def stored_file_view(attachment: dict, *, key: str) -> None:
    """A file staff attached from their computer: media shown from our own store (its type was
    sniffed from its bytes), anything else as a download (never rendered in the page). Files
    beyond 5 MB are read only when staff ask, so a thread never holds many large files."""
    file_id = str(attachment["file_id"])
    facts = _stored_facts(file_id)
    if facts is None:
        st.caption(":material/attach_file: A file that is no longer stored")
        return
    name, content_type, size = facts
    label = f"{name} ({size // 1024 + 1} KB)"
    if size > INLINE_FILE_BYTES and not st.toggle(f"Show {label}", key=f"{key}load"):
        return
    data, kind = _stored_bytes(file_id), attachment.get("type")
    if kind == "image":
        st.image(data, width=240, caption=name)
    elif kind == "video":
        st.video(data, format=content_type)
    elif kind == "audio":
        st.audio(data, format=content_type)
    else:
        st.download_button(label, data, file_name=name, mime=content_type, icon=":material/attach_file:",
                           key=f"{key}dl")


def _attachment_line(kind: str, attachment: dict, url: str | None) -> str:
    """`Shared link: <title as a link>` (or the title as text when there is no usable URL)."""
    words = ATTACHMENT_WORDS.get(kind) or (
        f"Unsupported attachment ({plain(attachment.get('original_type') or 'unknown')})"
        if kind == "unsupported" else plain(kind.replace("_", " ").capitalize()))
    title = attachment.get("title")
    if url:
        return f"{words}: {link(title or attachment.get('url'), url)}"
    return f"{words}: {plain(title)}" if title else words


def location_view(attachment: dict) -> None:
    """A shared location: its title, coordinates, and a map link built from the numbers alone."""
    lat, long = attachment.get("latitude"), attachment.get("longitude")
    line = f":material/location_on: Location{': ' + plain(attachment['title']) if attachment.get('title') else ''}"
    if isinstance(lat, int | float) and isinstance(long, int | float):
        line += f" · [{lat:.5f}, {long:.5f}](https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={long:.6f})"
    elif safe_url(attachment.get("url")):
        line += f" · {link('map', attachment.get('url'))}"
    st.markdown(line)


def template_view(template: dict, *, key: str) -> None:
    """An echoed template: the button template's text and buttons, or each card (generic,
    media, product, receipt) with its image, title, subtitle, link and buttons."""
    if template.get("text"):
        st.markdown(plain(template["text"]))
    for index, element in enumerate(template.get("elements") or []):
        with st.container(border=True):
            element_view(element, key=f"{key}e{index}")
    for index, button in enumerate(template.get("buttons") or []):
        button_view(button, key=f"{key}b{index}")
    if not (template.get("text") or template.get("elements") or template.get("buttons")):
        st.caption(f"[{plain(template.get('template_type') or 'template')} template]")


def element_view(element: dict, *, key: str) -> None:
    image = safe_url(element.get("image_url"))
    if image:
        st.image(image, width=240)
    elif element.get("media_type") and safe_url(element.get("url")):
        st.markdown(f":material/perm_media: {link(element.get('media_type'), element.get('url'))}")
    title = element.get("title")
    if title:
        linked = link(title, element.get("url")) if not element.get("media_type") else plain(title)
        st.markdown(f"**{linked}**")
    details = [element.get("subtitle"), element.get("price"),
               f"product {element['product_id']}" if element.get("product_id") else None]
    shown = [plain(str(d)) for d in details if d]
    if shown:
        st.caption(" · ".join(shown))
    for index, button in enumerate(element.get("buttons") or []):
        button_view(button, key=f"{key}b{index}")


def button_view(button: dict, *, key: str) -> None:
    """A button the customer saw, shown by its title (as text): a link button opens its http(s)
    URL, any other only says what it sends back."""
    title = plain(button.get("title") or ("Link" if button.get("url") else "Button"))
    url = safe_url(button.get("url"))
    if url:
        st.link_button(title, url)
    else:
        what = button.get("payload") or button.get("url") or ""
        st.button(title, key=key, disabled=True, help=f"Sends back: {plain(str(what))}" if what else None)


def status_line(message: MessageView) -> str:
    """Where an outgoing message stands, with Meta's reason in plain words when it did not go."""
    if message.status in ("failed", "refused"):
        icon = ":material/error:" if message.status == "failed" else ":material/block:"
        head = "Failed" if message.status == "failed" else "Not sent"
        return f"{icon} {head}: {plain(failure_words(message.reason, message.error_code))}"
    labels = {"pending": ":material/schedule: Sending…", "sending": ":material/schedule: Sending…",
              "sent": ":material/check: Sent", "delivered": ":material/done_all: Delivered",
              "read": ":material/visibility: Read",
              "held": ":material/pause_circle: Waiting: goes out when the person answers"}
    return labels.get(message.status, message.status)


def failure_words(reason: str | None, error_code: int | None) -> str:
    words = META_CODE_WORDS.get(error_code or 0)
    if words and reason:
        return f"{words} (Meta: {reason})"
    return words or reason or "no reason given"


# --- what can be sent now -------------------------------------------------------------------------


def option_text(option: SendOption) -> str:
    """'Message: allowed for 23 h (until 14:05)' or the reason it is not."""
    label = REPLY_LABELS.get(option.reply_type, option.reply_type)
    if not option.allowed:
        return f"{label}: not possible now. {option.reason or ''}".strip()
    if option.until_ms is None:
        return f"{label}: possible."
    left = _duration(option.until_ms - int(time.time() * 1000))
    tag = " with the human agent tag" if option.messaging_type == "MESSAGE_TAG" else ""
    return f"{label}: possible{tag} for {left} more (until {state.when(option.until_ms)})."


def send_window_badge(options: Sequence[SendOption], selected: str | None = None) -> None:
    """The indicator above the reply box: green when the chosen way of sending is open."""
    for option in options:
        if selected is not None and option.reply_type != selected:
            continue
        text = option_text(option)
        if option.allowed:
            st.success(text, icon=":material/lock_open:")
        else:
            st.error(text, icon=":material/lock:")


def _duration(ms: int) -> str:
    minutes = max(0, ms) // 60_000
    if minutes >= 48 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes} min"


# --- composer -------------------------------------------------------------------------------------


def composer(prefix: str, *, media: bool, text_label: str = "Reply", height: int = 110,
             defaults: dict | None = None, on_text_change: Callable[[], None] | None = None) -> MessageContent:
    """Text, up to 3 attachments by URL and up to 2 buttons. Every field keeps its draft (see
    `state.drafts`) so a rerun or a trip to another page loses nothing typed; `on_text_change`
    runs after the text's draft is kept (to keep it beyond this session too)."""
    defaults = defaults or {}
    text_key = f"{prefix}text"
    drafted(st.text_area, text_label, text_key, defaults.get(text_key, ""), height=height, then=on_text_change)
    if media:
        with st.expander("Attachments and buttons", expanded=_has_extras(prefix, defaults)):
            _attachment_fields(prefix, defaults)
            _button_fields(prefix, defaults)
    return composed(prefix, media=media)


def composed(prefix: str, *, media: bool) -> MessageContent:
    """What the composer holds now. Callbacks read it here: their arguments were bound on the
    previous run, before the last keystrokes reached the server."""
    def value(key: str, default: str = "") -> str:
        found = st.session_state.get(prefix + key, state.drafts().get(prefix + key, default))
        return (found or "").strip()

    text = value("text") or None
    if not media:
        return MessageContent(text=text)
    attachments = tuple(MediaAttachment(type=value(f"att{i}_type", "image"), url=value(f"att{i}_url"))
                        for i in range(MAX_ATTACHMENTS) if value(f"att{i}_url"))
    buttons = tuple(_button(value(f"btn{i}_title"), value(f"btn{i}_kind", "Link"), value(f"btn{i}_value"))
                    for i in range(MAX_BUTTONS) if value(f"btn{i}_title"))
    return MessageContent(text=text, attachments=attachments, buttons=buttons)


def _button(title: str, kind: str, value: str) -> Button:
    if kind == "Link":
        return Button(title=title, url=value or None)
    return Button(title=title, payload=value or None)


def composer_defaults(prefix: str, content: MessageContent | None) -> dict:
    """Widget values that show an existing content in `composer`."""
    if content is None:
        return {}
    values: dict = {f"{prefix}text": content.text or ""}
    for i, attachment in enumerate(content.attachments):
        values[f"{prefix}att{i}_type"] = attachment.type
        values[f"{prefix}att{i}_url"] = attachment.url or ""
    for i, button in enumerate(content.buttons):
        values[f"{prefix}btn{i}_title"] = button.title
        values[f"{prefix}btn{i}_kind"] = "Link" if button.url else "Reply"
        values[f"{prefix}btn{i}_value"] = button.url or button.payload or ""
    return values


def composer_keys(prefix: str) -> dict:
    """The empty value of every composer field (to clear it after sending)."""
    values: dict = {f"{prefix}text": ""}
    for i in range(MAX_ATTACHMENTS):
        values.update({f"{prefix}att{i}_type": "image", f"{prefix}att{i}_url": ""})
    for i in range(MAX_BUTTONS):
        values.update({f"{prefix}btn{i}_title": "", f"{prefix}btn{i}_kind": "Link",
                       f"{prefix}btn{i}_value": ""})
    return values


def _has_extras(prefix: str, defaults: dict) -> bool:
    keys = [f"{prefix}att{i}_url" for i in range(MAX_ATTACHMENTS)] + [
        f"{prefix}btn{i}_title" for i in range(MAX_BUTTONS)]
    return any(state.drafts().get(k) or defaults.get(k) for k in keys)


def drafted(widget: Callable[..., Any], label: str, key: str, default: object, *,
            then: Callable[[], None] | None = None, **kwargs: object) -> Any:
    """Draw `widget` so its value is kept as a draft (see `state.drafts`), starting at `default`;
    `then` runs after each change is kept."""
    state.restore_draft(key, default)
    return widget(label, key=key, on_change=state.keep_draft, args=(key, then), **kwargs)


def _attachment_fields(prefix: str, defaults: dict) -> None:
    st.caption(f"Attachments (up to {MAX_ATTACHMENTS}; each is sent as its own message)")
    for i in range(MAX_ATTACHMENTS):
        kind, url = f"{prefix}att{i}_type", f"{prefix}att{i}_url"
        left, right = st.columns([1, 3])
        with left:
            drafted(st.selectbox, f"Attachment {i + 1} type", kind, defaults.get(kind, "image"),
                    options=MEDIA_TYPES, label_visibility="collapsed")
        with right:
            drafted(st.text_input, f"Attachment {i + 1} URL", url, defaults.get(url, ""),
                    placeholder="https://…", label_visibility="collapsed")


def _button_fields(prefix: str, defaults: dict) -> None:
    st.caption(f"Buttons (up to {MAX_BUTTONS}; titles up to 20 characters)")
    for i in range(MAX_BUTTONS):
        title, kind, value = f"{prefix}btn{i}_title", f"{prefix}btn{i}_kind", f"{prefix}btn{i}_value"
        title_col, kind_col, value_col = st.columns([2, 1.2, 3])
        with title_col:
            drafted(st.text_input, f"Button {i + 1} title", title, defaults.get(title, ""),
                    placeholder=f"Button {i + 1} title", label_visibility="collapsed")
        with kind_col:
            drafted(st.selectbox, f"Button {i + 1} kind", kind, defaults.get(kind, "Link"),
                    options=("Link", "Reply"), label_visibility="collapsed")
        with value_col:
            drafted(st.text_input, f"Button {i + 1} value", value, defaults.get(value, ""),
                    placeholder="https://… or a reply payload", label_visibility="collapsed")


BUBBLE = "background:#f0f2f5;border-radius:18px;max-width:320px;overflow:hidden;color:#050505"
BUBBLE_BUTTON = "border-top:1px solid #dcdfe4;padding:8px;text-align:center;color:#0a7cff;font-weight:600"


def messenger_preview(content: MessageContent, *, page_name: str) -> None:
    """A bubble shaped like Messenger's, so authors see what the person will see: a card (image,
    title, subtitle, buttons), the text with its buttons, each attachment by its kind and URL."""
    parts = [_card_bubble(content.card)] if content.card is not None else []
    if content.text:
        parts.append(f'<div style="{BUBBLE}"><div style="padding:8px 12px;white-space:pre-wrap">'
                     f'{html.escape(content.text)}</div>{_bubble_buttons(content.buttons)}</div>')
    for attachment in content.attachments:
        url = html.escape(attachment.url or "")
        if attachment.type == "image" and url:
            parts.append(f'<img src="{url}" style="max-width:240px;border-radius:18px">')
        else:
            kind = html.escape(attachment.type)
            parts.append(f'<div style="{BUBBLE};padding:8px 12px">📎 {kind}: {url}</div>')
    body = "".join(f'<div style="margin:4px 0">{p}</div>' for p in parts)
    st.html(f'<div style="font-family:Helvetica,Arial,sans-serif;font-size:15px">'
            f'<div style="color:#65676b;font-size:12px;margin-bottom:4px">{html.escape(page_name)}</div>'
            f'{body or "<i>Empty</i>"}</div>')


def _bubble_buttons(buttons: Sequence[Button]) -> str:
    return "".join(f'<div style="{BUBBLE_BUTTON}">{html.escape(b.title)}</div>' for b in buttons)


def _card_bubble(card: Card) -> str:
    """Meta's generic template as Messenger draws it: the image on top, then title and subtitle."""
    image = (f'<img src="{html.escape(card.image_url)}" style="width:100%;display:block">'
             if safe_url(card.image_url) else "")
    subtitle = (f'<div style="color:#65676b;font-size:13px">{html.escape(card.subtitle)}</div>'
                if card.subtitle else "")
    return (f'<div style="{BUBBLE}">{image}<div style="padding:8px 12px"><b>{html.escape(card.title)}</b>'
            f'{subtitle}</div>{_bubble_buttons(card.buttons)}</div>')


# --- tags ---------------------------------------------------------------------------------------------


def tag_editor(contact_id: int, current: list[str]) -> None:
    """Tags as one multiselect: pick to add, remove a chip to remove, type a new one to create."""
    key = f"tags{contact_id}"
    st.session_state[key] = list(current)
    if current:  # the editor's chips cut long names ("Faceb..."): the full names, wrapping, above it
        st.caption(tag_badges(current))
    st.multiselect("Tags", sorted(set(state.tag_names()) | set(current)), key=key, accept_new_options=True,
                   on_change=_change_tags, args=(contact_id, key, list(current)), placeholder="Add a tag")


def tag_badges(tags: list[str]) -> str:
    """Every tag's full name, as plain text (a tag is typed by staff or comes from an import)."""
    return ":material/sell: " + " · ".join(f"**{plain(t)}**" for t in sorted(tags))


@state.with_db
def _change_tags(contact_id: int, key: str, before: list[str]) -> None:
    after = [t.strip() for t in st.session_state.get(key) or [] if t.strip()]
    try:
        for tag in set(after) - set(before):
            commands.add_tag(contact_id, tag)
        for tag in set(before) - set(after):
            commands.remove_tag(contact_id, tag)
    except Invalid as exc:
        state.notice(f"Tag not saved: {exc}", "error")


# --- charts ---------------------------------------------------------------------------------------


def funnel_chart(funnel: Funnel) -> None:
    """Received → matched → sent → delivered → read → clicked → replied, as horizontal bars."""
    import altair as alt  # half a second to import: only the pages with a chart pay for it
    import pandas as pd

    frame = pd.DataFrame({"stage": [FUNNEL_LABELS[s] for s in FUNNEL_STAGES],
                          "people": [getattr(funnel, s) for s in FUNNEL_STAGES]})
    order = [FUNNEL_LABELS[s] for s in FUNNEL_STAGES]
    bars = alt.Chart(frame).mark_bar(color="#0a7cff").encode(
        x=alt.X("people:Q", title="People", axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("stage:N", sort=order, title=None), tooltip=["stage", "people"])
    labels = bars.mark_text(align="left", dx=4, color="#333").encode(text="people:Q")
    st.altair_chart(bars + labels, width="stretch")


def daily_chart(per_day: list[dict]) -> None:
    """People matched, sent a private reply and clicking per day (the funnel's unit); points as
    well as lines, so a single day shows."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame(per_day).melt(id_vars="day", value_vars=["matched", "sent", "clicked"],
                                       var_name="what", value_name="people")
    chart = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%d %b")),
        y=alt.Y("people:Q", title="People", axis=alt.Axis(format="d", tickMinStep=1)),
        color=alt.Color("what:N", title=None, sort=["matched", "sent", "clicked"]),
        tooltip=["day", "what", "people"])
    st.altair_chart(chart, width="stretch")
