"""Real-shaped webhook bodies, built the way Meta sends them (shared/meta-platform.md §1-§4).

Every builder returns a whole delivery dict, `{"object": ..., "entry": [...]}`; `batch()` merges
several into one POST and `encode()` gives the bytes Meta would send (escaped unicode, which is
what gets signed). Field names are Meta's, exactly. Ids are placeholders of the right kind.

    body = encode(batch(messenger_message(PAGE_ID, PSID, "m_1", text="hi"),
                        messenger_read(PAGE_ID, PSID, watermark=T_MS)))
"""

from __future__ import annotations

import copy
import json
from typing import Any

PAGE_ID = "104870358931474"
PSID = "6543210987654321"
IG_ID = "17841405822304914"
IGSID = "1234567890123456"
APP_ID = 1517776481860111  # echoes carry the app id as a JSON number
POST_ID = f"{PAGE_ID}_1122334455667788"
T_MS = 1718000000000  # Messenger/Instagram messaging `timestamp`: milliseconds
T_S = 1718000000  # feed `created_time` and changes' `entry.time`: seconds

Json = dict[str, Any]


# --- envelope ---------------------------------------------------------------------------------


def delivery(obj: str, *entries: Json) -> Json:
    """`{"object": obj, "entry": [...]}` (§1)."""
    return {"object": obj, "entry": list(entries)}


def entry(account_id: str, time: int | str | None, **lists: list[Json]) -> Json:
    """One entry: `id`, `time` and `messaging` / `standby` / `changes` lists."""
    out: Json = {"id": account_id}
    if time is not None:
        out["time"] = time
    out.update(lists)
    return out


def batch(*deliveries: Json) -> Json:
    """Merge deliveries of one `object` into a single POST, entries in the given order (§1)."""
    objects = {d["object"] for d in deliveries}
    assert len(objects) == 1, f"one object per POST, got {objects}"
    return {"object": objects.pop(), "entry": [e for d in deliveries for e in copy.deepcopy(d["entry"])]}


def as_standby(body: Json) -> Json:
    """The same items delivered under `standby[]` (handover: another app owns the thread)."""
    out = copy.deepcopy(body)
    for item in out["entry"]:
        item["standby"] = item.pop("messaging")
    return out


def encode(body: Json) -> bytes:
    """The bytes Meta sends: compact JSON with non-ASCII escaped (`ä` as `\\u00e4`)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


# --- messaging (§2, §3) -----------------------------------------------------------------------


def messaging_item(sender: Json, recipient: Json, timestamp: int | str | None, **keys: Json) -> Json:
    """One `messaging[]` item; `timestamp=None` leaves it out (as on some `delivery` items)."""
    item: Json = {"sender": sender, "recipient": recipient}
    if timestamp is not None:
        item["timestamp"] = timestamp
    item.update(keys)
    return item


def _dm(obj: str, account_id: str, user_id: str, timestamp: int | str | None, **keys: Json) -> Json:
    item = messaging_item({"id": user_id}, {"id": account_id}, timestamp, **keys)
    return delivery(obj, entry(account_id, _entry_time(timestamp), messaging=[item]))


def _entry_time(timestamp: int | str | None) -> int:
    return int(timestamp) + 186 if timestamp is not None else T_MS + 186


def _message_body(
    mid: str,
    text: str | None,
    attachments: list[Json] | None,
    **extra: Any,
) -> Json:
    body: Json = {"mid": mid}
    if text is not None:
        body["text"] = text
    if attachments is not None:
        body["attachments"] = attachments
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def messenger_message(
    page_id: str,
    psid: str,
    mid: str,
    text: str | None = None,
    attachments: list[Json] | None = None,
    timestamp: int | str = T_MS,
    quick_reply: str | None = None,
    reply_to: str | None = None,
    referral: Json | None = None,
    is_deleted: bool | None = None,
) -> Json:
    """A customer's Messenger message (§2)."""
    body = _message_body(
        mid,
        text,
        attachments,
        quick_reply={"payload": quick_reply} if quick_reply is not None else None,
        reply_to={"mid": reply_to, "is_self_reply": False} if reply_to is not None else None,
        referral=referral,
        is_deleted=is_deleted,
    )
    return _dm("page", page_id, psid, timestamp, message=body)


