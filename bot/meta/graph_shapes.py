"""Meta's outbound shapes, in one place: what we POST to the Graph API, what it answers, and
how its errors map to `GraphError`.

`bot.meta.graph` does the HTTP; this module knows the JSON. It is pure (no I/O), so every shape
and every row of the error table (meta-platform.md §7) is tested without a network. Section
numbers below refer to /work/shared/meta-platform.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from bot.core.compose import Button, Card, MediaAttachment, MessageContent, QuickReply, has_text
from bot.core.errors import GraphError, Invalid
from bot.core.events import (
    Attachment,
    CommentAdded,
    MessageEcho,
    MessageReceived,
    Platform,
)

# --------------------------------------------------------------------------- Send API (§5, §6)


def user_recipient(user_id: str) -> dict[str, str]:
    """A person in a thread: their PSID (Messenger) or IGSID (Instagram)."""
    return {"id": user_id}


def comment_recipient(comment_id: str) -> dict[str, str]:
    """A private reply: Meta delivers to whoever wrote the comment (§6)."""
    return {"comment_id": comment_id}


def message_body(part: MessageContent, platform: str) -> dict[str, Any]:
    """The Send API `message` for one part (see `bot.core.compose.split_parts`).

    Text alone -> `text`; text with buttons -> a button template; one media attachment ->
    `attachment`; quick replies ride along on any of them.
    """
    body = _content_body(part, platform)
    if part.quick_replies:
        body["quick_replies"] = [_quick_reply(q) for q in part.quick_replies]
    return body


def _content_body(part: MessageContent, platform: str) -> dict[str, Any]:
    if part.card is not None:
        if part.attachments or has_text(part) or part.buttons:
            raise Invalid("message", "a card is a message of its own: use split_parts")
        return {"attachment": _generic_template(part.card)}
    if part.attachments:
        if len(part.attachments) > 1 or has_text(part) or part.buttons:
            raise Invalid("message", "one Send API message carries text or one attachment: use split_parts")
        return {"attachment": _media(part.attachments[0], platform)}
    if not has_text(part):
        raise Invalid("message.text", "a message needs a text or an attachment")
    if part.buttons:
        return {"attachment": _button_template(part.text or "", part.buttons)}
    return {"text": part.text}


def _media(media: MediaAttachment, platform: str) -> dict[str, Any]:
    """§5: `payload.url` (+`is_reusable`) or `payload.attachment_id`.

    `is_reusable` is documented for Messenger; whether Instagram's Send API accepts it is
    unconfirmed, so it is left out there (reuse on Instagram goes through upload_body).
    """
    if media.attachment_id is not None:
        return {"type": media.type, "payload": {"attachment_id": media.attachment_id}}
    payload: dict[str, Any] = {"url": media.url}
    if platform != "instagram":
        payload["is_reusable"] = True
    return {"type": media.type, "payload": payload}


def _button_template(text: str, buttons: tuple[Button, ...]) -> dict[str, Any]:
    return {
        "type": "template",
        "payload": {"template_type": "button", "text": text, "buttons": [_button(b) for b in buttons]},
    }


def _generic_template(card: Card) -> dict[str, Any]:
    """§12: the generic template with one element (a card: title, subtitle, image, buttons)."""
    element: dict[str, Any] = {"title": card.title}
    if card.subtitle:
        element["subtitle"] = card.subtitle
    if card.image_url:
        element["image_url"] = card.image_url
    if card.buttons:
        element["buttons"] = [_button(b) for b in card.buttons]
    return {"type": "template", "payload": {"template_type": "generic", "elements": [element]}}


def _button(button: Button) -> dict[str, str]:
    if button.url is not None:
        return {"type": "web_url", "url": button.url, "title": button.title}
    return {"type": "postback", "title": button.title, "payload": button.payload or ""}


def _quick_reply(quick: QuickReply) -> dict[str, str]:
    return {"content_type": "text", "title": quick.title, "payload": quick.payload}


def send_body(
    recipient: dict[str, str],
    message: dict[str, Any],
    messaging_type: str | None,
    tag: str | None,
    metadata: str | None,
) -> dict[str, Any]:
    """The whole Send API body.

    `metadata` goes in `message.metadata`: Meta echoes it back on the `is_echo` webhook, so
    we recognise our own echoes even before the send call has answered (§2). Meta limits it
    to 1000 characters.
    """
    body: dict[str, Any] = {"recipient": recipient}
    if messaging_type is not None:
        body["messaging_type"] = messaging_type
    if tag is not None:
        body["tag"] = tag
    body["message"] = dict(message, metadata=metadata) if metadata is not None else message
    return body


def upload_body(media_type: str, url: str, platform: str = "facebook") -> dict[str, Any]:
    """`POST /{page-id}/message_attachments` (§5): Meta fetches `url` once and returns an
    `attachment_id` usable for 90 days. Instagram uploads name the platform."""
    body: dict[str, Any] = {
        "message": {"attachment": {"type": media_type, "payload": {"url": url, "is_reusable": True}}}
    }
    if platform == "instagram":
        body["platform"] = "instagram"
    return body


def upload_file_form(media_type: str, platform: str = "facebook") -> dict[str, str]:
    """The form fields of a file upload to `/message_attachments` (§5): `message` as JSON with
    `is_reusable` and no URL (the bytes travel as the `filedata` part). Instagram uploads name
    the platform (the multipart form on Instagram's edge is *unconfirmed*; it mirrors the URL form)."""
    message = {"attachment": {"type": media_type, "payload": {"is_reusable": True}}}
    form = {"message": json.dumps(message)}
    if platform == "instagram":
        form["platform"] = "instagram"
    return form


# --------------------------------------------------------------------------- comments (§6)


def comment_reply_path(platform: str, comment_id: str) -> str:
    """Facebook `POST /{comment-id}/comments`; Instagram `POST /{ig-comment-id}/replies`."""
    edge = "replies" if platform == "instagram" else "comments"
    return f"{comment_id}/{edge}"


def comment_reply_body(platform: str, text: str, attachment_url: str | None = None) -> dict[str, str]:
    """A public reply: `message`, and on Facebook an optional `attachment_url`."""
    body = {"message": text}
    if attachment_url is not None:
        if platform == "instagram":
            raise Invalid("attachment_url", "Instagram comment replies carry text only")
        body["attachment_url"] = attachment_url
    return body


def hide_body(platform: str, hidden: bool) -> dict[str, bool]:
    """Facebook `is_hidden`, Instagram `hide`, both on `POST /{comment-id}`."""
    return {"hide": hidden} if platform == "instagram" else {"is_hidden": hidden}


# --------------------------------------------------------------------------- fields we ask for

#: §9: never mix in locale/timezone/gender: one ungranted field fails the whole request.
PROFILE_FIELDS = {
    "facebook": "first_name,last_name,profile_pic",
    "instagram": "name,username,profile_pic,follower_count",
}
ACCOUNT_FIELDS = (
    "id,name,access_token,instagram_business_account{id,username,followers_count,profile_picture_url}"
)
POST_FIELDS = "id,message,created_time,permalink_url,full_picture"
# `media_url` is added to §10's list: `thumbnail_url` is set for videos only.
INSTAGRAM_MEDIA_FIELDS = "id,caption,media_type,media_url,permalink,thumbnail_url,timestamp"
CONVERSATION_FIELDS = "id,updated_time"
CONVERSATION_MESSAGE_FIELDS = "messages{id,created_time}"
MESSAGE_FIELDS = "id,created_time,from,to,message,attachments"
COMMENT_FIELDS = {
    "facebook": "id,from,message,created_time,parent{id}",
    # Instagram's comment edge and fields are not in §10 (unconfirmed): these are the
    # fields of Meta's IG Comment node.
    "instagram": "id,text,timestamp,from,parent_id",
}


def conversations_platform(platform: str) -> str:
    """The Conversations API says `messenger` where we say `facebook` (§10)."""
    return "instagram" if platform == "instagram" else "messenger"


# --------------------------------------------------------------------------- our answers


class SendResult(msgspec.Struct, frozen=True):
    """What a send returns. `recipient_id` is the commenter's PSID/IGSID after a private
    reply (it links the comment to the thread); absent when sending by `user_ref` (§5).
    `attachment_id` is answered for media sent by URL with `is_reusable`: later sends may use it."""

    message_id: str
    recipient_id: str | None = None
    attachment_id: str | None = None


class Profile(msgspec.Struct, frozen=True, omit_defaults=True):
    """A person's public profile as Meta shares it (§9); any field may be missing."""

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    picture_url: str | None = None  # expires: re-fetch, never hot-link for long
    follower_count: int | None = None


class InstagramAccount(msgspec.Struct, frozen=True):
    """The Instagram professional account linked to a Page (§10)."""

    id: str
    username: str | None = None
    followers_count: int | None = None
    picture_url: str | None = None


class InstagramLoginAccount(msgspec.Struct, frozen=True):
    """The Instagram professional account an Instagram User token speaks for (Instagram Login,
    §12): `id` is Meta's `user_id`, the account id its webhooks carry as `entry.id`."""

    id: str
    username: str | None = None
    name: str | None = None
    followers_count: int | None = None
    picture_url: str | None = None


class PageAccount(msgspec.Struct, frozen=True):
    """A Page the user manages, with its page token (a secret: store it encrypted)."""

    id: str
    name: str | None
    access_token: str
    instagram: InstagramAccount | None = None

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return f"PageAccount(id={self.id!r}, name={self.name!r}, access_token=<redacted>)"


class Post(msgspec.Struct, frozen=True):
    """A post (Facebook) or media (Instagram) for the campaign picker; times in ms."""

    id: str
    message: str | None = None
    created_time: int | None = None
    permalink_url: str | None = None
    picture_url: str | None = None


class PostsPage(msgspec.Struct, frozen=True):
    """One page of posts; `after` is the cursor of the next page, None on the last one."""

    posts: list[Post]
    after: str | None = None


class TokenInfo(msgspec.Struct, frozen=True):
    """`debug_token` (§10): `expires_at` in ms, None when the token never expires."""

    is_valid: bool
    expires_at: int | None
    scopes: list[str]


class RefreshedToken(msgspec.Struct, frozen=True):
    """Instagram Login's token refresh (§12): a new long-lived token, valid `expires_in` seconds
    (a secret: store it encrypted)."""

    access_token: str
    expires_in: int


class ConversationRef(msgspec.Struct, frozen=True):
    """A conversation from the Conversations API (§10), newest first; `updated_time` in ms."""

    id: str
    updated_time: int | None = None


class ConversationsPage(msgspec.Struct, frozen=True):
    conversations: list[ConversationRef]
    after: str | None = None


class MessageRef(msgspec.Struct, frozen=True):
    """A message id in a conversation; only the 20 most recent can be read in detail (§10)."""

    id: str
    created_time: int | None = None


class CommentsPage(msgspec.Struct, frozen=True):
    """Comments read back for backfill, as the same events the webhook would have carried."""

    comments: list[CommentAdded]
    after: str | None = None


# --------------------------------------------------------------------------- Meta's answers


class _Cursors(msgspec.Struct):
    after: str | None = None


class _Paging(msgspec.Struct):
    cursors: _Cursors | None = None
    next: str | None = None


class _SendAnswer(msgspec.Struct):
    message_id: str | None = None
    recipient_id: str | None = None
    attachment_id: str | None = None


class _IdAnswer(msgspec.Struct):
    id: str | None = None


class _SuccessAnswer(msgspec.Struct):
    success: bool = False  # lax decoding also reads Meta's sample string "true" (§10)


class _AttachmentAnswer(msgspec.Struct):
    attachment_id: str | None = None


class _CanReplyAnswer(msgspec.Struct):
    can_reply_privately: bool = False


class _ProfileAnswer(msgspec.Struct):
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    profile_pic: str | None = None
    follower_count: int | None = None


class _IgAccount(msgspec.Struct):
    id: str
    username: str | None = None
    followers_count: int | None = None
    profile_picture_url: str | None = None


class _IgLoginMe(msgspec.Struct):
    user_id: str | int | None = None
    username: str | None = None
    name: str | None = None
    followers_count: int | None = None
    profile_picture_url: str | None = None


class _Account(msgspec.Struct):
    id: str
    access_token: str
    name: str | None = None
    instagram_business_account: _IgAccount | None = None


class _AccountsAnswer(msgspec.Struct):
    data: list[_Account] = []
    paging: _Paging | None = None


class _PostItem(msgspec.Struct):
    id: str
    message: str | None = None
    created_time: str | int | None = None
    permalink_url: str | None = None
    full_picture: str | None = None
    # Instagram media
    caption: str | None = None
    timestamp: str | int | None = None
    permalink: str | None = None
    media_url: str | None = None
    thumbnail_url: str | None = None


class _PostsAnswer(msgspec.Struct):
    data: list[_PostItem] = []
    paging: _Paging | None = None


class _SubscribedApp(msgspec.Struct):
    id: str | None = None
    subscribed_fields: list[str] = []


class _SubscribedAppsAnswer(msgspec.Struct):
    data: list[_SubscribedApp] = []


class _TokenData(msgspec.Struct):
    is_valid: bool = False
    expires_at: int | None = None
    scopes: list[str] = []


class _DebugTokenAnswer(msgspec.Struct):
    data: _TokenData


class _ConversationItem(msgspec.Struct):
    id: str
    updated_time: str | int | None = None


class _ConversationsAnswer(msgspec.Struct):
    data: list[_ConversationItem] = []
    paging: _Paging | None = None


class _MessageItem(msgspec.Struct):
    id: str
    created_time: str | int | None = None


class _MessageList(msgspec.Struct):
    data: list[_MessageItem] = []


class _ConversationAnswer(msgspec.Struct):
    messages: _MessageList | None = None


class _Who(msgspec.Struct):
    id: str | None = None
    name: str | None = None
    username: str | None = None


class _WhoList(msgspec.Struct):
    data: list[_Who] = []


class _MediaData(msgspec.Struct):
    url: str | None = None
    preview_url: str | None = None


class _MessageAttachment(msgspec.Struct):
    mime_type: str | None = None
    name: str | None = None
    image_data: _MediaData | None = None
    video_data: _MediaData | None = None
    file_url: str | None = None


class _AttachmentList(msgspec.Struct):
    data: list[_MessageAttachment] = []


class _MessageAnswer(msgspec.Struct):
    id: str
    created_time: str | int | None = None
    sender: _Who | None = msgspec.field(default=None, name="from")
    to: _WhoList | None = None
    message: str | None = None
    attachments: _AttachmentList | None = None


class _Parent(msgspec.Struct):
    id: str | None = None


class _CommentItem(msgspec.Struct):
    id: str
    sender: _Who | None = msgspec.field(default=None, name="from")
    message: str | None = None  # Facebook
    text: str | None = None  # Instagram
    created_time: str | int | None = None  # Facebook
    timestamp: str | int | None = None  # Instagram
    parent: _Parent | None = None  # Facebook
    parent_id: str | None = None  # Instagram


class _CommentsAnswer(msgspec.Struct):
    data: list[_CommentItem] = []
    paging: _Paging | None = None


_T = TypeVar("_T")


def _decode(body: bytes, kind: type[_T], what: str, *, maybe_delivered: bool = False) -> _T:
    """Lenient decoding (lax types, unknown keys ignored); an unreadable success is an error."""
    try:
        return msgspec.json.decode(body, type=kind, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise malformed_answer(what, maybe_delivered=maybe_delivered) from None


def _after(paging: _Paging | None) -> str | None:
    """The next cursor, only when Meta says there is a next page (it sends cursors on the last
    page too)."""
    if paging is None or not paging.next or paging.cursors is None:
        return None
    return paging.cursors.after


def time_ms(value: str | int | None) -> int | None:
    """Graph times ("2024-05-01T12:00:00+0000", or unix seconds) as ms since the epoch."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or value.isdigit():
        return int(value) * 1000
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def read_send_result(body: bytes) -> SendResult:
    """§5: `{"recipient_id", "message_id"}`. Without a message id we cannot tell whether the
    message went out: that is "ambiguous", never blindly resent."""
    answer = _decode(body, _SendAnswer, "send", maybe_delivered=True)
    if not answer.message_id:
        raise malformed_answer("send", maybe_delivered=True)
    return SendResult(answer.message_id, answer.recipient_id, answer.attachment_id)


def read_new_id(body: bytes, what: str) -> str:
    """`{"id": ...}` answers (a new comment); a missing id after a create is ambiguous too."""
    answer = _decode(body, _IdAnswer, what, maybe_delivered=True)
    if not answer.id:
        raise malformed_answer(what, maybe_delivered=True)
    return answer.id


def read_success(body: bytes, what: str) -> None:
    """`{"success": true}` (or the string "true"); anything else did not happen."""
    if not _decode(body, _SuccessAnswer, what).success:
        raise malformed_answer(what)


def read_attachment_id(body: bytes) -> str:
    answer = _decode(body, _AttachmentAnswer, "attachment upload")
    if not answer.attachment_id:
        raise malformed_answer("attachment upload")
    return answer.attachment_id


def read_can_reply(body: bytes) -> bool:
    return _decode(body, _CanReplyAnswer, "can_reply_privately").can_reply_privately


def read_profile(body: bytes) -> Profile:
    """§9. Messenger gives first/last names (we join them); Instagram a name and username."""
    answer = _decode(body, _ProfileAnswer, "profile")
    name = answer.name or " ".join(p for p in (answer.first_name, answer.last_name) if p) or None
    return Profile(
        name=name,
        first_name=answer.first_name,
        last_name=answer.last_name,
        username=answer.username,
        picture_url=answer.profile_pic,
        follower_count=answer.follower_count,
    )


class _Node(msgspec.Struct):
    id: str
    name: str | None = None


def read_node_id(body: bytes) -> str:
    """`GET /me?fields=id`: the node a token speaks for (a page token: its Page, §10)."""
    return _decode(body, _Node, "token owner").id


INSTAGRAM_LOGIN_FIELDS = "user_id,username,name,followers_count,profile_picture_url"


def read_instagram_login_account(body: bytes) -> InstagramLoginAccount:
    """§12 `GET /me?fields=user_id,username,...` on graph.instagram.com. `user_id` is the
    professional account id; `/me`'s `id` is app-scoped (another number) and is never used.
    (Meta's samples show `user_id` as a string; a number is accepted too.)"""
    me = _decode(body, _IgLoginMe, "Instagram account")
    if me.user_id is None or not str(me.user_id).isdigit():
        raise malformed_answer("Instagram account (no user_id)")
    return InstagramLoginAccount(str(me.user_id), me.username, me.name, me.followers_count, me.profile_picture_url)


def read_refreshed_token(body: bytes) -> RefreshedToken:
    """§12 `GET /refresh_access_token` on graph.instagram.com: `access_token`, `token_type`
    ("bearer"), `expires_in` (seconds, about 60 days)."""
    return _decode(body, RefreshedToken, "refreshed token")


def read_pages(body: bytes) -> tuple[list[PageAccount], str | None]:
    """§10 `GET /me/accounts`: pages with their tokens and linked Instagram accounts."""
    answer = _decode(body, _AccountsAnswer, "pages")
    pages = [
        PageAccount(
            id=a.id,
            name=a.name,
            access_token=a.access_token,
            instagram=_instagram(a.instagram_business_account),
        )
        for a in answer.data
    ]
    return pages, _after(answer.paging)


def _instagram(account: _IgAccount | None) -> InstagramAccount | None:
    if account is None:
        return None
    return InstagramAccount(
        account.id, account.username, account.followers_count, account.profile_picture_url
    )


def read_posts(body: bytes) -> PostsPage:
    """§10: Facebook `published_posts` and Instagram `media` into one Post shape."""
    answer = _decode(body, _PostsAnswer, "posts")
    posts = [
        Post(
            id=p.id,
            message=p.message if p.message is not None else p.caption,
            created_time=time_ms(p.created_time if p.created_time is not None else p.timestamp),
            permalink_url=p.permalink_url or p.permalink,
            picture_url=p.full_picture or p.thumbnail_url or p.media_url,
        )
        for p in answer.data
    ]
    return PostsPage(posts, _after(answer.paging))


def read_subscribed_fields(body: bytes, app_id: str | None = None) -> list[str] | None:
    """§10 channel health: our app's `subscribed_fields`, None when the app is not subscribed.

    Meta lists every app subscribed to the Page; pass `app_id` to pick ours, otherwise the
    first entry is taken.
    """
    apps = _decode(body, _SubscribedAppsAnswer, "subscribed_apps").data
    if app_id is not None:
        apps = [a for a in apps if a.id == app_id]
    return list(apps[0].subscribed_fields) if apps else None


def read_token_info(body: bytes) -> TokenInfo:
    """§10 `debug_token`; Meta's `expires_at` 0 means "never"."""
    data = _decode(body, _DebugTokenAnswer, "debug_token").data
    expires = data.expires_at * 1000 if data.expires_at else None
    return TokenInfo(data.is_valid, expires, list(data.scopes))


def read_conversations(body: bytes) -> ConversationsPage:
    answer = _decode(body, _ConversationsAnswer, "conversations")
    refs = [ConversationRef(c.id, time_ms(c.updated_time)) for c in answer.data]
    return ConversationsPage(refs, _after(answer.paging))


def read_conversation_messages(body: bytes) -> list[MessageRef]:
    answer = _decode(body, _ConversationAnswer, "conversation messages")
    items = answer.messages.data if answer.messages is not None else []
    return [MessageRef(m.id, time_ms(m.created_time)) for m in items]


def read_message(body: bytes, platform: str, account_id: str) -> MessageReceived | MessageEcho:
    """§10 backfill: a message read back as the event its webhook would have carried (same
    `mid`). Written by the account -> an echo to the first `to` participant.

    The attachment mapping (image_data / video_data / file_url) is the Conversations API's
    shape; that Instagram uses the same one is unconfirmed.
    """
    answer = _decode(body, _MessageAnswer, "message")
    sender = answer.sender.id if answer.sender is not None else None
    stamp = time_ms(answer.created_time) or 0
    attachments = tuple(_message_attachment(a) for a in answer.attachments.data) if answer.attachments else ()
    common = {"platform": Platform(platform), "account_id": account_id, "timestamp": stamp, "mid": answer.id}
    if sender == account_id:
        to = answer.to.data if answer.to is not None else []
        user = next((w.id for w in to if w.id), "")
        return MessageEcho(user_id=user, text=answer.message or None, attachments=attachments, **common)
    return MessageReceived(
        user_id=sender or "", text=answer.message or None, attachments=attachments, **common
    )


def _message_attachment(item: _MessageAttachment) -> Attachment:
    if item.image_data is not None:
        return Attachment(type="image", url=item.image_data.url, title=item.name)
    if item.video_data is not None:
        return Attachment(type="video", url=item.video_data.url, title=item.name)
    kind = "audio" if (item.mime_type or "").startswith("audio/") else "file"
    return Attachment(type=kind, url=item.file_url, title=item.name)


def read_comments(body: bytes, platform: str, account_id: str, post_id: str) -> CommentsPage:
    """§10 backfill of comments, as the `CommentAdded` events §4 webhooks would have carried.

    A Facebook reply has `parent.id`; a top-level comment has none (the webhook's `parent_id`
    equals the post id then, which our event represents as None).
    """
    answer = _decode(body, _CommentsAnswer, "comments")
    comments = [_comment_event(c, platform, account_id, post_id) for c in answer.data]
    return CommentsPage(comments, _after(answer.paging))


def _comment_event(item: _CommentItem, platform: str, account_id: str, post_id: str) -> CommentAdded:
    sender = item.sender or _Who()
    created = time_ms(item.created_time if item.created_time is not None else item.timestamp)
    parent = item.parent.id if item.parent is not None else item.parent_id
    return CommentAdded(
        platform=Platform(platform),
        account_id=account_id,
        timestamp=created or 0,
        comment_id=item.id,
        post_id=post_id,
        from_id=sender.id,
        from_name=sender.name,
        from_username=sender.username,
        parent_id=parent if parent and parent != post_id else None,
        by_account=sender.id == account_id,
        text=item.message if item.message is not None else item.text,
        created_time=created,
    )


# --------------------------------------------------------------------------- errors (§7)

#: (code, subcode) rows of §7's table; they win over the code-only rows below.
_BY_CODE_AND_SUBCODE: dict[tuple[int, int], tuple[str, bool]] = {
    (1, 1357046): ("ambiguous", False),  # "invalid JSON reply": the send may have gone through
    (10, 2018278): ("window", False),
    (10, 2018065): ("window", False),
    (10, 2018108): ("unavailable", False),  # this person can't receive messages right now
    (10, 1893063): ("restricted", False),  # page temporarily restricted from sending
    (100, 2018001): ("bad_recipient", False),
    (100, 2018109): ("too_large", False),
    (100, 33): ("not_found", False),  # object missing, or profile access without the feature (§9)
    (200, 1545041): ("unavailable", False),  # blocked, deactivated
}

#: code-only rows of §7's table: (kind, retryable).
_BY_CODE: dict[int, tuple[str, bool]] = {
    1: ("unknown", True),  # unknown error: retry with backoff, a few times
    2: ("temporary", True),
    4: ("rate_limit", True),  # app
    17: ("rate_limit", True),  # user
    32: ("rate_limit", True),  # page
    613: ("rate_limit", True),  # custom
    80001: ("rate_limit", True),  # Pages business use case
    80002: ("rate_limit", True),  # Instagram business use case (unconfirmed)
    10: ("permission", False),
    200: ("permission", False),
    100: ("invalid", False),  # our bug: validate first
    190: ("token", False),  # any subcode (460, 463, 467, ...): reconnect the channel
    230: ("disallowed", False),  # permissions disallow message to user
    368: ("policy", False),  # blocked as abusive
    551: ("unavailable", False),
    2018218: ("no_profile", False),
    10900: ("already_replied", False),  # record the comment as replied, never retry
    10903: ("cannot_reply", False),
    10904: ("messages_disabled", False),
}


class _ErrorBody(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: int | None = None
    error_subcode: int | None = None
    fbtrace_id: str | None = None
    is_transient: bool | None = None


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody


def classify(
    code: int | None, subcode: int | None, is_transient: bool | None = None, http_status: int | None = None
) -> tuple[str, bool]:
    """(kind, retryable) for an error: §7's table, branching on code AND subcode.

    A code the table does not know is retried only when Meta says it is transient
    (Instagram's `is_transient`) or the HTTP status is a server error.
    """
    if code is not None and subcode is not None and (code, subcode) in _BY_CODE_AND_SUBCODE:
        return _BY_CODE_AND_SUBCODE[(code, subcode)]
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if is_transient:
        return "temporary", True
    if http_status is not None and http_status >= 500:
        return "server", True
    return "unclassified", False


def graph_error(
    http_status: int | None,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    network_error: str | None = None,
    *,
    maybe_delivered: bool = False,
    wait_s: float | None = None,
) -> GraphError:
    """The ONE mapping of a failed Graph call to GraphError (§7, §8).

    `network_error` describes a failure with no answer; `maybe_delivered` says the request
    may have reached Meta (a read timeout on a send): then it is "ambiguous" and not retried
    blindly, like 1/1357046. `retry_after` (seconds) comes from Meta's usage headers, or for a
    call not even tried (`bot.meta.breaker`) from `wait_s`.
    """
    if network_error is not None:
        return _network_error(network_error, maybe_delivered, wait_s)
    error = _envelope(body)
    if error is None:
        return _bare_http_error(http_status, body, headers)
    kind, retryable = classify(error.code, error.error_subcode, error.is_transient, http_status)
    return GraphError(
        redact(error.message or f"Graph API error (HTTP {http_status})"),
        code=error.code,
        subcode=error.error_subcode,
        http_status=http_status,
        error_type=error.type,
        fbtrace_id=error.fbtrace_id,
        retryable=retryable,
        retry_after=retry_after(headers) if retryable else None,
        kind=kind,
    )


def _envelope(body: bytes | None) -> _ErrorBody | None:
    if not body:
        return None
    try:
        return msgspec.json.decode(body, type=_ErrorEnvelope, strict=False).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _network_error(description: str, maybe_delivered: bool, wait_s: float | None = None) -> GraphError:
    if maybe_delivered:
        return GraphError(
            f"no answer from the Graph API; the request may have gone through: {redact(description)}",
            retryable=False,
            kind="ambiguous",
        )
    return GraphError(f"network error: {redact(description)}", retryable=True, retry_after=wait_s, kind="network")


def _bare_http_error(
    http_status: int | None, body: bytes | None, headers: Mapping[str, str] | None
) -> GraphError:
    """An answer without Meta's error envelope: a proxy page, an empty 502, a 429..."""
    snippet = redact((body or b"")[:200].decode("utf-8", "replace")).strip()
    message = f"HTTP {http_status} from the Graph API" + (f": {snippet}" if snippet else "")
    if http_status is not None and http_status >= 500:
        kind, retryable = "server", True
    elif http_status == 429:
        kind, retryable = "rate_limit", True
    else:
        kind, retryable = "unexpected", False
    return GraphError(
        message,
        http_status=http_status,
        retryable=retryable,
        retry_after=retry_after(headers) if retryable else None,
        kind=kind,
    )


def malformed_answer(
    what: str, *, http_status: int | None = 200, maybe_delivered: bool = False
) -> GraphError:
    """A success status whose body we cannot read. After a create (send, comment reply) we do
    not know whether it happened: "ambiguous"; otherwise "unexpected"."""
    return GraphError(
        f"unreadable answer from the Graph API to {what}",
        http_status=http_status,
        retryable=False,
        kind="ambiguous" if maybe_delivered else "unexpected",
    )


# --------------------------------------------------------------------------- usage headers (§8)

_USAGE_HEADERS = ("x-app-usage", "x-page-usage", "x-business-use-case-usage")
_PERCENT_KEYS = ("call_count", "total_cputime", "total_time")


def usage_percent(headers: Mapping[str, str] | None) -> float:
    """The highest usage percentage Meta reports (X-Business-Use-Case-Usage, X-App-Usage,
    X-Page-Usage), 0.0 when none: the sender slows down as it nears 100."""
    values = [_number(entry.get(key)) for entry in _usage_entries(headers) for key in _PERCENT_KEYS]
    return max((v for v in values if v is not None), default=0.0)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait: the largest `estimated_time_to_regain_access` (minutes) in the usage
    headers, or a standard Retry-After; None when Meta gives no hint."""
    minutes = [_number(e.get("estimated_time_to_regain_access")) for e in _usage_entries(headers)]
    waits = [m * 60 for m in minutes if m]
    plain = _number(_lowered(headers).get("retry-after"))
    if plain:
        waits.append(plain)
    return max(waits) if waits else None


def _usage_entries(headers: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """Every usage object: X-App-Usage/X-Page-Usage are one object; X-Business-Use-Case-Usage
    maps business ids to lists of objects. Unreadable headers are ignored."""
    lowered = _lowered(headers)
    entries: list[dict[str, Any]] = []
    for name in _USAGE_HEADERS:
        value = _json(lowered.get(name))
        if name == "x-business-use-case-usage" and isinstance(value, dict):
            for items in value.values():
                entries.extend(
                    i for i in (items if isinstance(items, list) else [items]) if isinstance(i, dict)
                )
        elif isinstance(value, dict):
            entries.append(value)
    return entries


def _lowered(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): v for k, v in (headers or {}).items()}


def _json(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# --------------------------------------------------------------------------- secrets

_SECRET_PARAMS = re.compile(
    r"((?:access_token|input_token|appsecret_proof|client_secret|fb_exchange_token)=)[^&\s\"'#]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """Tokens never reach logs or exceptions: blank them in URLs and Authorization values."""
    return _BEARER.sub(r"\1[redacted]", _SECRET_PARAMS.sub(r"\1[redacted]", text))
