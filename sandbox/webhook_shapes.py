"""Meta-shaped webhook bodies: one builder per kind of item, the envelope, and the exact bytes.

Shapes follow shared/meta-platform.md §1-§4 and Meta's published samples. Bytes are what Meta
sends: compact JSON with every non-ASCII character escaped (`ä` -> `\\u00e4`, emoji as
surrogate pairs) and `/` escaped as `\\/`, so a receiver that re-serialises before hashing
gets a different signature, as it would with Meta.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from sandbox.graph_rules import message_attachments
from sandbox.records import INSTAGRAM, Account, Comment, Post, QueuedItem
from sandbox.store import now_ms

REACTION_EMOJI = {
    "smile": "\U0001f606",
    "angry": "\U0001f620",
    "sad": "\U0001f622",
    "wow": "\U0001f62e",
    "love": "\u2764",
    "like": "\U0001f44d",
    "dislike": "\U0001f44e",
}
_FIELD_BY_KEY = {
    # (platform, item key) -> subscription field that gates it
    ("facebook", "message"): "messages",
    ("facebook", "echo"): "message_echoes",
    ("facebook", "postback"): "messaging_postbacks",
    ("facebook", "read"): "message_reads",
    ("facebook", "delivery"): "message_deliveries",
    ("facebook", "reaction"): "message_reactions",
    ("facebook", "referral"): "messaging_referrals",
    ("facebook", "message_edit"): "message_edits",
    ("instagram", "message"): "messages",
    ("instagram", "echo"): "messages",
    ("instagram", "postback"): "messaging_postbacks",
    ("instagram", "read"): "messaging_seen",
    ("instagram", "reaction"): "message_reactions",
    ("instagram", "referral"): "messaging_referral",
    # Instagram edits: delivered with the messages field here (unconfirmed which field gates them).
    ("instagram", "message_edit"): "messages",
}


def object_of(account: Account) -> str:
    return "instagram" if account.platform == INSTAGRAM else "page"


def iso_time(seconds: int) -> str:
    """Graph API time format: 2024-01-31T12:00:00+0000."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def messaging_item(
    account: Account,
    *,
    key: str,
    value: dict[str, Any],
    sender_id: str,
    recipient_id: str,
    timestamp: int | None,
    gate: str | None = None,
) -> QueuedItem:
    """One `entry[].messaging[]` item; `gate` picks the subscription field when `key` alone is
    ambiguous (an echo travels under `message`)."""
    item: dict[str, Any] = {"sender": {"id": sender_id}, "recipient": {"id": recipient_id}}
    if timestamp is not None:
        item["timestamp"] = timestamp
    item[key] = value
    return QueuedItem(
        object=object_of(account),
        account_id=account.id,
        section="messaging",
        field=_FIELD_BY_KEY[(account.platform, gate or key)],
        item=item,
        time=timestamp if timestamp is not None else now_ms(),
    )


def from_person(
    account: Account, person_id: str, key: str, value: dict[str, Any], timestamp: int | None
) -> QueuedItem:
    """An item the person caused: sent by them (PSID/IGSID) to the account."""
    return messaging_item(
        account, key=key, value=value, sender_id=person_id, recipient_id=account.id, timestamp=timestamp
    )


