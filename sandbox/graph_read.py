"""Graph API reads: `GET /{node}` and the list edges (posts, media, comments, conversations,
messages), with field selection and cursor paging like Meta's. This is what socialdesk reads
back after an outage or an unsubscription (§10 "Reading back what was missed").
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules
from sandbox.graph_call import GraphCall
from sandbox.graph_views import (
    conversation_view,
    fb_comment_view,
    ig_comment_view,
    igsid_view,
    instagram_view,
    is_recent,
    media_view,
    message_view,
    page_view,
    post_view,
    psid_view,
    recent_mids,
    select,
)
from sandbox.records import INSTAGRAM, Account, Comment

NODE_TYPES = {
    "page": "Page",
    "instagram": "IGUser",
    "psid": "User",
    "igsid": "InstagramScopedUser",
    "post": "Post",
    "media": "IGMedia",
    "fb_comment": "Comment",
    "ig_comment": "IGComment",
    "conversation": "UnifiedThread",
    "message": "Message",
    "upload": "MessageAttachment",
}
_DEFAULTS = {
    "page": ("name", "id"),
    "instagram": ("id",),
    "psid": ("first_name", "last_name", "profile_pic", "id"),
    "igsid": ("name", "id"),
    "post": ("created_time", "message", "id"),
    "media": ("id",),
    "fb_comment": ("created_time", "from", "message", "id"),
    "ig_comment": ("id", "text", "timestamp"),
    "conversation": ("id", "updated_time"),
    "message": ("id", "created_time"),
    "upload": ("id",),
}


def read_node(call: GraphCall) -> dict[str, Any]:
    """`GET /{id}?fields=...` for any node the token may see."""
    kind = call.kind
    assert kind is not None
    full = _full_view(call, kind, call.record)
    return select(full, call.param("fields"), NODE_TYPES[kind], _DEFAULTS[kind])


def _full_view(call: GraphCall, kind: str, record: Any) -> dict[str, Any]:
    store = call.store
    if kind == "page":
        return page_view(store, record)
    if kind == "instagram":
        return instagram_view(store, record)
    if kind == "psid":
        return psid_view(record, call.param("fields"))
    if kind == "igsid":
        return igsid_view(record)
    if kind == "post":
        return post_view(store, record)
    if kind == "media":
        return media_view(store, record)
    if kind == "fb_comment":
        return _visible(record, fb_comment_view(store, record))
    if kind == "ig_comment":
        return _visible(record, ig_comment_view(store, record))
    if kind == "conversation":
        return conversation_view(store, record)
    if kind == "message":
        # Details exist only for the 20 most recent messages of a conversation (§10).
        if not is_recent(store, record):
            raise graph_rules.does_not_exist(record.mid, "GET")
        return message_view(store, record)
    return {"id": record.id}


def _visible(comment: Comment, view: dict[str, Any]) -> dict[str, Any]:
    if comment.removed:
        raise graph_rules.does_not_exist(comment.id, "GET")
    return view


def list_posts(call: GraphCall) -> dict[str, Any]:
    """`/{page-id}/published_posts` (also `posts`, `feed`) and `/{ig-id}/media`, newest first."""
    store, account = call.store, call.account
    assert account is not None
    posts = sorted(
        (post for post in store.posts.values() if post.account_id == account.id),
        key=lambda post: (post.created_time, post.id),
        reverse=True,
    )
    kind = "media" if account.platform == INSTAGRAM else "post"
    view = media_view if kind == "media" else post_view
    fields = call.param("fields")
    items = [select(view(store, post), fields, NODE_TYPES[kind], _DEFAULTS[kind]) for post in posts]
    return call.page_of(items)


def list_comments(call: GraphCall) -> dict[str, Any]:
    """Comments under a post/media (`/comments`) or replies under a comment (`/comments` on
    Facebook, `/replies` on Instagram). Facebook: `filter=toplevel|stream`, `order=
    chronological|reverse_chronological`; hidden comments are listed (the page sees them)."""
    store, record = call.store, call.record
    instagram = call.instagram
    if call.kind in ("fb_comment", "ig_comment"):
        chosen = [c for c in store.comments.values() if c.parent_id == record.id]
    else:
        stream = call.param("filter") == "stream" and not instagram
        chosen = [
            c for c in store.comments.values() if c.post_id == record.id and (stream or not c.parent_id)
        ]
    chosen = [c for c in chosen if not c.removed]
    order = call.param("order", "chronological")
    if order not in ("chronological", "reverse_chronological"):
        raise graph_rules.invalid_param("param order must be chronological or reverse_chronological")
    chosen.sort(key=lambda c: (c.created_time, c.id), reverse=order == "reverse_chronological")
    kind = "ig_comment" if instagram else "fb_comment"
    view = ig_comment_view if instagram else fb_comment_view
    fields = call.param("fields")
    items = [select(view(store, c), fields, NODE_TYPES[kind], _DEFAULTS[kind]) for c in chosen]
    return call.page_of(items)


def list_conversations(call: GraphCall) -> dict[str, Any]:
    """`/{page-id}/conversations?platform=messenger|instagram[&user_id=]`, newest first."""
    store = call.store
    account = _conversation_account(call)
    user_id = call.param("user_id")
    chosen = [
        conversation
        for conversation in store.conversations.values()
        if conversation.account_id == account.id
        and conversation.mids
        and (user_id is None or conversation.customer_id == str(user_id))
    ]
    chosen.sort(key=lambda c: (c.updated_ms, c.id), reverse=True)
    fields = call.param("fields")
    items = [
        select(conversation_view(store, c), fields, NODE_TYPES["conversation"], _DEFAULTS["conversation"])
        for c in chosen
    ]
    return call.page_of(items)


def _conversation_account(call: GraphCall) -> Account:
    account = call.account
    assert account is not None
    platform = call.param("platform")
    if account.platform == INSTAGRAM:
        if platform not in (None, "instagram"):
            raise graph_rules.invalid_param("param platform must be instagram for an Instagram account")
        return account
    if platform in (None, "messenger"):
        return account
    if platform != "instagram":
        raise graph_rules.invalid_param("param platform must be one of {messenger, instagram}")
    if not account.linked_id:
        raise graph_rules.invalid_param("this page has no linked Instagram account")
    call.account = call.store.accounts[account.linked_id]
    return call.account


def list_messages(call: GraphCall) -> dict[str, Any]:
    """`/{conversation-id}/messages`: the 20 most recent messages only, newest first."""
    store = call.store
    fields = call.param("fields")
    items = [
        select(message_view(store, store.messages[mid]), fields, NODE_TYPES["message"], _DEFAULTS["message"])
        for mid in recent_mids(call.record)
    ]
    return call.page_of(items)