def messenger_echo(
    page_id: str,
    psid: str,
    mid: str,
    text: str | None = None,
    attachments: list[Json] | None = None,
    timestamp: int | str = T_MS,
    app_id: int | str | None = APP_ID,
    metadata: str | None = None,
) -> Json:
    """A message sent by the page, echoed back: sender = page, recipient = PSID (§2)."""
    body = _message_body(mid, text, attachments, is_echo=True, app_id=app_id, metadata=metadata)
    item = messaging_item({"id": page_id}, {"id": psid}, timestamp, message=body)
    return delivery("page", entry(page_id, _entry_time(timestamp), messaging=[item]))


def messenger_postback(
    page_id: str,
    psid: str,
    payload: str,
    title: str = "Get Started",
    mid: str | None = "m_postback_1",
    timestamp: int | str = T_MS,
    referral: Json | None = None,
) -> Json:
    """A button tap (§2)."""
    body: Json = {"title": title, "payload": payload}
    if mid is not None:
        body["mid"] = mid
    if referral is not None:
        body["referral"] = referral
    return _dm("page", page_id, psid, timestamp, postback=body)


def messenger_read(page_id: str, psid: str, watermark: int | str, timestamp: int | str = T_MS) -> Json:
    return _dm("page", page_id, psid, timestamp, read={"watermark": watermark})


def messenger_delivery(
    page_id: str,
    psid: str,
    watermark: int | str,
    mids: list[str] | None = None,
    timestamp: int | str | None = None,
) -> Json:
    """`delivery`: often without `timestamp`; `mids` only sometimes (§2)."""
    body: Json = {"watermark": watermark}
    if mids is not None:
        body["mids"] = mids
    return _dm("page", page_id, psid, timestamp, delivery=body)


def reaction_body(
    mid: str, action: str = "react", reaction: str | None = "love", emoji: str | None = "\u2764"
) -> Json:
    """`reaction`: an `unreact` may carry only `mid` and `action` (pass reaction=None, emoji=None)."""
    body: Json = {"mid": mid, "action": action}
    if reaction is not None:
        body["reaction"] = reaction
    if emoji is not None:
        body["emoji"] = emoji
    return body


def messenger_reaction(
    page_id: str, psid: str, mid: str, timestamp: int | str = T_MS, **reaction: Any
) -> Json:
    return _dm("page", page_id, psid, timestamp, reaction=reaction_body(mid, **reaction))


def referral_body(
    ref: str | None = "summer_sale",
    source: str = "SHORTLINK",
    type_: str = "OPEN_THREAD",
    ad_id: str | None = None,
) -> Json:
    """`referral` (§2); ads add `ad_id` and `ads_context_data`."""
    body: Json = {"source": source, "type": type_}
    if ref is not None:
        body["ref"] = ref
    if ad_id is not None:
        body["ad_id"] = ad_id
        body["ads_context_data"] = {"ad_title": "Summer sale", "photo_url": "https://scontent.example/ad.jpg"}
    return body


def messenger_referral(page_id: str, psid: str, timestamp: int | str = T_MS, **referral: Any) -> Json:
    return _dm("page", page_id, psid, timestamp, referral=referral_body(**referral))


def messenger_edit(
    page_id: str, psid: str, mid: str, text: str, num_edit: int | str = 1, timestamp: int | str = T_MS
) -> Json:
    return _dm(
        "page", page_id, psid, timestamp, message_edit={"mid": mid, "text": text, "num_edit": num_edit}
    )


def user_ref_message(page_id: str, user_ref: str, mid: str, text: str, timestamp: int = T_MS) -> Json:
    """A message from a plugin/guest entry point: the sender is `{"user_ref": ...}` (§2)."""
    item = messaging_item(
        {"user_ref": user_ref}, {"id": page_id}, timestamp, message={"mid": mid, "text": text}
    )
    return delivery("page", entry(page_id, _entry_time(timestamp), messaging=[item]))