def inbound_attachments(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Control-API attachment descriptions -> what Meta puts in `message.attachments`."""
    shaped: list[dict[str, Any]] = []
    for item in items:
        shaped.extend(_inbound_attachment(item))
    return shaped


def _inbound_attachment(item: dict[str, Any]) -> list[dict[str, Any]]:
    kind = item.get("type", "image")
    url, title = item.get("url"), item.get("title")
    if kind == "sticker":
        payload = {"url": url, "sticker_id": item.get("sticker_id")}
        sticker = {"type": "sticker", "payload": payload}
        # Until 2026-08-30 a sticker arrived twice: as an image and as a sticker (§2).
        return [{"type": "image", "payload": dict(payload)}, sticker] if item.get("legacy") else [sticker]
    if kind == "fallback":
        return [{"type": "fallback", "title": title, "url": url, "payload": None}]
    if kind == "ig_post":
        media_id = item.get("ig_post_media_id") or item.get("media_id")
        return [{"type": "ig_post", "payload": {"ig_post_media_id": media_id, "title": title, "url": url}}]
    if kind in ("ig_reel", "reel"):
        payload = {"url": url, "title": title, "reel_video_id": item.get("reel_video_id")}
        return [{"type": kind, "payload": _without_none(payload)}]
    if kind == "location":
        coordinates = {"lat": item.get("latitude"), "long": item.get("longitude")}
        return [{"type": "location", "title": title, "url": url, "payload": {"coordinates": coordinates}}]
    extra = {key: value for key, value in item.items() if key not in ("type", "legacy")}
    return [{"type": kind, "payload": _without_none(extra)}]


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def echo_attachments(message: dict[str, Any], upload_urls: dict[str, str]) -> list[dict[str, Any]]:
    """How an attachment we sent comes back in its echo (templates appear only on echoes)."""
    echoed = []
    for attachment in message_attachments(message):
        payload = dict(attachment.get("payload") or {})
        if attachment.get("type") == "template":
            echoed.append({"type": "template", "title": payload.get("text"), "payload": payload})
            continue
        url = payload.get("url") or upload_urls.get(str(payload.get("attachment_id")), "")
        echoed.append({"type": attachment.get("type"), "payload": {"url": url}})
    return echoed


def feed_comment_item(account: Account, post: Post, comment: Comment, verb: str, now_s: int) -> QueuedItem:
    """A Facebook Page `feed` change for one comment (item comment; add/edited/remove/hide/unhide)."""
    value: dict[str, Any] = {
        "from": {"id": comment.author_id, "name": comment.author_name},
        "post": {
            "status_type": "added_photos" if post.picture_url else "mobile_status_update",
            "is_published": True,
            "updated_time": iso_time(now_s),
            "permalink_url": post.permalink_url,
            "promotion_status": "inactive",
            "id": post.id,
        },
        "post_id": post.id,
        "comment_id": comment.id,
        "parent_id": comment.parent_id or post.id,
        "item": "comment",
        "verb": verb,
    }
    if verb != "remove":
        value["message"] = comment.text
        value["created_time"] = comment.created_time if verb == "add" else now_s
        if comment.photo_url:
            value["photo"] = comment.photo_url
    return QueuedItem(
        object="page",
        account_id=account.id,
        section="changes",
        field="feed",
        item={"field": "feed", "value": value},
        time=now_s,
    )


def feed_post_item(account: Account, post: Post) -> QueuedItem:
    """A Facebook Page `feed` change for the page's new post (item status/photo, verb add; the
    shape integrations capture: `published: 1` is *unconfirmed* as always present)."""
    value: dict[str, Any] = {
        "from": {"id": account.id, "name": account.name},
        "post_id": post.id,
        "created_time": post.created_time,
        "item": "photo" if post.picture_url else "status",
        "verb": "add",
        "published": 1,
    }
    if post.message:
        value["message"] = post.message
    if post.picture_url:
        value["link"] = post.picture_url
    return QueuedItem(object="page", account_id=account.id, section="changes", field="feed",
                      item={"field": "feed", "value": value}, time=post.created_time)


def instagram_comment_item(account: Account, post: Post, comment: Comment, now_s: int) -> QueuedItem:
    """An Instagram `comments` change (Instagram sends these for new comments only)."""
    author: dict[str, Any] = {"id": comment.author_id, "username": comment.author_name}
    if not comment.by_account and account.linked_id:
        # self_ig_scoped_id: the commenter's IGSID (unconfirmed that it always equals from.id).
        # An account with no page (Instagram Login) gets the leaner `from` {id, username}: Meta
        # says its comment `from` may lack fields Facebook Login delivers (unconfirmed which).
        author["self_ig_scoped_id"] = comment.author_id
    value: dict[str, Any] = {
        "from": author,
        "media": {"id": post.id, "media_product_type": post.media_product_type},
        "id": comment.id,
        "text": comment.text,
    }
    if comment.parent_id:
        value["parent_id"] = comment.parent_id
    return QueuedItem(
        object="instagram",
        account_id=account.id,
        section="changes",
        field="comments",
        item={"field": "comments", "value": value},
        time=now_s,
    )


def envelope(object_name: str, items: list[QueuedItem]) -> dict[str, Any]:
    """One POST body: items grouped into one entry per account and section, in order of
    first appearance, as Meta batches them."""
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for queued in items:
        key = (queued.account_id, queued.section)
        entry = entries.get(key)
        if entry is None:
            entry = {"id": queued.account_id, "time": queued.time, queued.section: []}
            entries[key] = entry
        entry["time"] = max(entry["time"], queued.time)
        entry[queued.section].append(queued.item)
    return {"object": object_name, "entry": list(entries.values())}


def encode(body: dict[str, Any]) -> bytes:
    """Meta's wire form: compact, ASCII-only, slashes escaped."""
    text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode("ascii")


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def sign_sha1(app_secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()
