"""How each node reads back through `GET /{id}?fields=...`: the full set of fields per node
type, and Meta's field selection (`fields=a,b{c,d},e.limit(5){f}`).

Asking for a field a node type does not have fails the whole request with 100, as Meta does,
so a typo or a field from the other platform (`message` on an Instagram comment) shows up.
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules
from sandbox.records import INSTAGRAM, Account, Comment, Conversation, Customer, Message, Post
from sandbox.store import Store, now_ms
from sandbox.webhook_shapes import iso_time

RECENT_MESSAGES = 20
RESTRICTED_PROFILE_FIELDS = ("locale", "timezone", "gender")


class NodeRef(dict):
    """A nested node: without sub-fields Meta answers only its default fields (usually id)."""

    def __init__(self, values: dict[str, Any], defaults: tuple[str, ...] = ("id",)) -> None:
        super().__init__(values)
        self.defaults = defaults


def parse_fields(spec: str) -> dict[str, str | None]:
    """`a,b{c,d},e.limit(5){f}` -> {"a": None, "b": "c,d", "e": "f"} (modifiers ignored)."""
    wanted: dict[str, str | None] = {}
    depth, start = 0, 0
    for position, char in enumerate(spec + ","):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            _add_field(wanted, spec[start:position].strip())
            start = position + 1
    return wanted


def _add_field(wanted: dict[str, str | None], token: str) -> None:
    if not token:
        return
    name, _, rest = token.partition("{")
    name = name.split(".")[0].strip()
    wanted[name] = rest[:-1] if rest.endswith("}") else (rest or None)


def select(
    full: dict[str, Any], spec: str | None, node_type: str, defaults: tuple[str, ...]
) -> dict[str, Any]:
    """Pick the requested fields (or the node type's defaults); `id` is always answered."""
    wanted = parse_fields(spec) if spec else dict.fromkeys(defaults)
    answer: dict[str, Any] = {}
    for name, sub in wanted.items():
        if name not in full:
            raise graph_rules.nonexisting_field(name, node_type)
        value = full[name]
        if value is None:
            continue
        answer[name] = _narrow(value, sub, name)
    if "id" in full and "id" not in answer:
        answer["id"] = full["id"]
    return answer


def _narrow(value: Any, sub: str | None, name: str) -> Any:
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        items = [_narrow(item, sub, name) for item in value["data"]]
        return {**value, "data": items}
    if isinstance(value, NodeRef):
        return select(value, sub, name, value.defaults)
    if isinstance(value, dict) and sub:
        return select(value, sub, name, ())
    return value


# Full views per node type.


def page_view(store: Store, page: Account) -> dict[str, Any]:
    linked = store.accounts.get(page.linked_id) if page.linked_id else None
    instagram = NodeRef(instagram_view(store, linked)) if linked else None
    return {
        "id": page.id,
        "name": page.name,
        "access_token": store.page_tokens.get(page.id),
        "username": page.username,
        "category": "Business",
        "category_list": [{"id": "2500", "name": "Local business"}],
        "link": f"https://www.facebook.com/{page.id}",
        "fan_count": page.followers_count,
        "followers_count": page.followers_count,
        "picture": {
            "data": {"url": page.profile_picture_url or f"https://sandbox.invalid/pic/{page.id}.jpg"}
        },
        "instagram_business_account": instagram,
        "connected_instagram_account": instagram,
        "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
    }


def instagram_view(store: Store, account: Account) -> dict[str, Any]:
    media_count = sum(1 for post in store.posts.values() if post.account_id == account.id)
    return {
        "id": account.id,
        "username": account.username,
        "name": account.name,
        "followers_count": account.followers_count,
        "follows_count": 0,
        "media_count": media_count,
        "profile_picture_url": account.profile_picture_url,
        "biography": "",
        "website": None,
    }


def psid_view(customer: Customer, spec: str | None) -> dict[str, Any]:
    """Messenger profile: only after the person messaged the page (else 100/33), and never
    with locale/timezone/gender, which need permissions the app does not hold (§9)."""
    if spec and any(name in parse_fields(spec) for name in RESTRICTED_PROFILE_FIELDS):
        raise graph_rules.profile_permission()
    if not customer.consented:
        raise graph_rules.does_not_exist(customer.id, "GET")
    return {
        "id": customer.id,
        "name": customer.name,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "profile_pic": customer.profile_pic,
    }


def igsid_view(customer: Customer) -> dict[str, Any]:
    """Instagram profile: only with the person's consent, set by their first message (§9)."""
    if not customer.consented:
        raise graph_rules.consent_required()
    return {
        "id": customer.id,
        "name": customer.name,
        "username": customer.username,
        "profile_pic": customer.profile_pic,
        "follower_count": customer.follower_count,
        "is_verified_user": customer.is_verified_user,
        "is_user_follow_business": False,
        "is_business_follow_user": False,
    }


def post_view(store: Store, post: Post) -> dict[str, Any]:
    account = store.accounts[post.account_id]
    return {
        "id": post.id,
        "message": post.message,
        "created_time": iso_time(post.created_time),
        "updated_time": iso_time(post.created_time),
        "permalink_url": post.permalink_url,
        "full_picture": post.picture_url,
        "from": {"id": account.id, "name": account.name},
        "status_type": "added_photos" if post.picture_url else "mobile_status_update",
        "is_published": True,
    }


def media_view(store: Store, post: Post) -> dict[str, Any]:
    account = store.accounts[post.account_id]
    comments = [c for c in store.comments.values() if c.post_id == post.id and not c.removed]
    return {
        "id": post.id,
        "caption": post.message,
        "media_type": "IMAGE",
        "media_product_type": post.media_product_type,
        "media_url": post.picture_url,
        "permalink": post.permalink_url,
        "thumbnail_url": None,
        "timestamp": iso_time(post.created_time),
        "username": account.username,
        "comments_count": len(comments),
        "like_count": 0,
        "owner": NodeRef({"id": account.id}),
    }


def can_reply_privately(comment: Comment) -> bool:
    too_old = now_ms() // 1000 - comment.created_time > graph_rules.PRIVATE_REPLY_WINDOW_S
    return not (comment.by_account or comment.removed or comment.private_reply_mid or too_old)


def fb_comment_view(store: Store, comment: Comment) -> dict[str, Any]:
    post = store.posts[comment.post_id]
    parent = store.comments.get(comment.parent_id) if comment.parent_id else None
    replies = [c for c in store.comments.values() if c.parent_id == comment.id and not c.removed]
    return {
        "id": comment.id,
        "message": comment.text,
        "from": {"id": comment.author_id, "name": comment.author_name},
        "created_time": iso_time(comment.created_time),
        "can_reply_privately": can_reply_privately(comment),
        "parent": NodeRef(_fb_parent(parent)) if parent else None,
        "is_hidden": comment.hidden,
        "can_hide": not comment.by_account,
        "can_remove": True,
        "can_comment": comment.parent_id is None,
        "comment_count": len(replies),
        "like_count": int(comment.liked),
        "user_likes": comment.liked,
        "permalink_url": f"{post.permalink_url}?comment_id={comment.id.split('_')[-1]}",
        "attachment": {"type": "photo", "url": comment.photo_url} if comment.photo_url else None,
        "object": NodeRef({"id": post.id}),
        "message_tags": None,
    }


def _fb_parent(parent: Comment) -> dict[str, Any]:
    return {
        "id": parent.id,
        "message": parent.text,
        "from": {"id": parent.author_id, "name": parent.author_name},
        "created_time": iso_time(parent.created_time),
    }


def ig_comment_view(store: Store, comment: Comment) -> dict[str, Any]:
    post = store.posts[comment.post_id]
    return {
        "id": comment.id,
        "text": comment.text,
        "timestamp": iso_time(comment.created_time),
        "username": comment.author_name,
        "from": {"id": comment.author_id, "username": comment.author_name},
        "media": NodeRef({"id": post.id, "media_product_type": post.media_product_type}),
        "parent_id": comment.parent_id,
        "hidden": comment.hidden,
        "like_count": 0,
    }


def recent_mids(conversation: Conversation) -> list[str]:
    """The messages the Conversations API details: the 20 most recent, newest first (§10)."""
    return list(reversed(conversation.mids[-RECENT_MESSAGES:]))


def conversation_view(store: Store, conversation: Conversation) -> dict[str, Any]:
    account = store.accounts[conversation.account_id]
    customer = store.customers[conversation.customer_id]
    people = [_person(customer.id, customer, account), _person(account.id, customer, account)]
    recent = [store.messages[mid] for mid in recent_mids(conversation)]
    last = recent[0] if recent else None
    return {
        "id": conversation.id,
        "updated_time": iso_time(conversation.updated_ms // 1000),
        "link": f"/{account.page_id}/inbox/{conversation.id}",
        "message_count": len(conversation.mids),
        "unread_count": 0,
        "can_reply": True,
        "snippet": (last.text or "") if last else "",
        "participants": {"data": people},
        "senders": {"data": people},
        "messages": {"data": [NodeRef(message_view(store, m), ("id", "created_time")) for m in recent]},
    }


def _person(person_id: str, customer: Customer, account: Account) -> dict[str, Any]:
    is_account = person_id == account.id
    if account.platform == INSTAGRAM:
        return {"username": account.username if is_account else customer.username, "id": person_id}
    name = account.name if is_account else customer.name
    return {"name": name, "email": f"{person_id}@facebook.com", "id": person_id}


def message_view(store: Store, message: Message) -> dict[str, Any]:
    account = store.accounts[message.account_id]
    customer = store.customers[message.customer_id]
    text = "" if message.deleted else (message.text or _template_text(message) or "")
    attachments = [] if message.deleted else message.attachments
    files = [_graph_attachment(message.mid, index, a) for index, a in enumerate(attachments)]
    files = [item for item in files if item]
    shares = [
        {"link": a.get("url") or (a.get("payload") or {}).get("url"), "name": a.get("title")}
        for a in attachments
        if a.get("type") in ("fallback", "share", "ig_post", "ig_reel", "reel", "story_mention")
    ]
    sticker = next((a["payload"].get("url") for a in attachments if a.get("type") == "sticker"), None)
    return {
        "id": message.mid,
        "created_time": iso_time(message.created_ms // 1000),
        "from": _person(message.sender_id, customer, account),
        "to": {"data": [_person(message.recipient_id, customer, account)]},
        "message": text,
        "attachments": {"data": files} if files else None,
        "shares": {"data": shares} if shares else None,
        "sticker": sticker,
        "is_unsupported": False,
    }


def _template_text(message: Message) -> str | None:
    for attachment in message.attachments:
        if attachment.get("type") == "template":
            return (attachment.get("payload") or {}).get("text")
    return None


_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "file": "application/octet-stream",
}


def _graph_attachment(mid: str, index: int, attachment: dict[str, Any]) -> dict[str, Any] | None:
    """A webhook-shaped attachment as the Graph API reads it back (`image_data`, `file_url`...)."""
    kind = attachment.get("type")
    url = (attachment.get("payload") or {}).get("url")
    if kind not in _MIME:
        return None
    item: dict[str, Any] = {"id": f"{mid}_{index}", "mime_type": _MIME[kind], "name": f"{kind}-{index}"}
    if kind == "image":
        item["image_data"] = {"url": url, "preview_url": url, "width": 0, "height": 0}
    elif kind == "video":
        item["video_data"] = {"url": url, "preview_url": url, "width": 0, "height": 0}
    else:
        item["file_url"] = url
    return item


def is_recent(store: Store, message: Message) -> bool:
    conversation = store.conversations[message.conversation_id]
    return message.mid in conversation.mids[-RECENT_MESSAGES:]
