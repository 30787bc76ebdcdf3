"""The shapes of Meta's webhook bodies, as msgspec Structs (meta-platform.md §1-§4).

This module only describes what Meta sends; `bot.meta.parse` turns it into our events. The
Structs are deliberately lenient, because Meta changes shapes often and a delivery that fails
to parse is retried and, after an hour, costs us the channel (§1):

- unknown keys are ignored (msgspec's default);
- every field is optional: `parse` decides what is required for each event;
- numbers that may arrive as strings (`timestamp`, `watermark`, `num_edit`, `time`,
  `created_time`) are typed `Number` and decoded with `strict=False`, which turns "123" into 123;
- ids are `Id` (a string, or a number in some legacy payloads: `sender_id`, `app_id`,
  `sticker_id`);
- lists whose items are decoded one at a time (`entry`, `messaging`, `standby`, `changes`,
  `attachments`) stay `msgspec.Raw`, so one bad item becomes one `Ignored` (or one unsupported
  attachment) instead of failing the whole delivery.

Use the `*_DECODER` objects below: they carry the lenient settings.
"""

from __future__ import annotations

from typing import Any

import msgspec

Id = str | int
"""Meta's ids are strings; a few legacy fields carry them as JSON numbers."""

Number = int | float
"""A number that may arrive as a string ("1518479195308"); `strict=False` decodes both."""


class _Shape(msgspec.Struct, frozen=True, gc=False):
    """Base of every webhook shape: immutable, no reference cycles, unknown keys ignored."""


# --- §1: the envelope -------------------------------------------------------------------------


class Envelope(_Shape):
    """`{"object": ..., "entry": [...]}` (§1). Both kept raw: a wrong type in either is a
    well-formed delivery we ignore, not a malformed body."""

    object: msgspec.Raw = msgspec.Raw()
    entry: msgspec.Raw = msgspec.Raw()


class Entry(_Shape):
    """One entry: a Page or Instagram account (`id`) and a time slice (`time`; milliseconds for
    messaging, seconds for changes) holding `messaging`, `standby` or `changes` items (§1)."""

    id: Id | None = None
    time: Number | None = None
    messaging: list[msgspec.Raw] | None = None
    standby: list[msgspec.Raw] | None = None
    changes: list[msgspec.Raw] | None = None


# --- §2 and §3: messaging items (Messenger and Instagram share one shape) ---------------------


class Party(_Shape):
    """`sender` or `recipient`: `{"id": PSID/IGSID/page id}`, or `{"user_ref": ...}` for
    plugin and guest entry points (§2)."""

    id: Id | None = None
    user_ref: Any = None


class QuickReply(_Shape):
    payload: str | None = None


class StoryRef(_Shape):
    """`reply_to.story` on Instagram: the story the person answered (§3)."""

    id: Id | None = None
    url: str | None = None


class ReplyTo(_Shape):
    """`reply_to`: a reply to a message (`mid`) or, on Instagram, to a story (§2, §3)."""

    mid: str | None = None
    is_self_reply: bool | None = None
    story: StoryRef | None = None


class Referral(_Shape):
    """`referral` (m.me links, ads, Get Started with a ref): `ref`, `source`, `type`, `ad_id`
    (§2). `ads_context_data` is not read."""

    ref: str | None = None
    source: str | None = None
    type: str | None = None
    ad_id: Id | None = None


class Coordinates(_Shape):
    """`payload.coordinates` of a legacy `location` attachment."""

    lat: float | None = None
    long: float | None = None


class Button(_Shape):
    """A template button (§5, §12): `web_url` (`url`), `postback` (`payload`), `phone_number`
    (`payload` is the number), or other kinds Meta adds (kept by title)."""

    type: str | None = None
    title: str | None = None
    url: str | None = None
    payload: str | None = None


class DefaultAction(_Shape):
    """`default_action` of a card: where tapping the card itself leads."""

    type: str | None = None
    url: str | None = None


class Element(_Shape):
    """One card of an echoed template (§12): generic (`title`, `subtitle`, `image_url`,
    `default_action`, `buttons`), media (`media_type`, `url` or `attachment_id`), product (`id`,
    `retailer_id`, `image_url`, `title`, `subtitle`) or receipt (`title`, `price`, `image_url`)."""

    title: str | None = None
    subtitle: str | None = None
    image_url: str | None = None
    default_action: DefaultAction | None = None
    buttons: list[Button] | None = None
    media_type: str | None = None
    url: str | None = None
    attachment_id: Id | None = None
    id: Id | None = None
    retailer_id: Id | None = None
    price: Number | str | None = None


class AttachmentPayload(_Shape):
    """`attachments[].payload`: `url` for media, `sticker_id` for stickers, `ig_post_media_id`
    for shared Instagram posts, `reel_video_id` for reels; `template_type`, `text`, `elements`
    and `buttons` on echoed templates (§2, §3, §12)."""

    url: str | None = None
    title: str | None = None
    sticker_id: Id | None = None
    ig_post_media_id: Id | None = None
    reel_video_id: Id | None = None
    coordinates: Coordinates | None = None
    template_type: str | None = None
    text: str | None = None
    elements: list[Element] | None = None
    buttons: list[Button] | None = None


class MessageAttachment(_Shape):
    """One inbound attachment (§2, §3). `fallback` (a shared link) carries `title` and `url` on
    the attachment itself and its `payload` may be missing, null, or an opaque string (seen in
    real deliveries of shared links): a string payload carries nothing we read."""

    type: str | None = None
    payload: AttachmentPayload | str | None = None
    title: str | None = None
    url: str | None = None