def instagram_message(
    ig_id: str,
    igsid: str,
    mid: str,
    text: str | None = None,
    attachments: list[Json] | None = None,
    timestamp: int | str = T_MS,
    quick_reply: str | None = None,
    reply_to: str | None = None,
    reply_to_story: tuple[str, str] | None = None,
    referral: Json | None = None,
    is_deleted: bool | None = None,
    is_unsupported: bool | None = None,
) -> Json:
    """An Instagram DM (§3); `reply_to_story` is (story id, story url)."""
    reply: Json | None = None
    if reply_to is not None:
        reply = {"mid": reply_to}
    elif reply_to_story is not None:
        reply = {"story": {"id": reply_to_story[0], "url": reply_to_story[1]}}
    body = _message_body(
        mid,
        text,
        attachments,
        quick_reply={"payload": quick_reply} if quick_reply is not None else None,
        reply_to=reply,
        referral=referral,
        is_deleted=is_deleted,
        is_unsupported=is_unsupported,
    )
    return _dm("instagram", ig_id, igsid, timestamp, message=body)


def instagram_echo(
    ig_id: str, igsid: str, mid: str, text: str | None = None, timestamp: int | str = T_MS
) -> Json:
    """Instagram echoes come through `messages`: sender = the account (§3)."""
    body = _message_body(mid, text, None, is_echo=True)
    item = messaging_item({"id": ig_id}, {"id": igsid}, timestamp, message=body)
    return delivery("instagram", entry(ig_id, _entry_time(timestamp), messaging=[item]))


def instagram_read(ig_id: str, igsid: str, mid: str, timestamp: int | str = T_MS) -> Json:
    """Instagram's `messaging_seen`: `read.mid` is the last message seen (§3)."""
    return _dm("instagram", ig_id, igsid, timestamp, read={"mid": mid})


def instagram_postback(
    ig_id: str,
    igsid: str,
    payload: str,
    title: str = "Yes",
    mid: str = "aWdfcG9zdGJhY2s",
    timestamp: int = T_MS,
) -> Json:
    return _dm(
        "instagram", ig_id, igsid, timestamp, postback={"mid": mid, "title": title, "payload": payload}
    )


def instagram_reaction(ig_id: str, igsid: str, mid: str, timestamp: int = T_MS, **reaction: Any) -> Json:
    return _dm("instagram", ig_id, igsid, timestamp, reaction=reaction_body(mid, **reaction))


def instagram_referral(ig_id: str, igsid: str, timestamp: int = T_MS, **referral: Any) -> Json:
    return _dm("instagram", ig_id, igsid, timestamp, referral=referral_body(**referral))


# --- attachments (§2, §3) ---------------------------------------------------------------------


def media(type_: str, url: str) -> Json:
    """`image`, `audio`, `video`, `file` (and `story_mention`, `share`): `payload.url`."""
    return {"type": type_, "payload": {"url": url}}


def sticker(sticker_id: int, url: str) -> Json:
    """The new `sticker` attachment: `payload.sticker_id` (a JSON number) and `payload.url`."""
    return {"type": "sticker", "payload": {"url": url, "sticker_id": sticker_id}}


def legacy_sticker_pair(sticker_id: int, url: str) -> list[Json]:
    """A sticker until 2026-08-30: an `image` with the sticker id, then the `sticker` (§2)."""
    return [{"type": "image", "payload": {"url": url, "sticker_id": sticker_id}}, sticker(sticker_id, url)]


def fallback(title: str, url: str, payload: Json | None = None) -> Json:
    """A shared link: `title` and `url` on the attachment itself; `payload` may be null (§2)."""
    return {"type": "fallback", "title": title, "url": url, "payload": payload}