class AttachmentType(_Shape):
    """Just the `type` word of an attachment whose other fields could not be read."""

    type: str | None = None


class Message(_Shape):
    """`message` (§2, §3). `is_echo` marks a message sent by the page/account itself."""

    mid: str | None = None
    text: str | None = None
    attachments: list[msgspec.Raw] | None = None
    quick_reply: QuickReply | None = None
    reply_to: ReplyTo | None = None
    referral: Referral | None = None
    is_echo: bool | None = None
    app_id: Id | None = None
    metadata: str | None = None
    is_deleted: bool | None = None
    is_unsupported: bool | None = None


class PostbackBody(_Shape):
    """`postback`: a button tap (§2, §3)."""

    mid: str | None = None
    title: str | None = None
    payload: str | None = None
    referral: Referral | None = None


class Read(_Shape):
    """`read`: Messenger gives a `watermark` (ms), Instagram the last `mid` seen (§2, §3)."""

    watermark: Number | None = None
    mid: str | None = None


class Delivery(_Shape):
    """`delivery`: `watermark` (ms, always present) and sometimes `mids` (§2)."""

    watermark: Number | None = None
    mids: list[str] | None = None


class Reaction(_Shape):
    """`reaction`: an `unreact` may carry only `mid` and `action` (§2)."""

    mid: str | None = None
    action: str | None = None
    reaction: str | None = None
    emoji: str | None = None


class MessageEdit(_Shape):
    """`message_edit`: `num_edit` is an int or a string of digits (§2)."""

    mid: str | None = None
    text: str | None = None
    num_edit: Number | None = None


class MessagingItem(_Shape):
    """One item of `entry[].messaging[]` or `entry[].standby[]` (§2, §3): `sender`,
    `recipient`, `timestamp` (ms; may be missing on `delivery`) and exactly one of the keys
    below."""

    sender: Party | None = None
    recipient: Party | None = None
    timestamp: Number | None = None
    message: Message | None = None
    message_edit: MessageEdit | None = None
    postback: PostbackBody | None = None
    reaction: Reaction | None = None
    read: Read | None = None
    delivery: Delivery | None = None
    referral: Referral | None = None


# --- §4: changes (Page feed, Instagram comments) ----------------------------------------------


class Change(_Shape):
    """One item of `entry[].changes[]`: `field` names the subscription, `value` its payload."""

    field: str | None = None
    value: msgspec.Raw = msgspec.Raw()


class Author(_Shape):
    """`from` of a comment: `id` (page-scoped or Instagram-scoped), `name` (Facebook),
    `username` (Instagram). Missing when privacy hides it (§4)."""

    id: Id | None = None
    name: str | None = None
    username: str | None = None


class FeedHead(_Shape):
    """Just `item` and `verb` of a feed change: read first, because other feed items (status,
    photo, reaction, share, ...) have other shapes and are ignored (§4)."""

    item: Any = None
    verb: Any = None


class FeedPost(_Shape):
    """`value.post` of a feed comment; `permalink_url` only sometimes (§4)."""

    id: Id | None = None
    permalink_url: str | None = None


class FeedPostAdded(_Shape):
    """`value` of a Page feed change for a new post (`item` status/photo/video/post/share, verb
    `add`): `post_id`, `from`, `message`, `created_time` (seconds), `published` (1, or 0 for an
    unpublished or scheduled post: *unconfirmed*, we read a missing flag as published)."""

    post_id: Id | None = None
    from_: Author | None = msgspec.field(default=None, name="from")
    message: str | None = None
    created_time: Number | None = None
    published: Number | bool | None = None


class FeedComment(_Shape):
    """`value` of a Page feed change with `item: "comment"` (§4). Older payloads carry
    `sender_id`/`sender_name` instead of `from`; `remove` has no `message`/`created_time`."""

    verb: str | None = None
    comment_id: Id | None = None
    post_id: Id | None = None
    parent_id: Id | None = None
    from_: Author | None = msgspec.field(default=None, name="from")
    sender_id: Id | None = None
    sender_name: str | None = None
    message: str | None = None
    created_time: Number | None = None
    photo: str | None = None
    video: str | None = None
    post: FeedPost | None = None


class IgMedia(_Shape):
    """`value.media` of an Instagram comment: the commented media (§4)."""

    id: Id | None = None
    media_product_type: str | None = None


class IgComment(_Shape):
    """`value` of an Instagram `comments`/`live_comments` change (§4); no verb: always new."""

    id: Id | None = None
    text: str | None = None
    from_: Author | None = msgspec.field(default=None, name="from")
    media: IgMedia | None = None
    parent_id: Id | None = None


def _decoder(shape: type) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(shape, strict=False)


ENVELOPE_DECODER = _decoder(Envelope)
OBJECT_DECODER = _decoder(str | None)
ENTRIES_DECODER = _decoder(list[msgspec.Raw])
ENTRY_DECODER = _decoder(Entry)
MESSAGING_DECODER = _decoder(MessagingItem)
ITEM_KEYS_DECODER = _decoder(dict[str, msgspec.Raw])
ATTACHMENT_DECODER = _decoder(MessageAttachment)
ATTACHMENT_TYPE_DECODER = _decoder(AttachmentType)
CHANGE_DECODER = _decoder(Change)
FEED_HEAD_DECODER = _decoder(FeedHead)
FEED_COMMENT_DECODER = _decoder(FeedComment)
FEED_POST_DECODER = _decoder(FeedPostAdded)
IG_COMMENT_DECODER = _decoder(IgComment)