def location(lat: float, long: float, title: str = "Pinned location") -> Json:
    return {
        "type": "location",
        "title": title,
        "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps",
        "payload": {"coordinates": {"lat": lat, "long": long}},
    }


def reel(url: str, reel_video_id: str, title: str = "a reel", type_: str = "ig_reel") -> Json:
    return {"type": type_, "payload": {"url": url, "title": title, "reel_video_id": reel_video_id}}


def ig_post(media_id: str, url: str, title: str = "a post") -> Json:
    """A shared Instagram post since 2026-04-27: `payload.ig_post_media_id`, `title`, `url` (§3)."""
    return {"type": "ig_post", "payload": {"ig_post_media_id": media_id, "title": title, "url": url}}


def button_template(text: str) -> Json:
    """Our own button message as it comes back in an echo (§2, §5)."""
    return {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": text,
            "buttons": [{"type": "postback", "title": "Yes", "payload": "YES"}],
        },
    }


# --- changes (§4) -----------------------------------------------------------------------------


def change(obj: str, account_id: str, field: str, value: Json, time: int | str | None = T_S) -> Json:
    """One `changes[]` item in its own delivery."""
    return delivery(obj, entry(account_id, time, changes=[{"field": field, "value": value}]))


def feed_comment(
    page_id: str,
    comment_id: str,
    post_id: str,
    verb: str = "add",
    message: str | None = "Is this still available?",
    from_id: str | None = PSID,
    from_name: str | None = "Jane Doe",
    parent_id: str | None = None,
    created_time: int | str | None = T_S,
    photo: str | None = None,
    video: str | None = None,
    permalink_url: str | None = None,
    legacy_sender: bool = False,
    time: int | str | None = T_S + 1,
) -> Json:
    """A Page `feed` comment change (§4). `parent_id=None` means top-level (Meta then sends
    `parent_id` = `post_id`); a `remove` carries no `message` and no `created_time`;
    `legacy_sender` uses `sender_id`/`sender_name` instead of `from`."""
    value: Json = {"item": "comment", "verb": verb, "comment_id": comment_id, "post_id": post_id,
                   "parent_id": parent_id or post_id}  # fmt: skip
    if from_id is not None and legacy_sender:
        value.update(sender_id=from_id, sender_name=from_name)
    elif from_id is not None:
        value["from"] = {"id": from_id, "name": from_name}
    post: Json = {"id": post_id, "status_type": "added_photos", "is_published": True,
                  "updated_time": "2024-06-10T06:13:20+0000", "promotion_status": "inactive"}  # fmt: skip
    if permalink_url is not None:
        post["permalink_url"] = permalink_url
    value["post"] = post
    if verb != "remove":
        if message is not None:
            value["message"] = message
        if created_time is not None:
            value["created_time"] = created_time
    if photo is not None:
        value["photo"] = photo
    if video is not None:
        value["video"] = video
    return change("page", page_id, "feed", value, time)


def feed_item(page_id: str, item: str, verb: str = "add", time: int = T_S, **value: Any) -> Json:
    """Another feed item (`status`, `photo`, `reaction`, `share`, ...): ignored by socialdesk."""
    return change("page", page_id, "feed", {"item": item, "verb": verb, **value}, time)


def instagram_comment(
    ig_id: str,
    comment_id: str,
    media_id: str,
    text: str | None = "Price please",
    from_id: str | None = IGSID,
    username: str | None = "jane.doe",
    parent_id: str | None = None,
    media_product_type: str = "FEED",
    field: str = "comments",
    time: int | str | None = T_S,
) -> Json:
    """An Instagram `comments` (or `live_comments`) change: no verb, `id` is the comment (§4)."""
    value: Json = {"id": comment_id, "media": {"id": media_id, "media_product_type": media_product_type}}
    if from_id is not None:
        value["from"] = {"id": from_id, "username": username, "self_ig_scoped_id": from_id}
    if text is not None:
        value["text"] = text
    if parent_id is not None:
        value["parent_id"] = parent_id
    return change("instagram", ig_id, field, value, time)
