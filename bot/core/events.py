"""Our own vocabulary of inbound events: what the rest of socialdesk sees of Meta's webhooks.

`bot.meta.parse` turns a webhook body into these frozen structs; nothing else reads Meta's
JSON. Each event knows two identities:

- `event_key`: the idempotency key. Meta redelivers; a second event with the same key is the
  same fact and is stored once.
- `conversation_key`: the ordering key. Events with the same key are applied one at a time in
  Meta's order (by `timestamp`), whatever worker picks them up.

Every event carries the channel it arrived on (`platform` + `account_id`: the Facebook Page id
or the Instagram professional account id) and `timestamp` in milliseconds since the epoch.
Events are tagged unions, so they round-trip through `encode`/`decode` for storage.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

import msgspec


class Platform(StrEnum):
    """Which of Meta's user-id namespaces an event belongs to (PSID vs IGSID)."""

    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"


class TemplateButton(msgspec.Struct, frozen=True, omit_defaults=True):
    """A button of a template the customer saw: a link (`url`) or a reply (`payload`)."""

    type: str | None = None
    title: str | None = None
    url: str | None = None
    payload: str | None = None


class TemplateElement(msgspec.Struct, frozen=True, omit_defaults=True):
    """One card of a generic, media, product or receipt template: what the customer saw of it
    (`url` is where tapping the card leads: its `default_action`, or a media template's media)."""

    title: str | None = None
    subtitle: str | None = None
    image_url: str | None = None
    url: str | None = None
    media_type: str | None = None
    product_id: str | None = None
    price: str | None = None
    buttons: tuple[TemplateButton, ...] = ()


class Attachment(msgspec.Struct, frozen=True, omit_defaults=True):
    """One attachment of a message or comment.

    `type` keeps Meta's word (image, video, audio, file, sticker, fallback, share, location,
    story_mention, reel, ig_reel, post, ig_post, template, ...); a type we do not know is kept
    as `unsupported` with the original word in `original_type`, never dropped. A `template`
    (echoes of cards and buttons sent by the page) keeps `template_type`, its `text`, its cards
    (`elements`) and `buttons`, so staff see what the customer saw.
    """

    type: str
    url: str | None = None
    title: str | None = None
    sticker_id: str | None = None
    media_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    original_type: str | None = None
    template_type: str | None = None
    text: str | None = None
    elements: tuple[TemplateElement, ...] = ()
    buttons: tuple[TemplateButton, ...] = ()


class ReferralInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """Where a conversation came from: m.me link, ad, Get Started with a ref, ..."""

    ref: str | None = None
    source: str | None = None
    type: str | None = None
    ad_id: str | None = None


class _Event(msgspec.Struct, frozen=True, tag=True, omit_defaults=True, kw_only=True):
    """`notes` records what parsing had to repair (a timestamp of 0, in seconds, missing or in
    the future), so the stored row says why its time is not Meta's literal value."""

    platform: Platform
    account_id: str
    timestamp: int
    notes: tuple[str, ...] = ()

    @property
    def event_key(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def conversation_key(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class _DirectEvent(_Event, frozen=True, tag=True, omit_defaults=True):
    """An event of a direct-message thread between the account and one person (`user_id`).

    `user_id` is empty only on receipts that name their message but not the person (Instagram's
    `read` may come without sender and recipient): the message tells whose thread it is."""

    user_id: str

    @property
    def conversation_key(self) -> str:
        return f"dm:{self.platform}:{self.account_id}:{self.user_id}"


class MessageReceived(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """A customer wrote to the account (text, attachments, quick reply, story reply...)."""

    mid: str
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    quick_reply_payload: str | None = None
    reply_to_mid: str | None = None
    reply_to_story_url: str | None = None
    reply_to_story_id: str | None = None
    referral: ReferralInfo | None = None
    is_unsupported: bool = False

    @property
    def event_key(self) -> str:
        return f"msg:{self.mid}"


class MessageEcho(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """A message the account itself sent (from socialdesk or another tool); `user_id` is the
    recipient. `metadata` carries what we attached when we sent it, when it was us."""

    mid: str
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    app_id: str | None = None
    metadata: str | None = None

    @property
    def event_key(self) -> str:
        return f"echo:{self.mid}"


class MessageDeleted(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """The customer unsent a message: kept for the record, marked deleted."""

    mid: str

    @property
    def event_key(self) -> str:
        return f"deleted:{self.mid}"


class MessageEdited(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """The customer edited a message; `num_edit` counts edits so each is applied once."""

    mid: str
    text: str | None = None
    num_edit: int = 0

    @property
    def event_key(self) -> str:
        return f"edited:{self.mid}:{self.num_edit}"


class Postback(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """A button tap: `payload` is the developer string we put on the button."""

    payload: str
    title: str | None = None
    mid: str | None = None
    referral: ReferralInfo | None = None

    @property
    def event_key(self) -> str:
        if self.mid:
            return f"postback:{self.mid}"
        return f"postback:{self.account_id}:{self.user_id}:{self.timestamp}:{_digest(self.payload)}"


class Referred(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """The person opened the thread from a link or an ad (no message yet)."""

    referral: ReferralInfo

    @property
    def event_key(self) -> str:
        return f"referral:{self.account_id}:{self.user_id}:{self.timestamp}"


class MessagesRead(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """The person read our messages: all sent at or before `watermark` (ms), or up to `mid`
    (Instagram's `seen` names the last message instead of a watermark)."""

    watermark: int | None = None
    mid: str | None = None

    @property
    def event_key(self) -> str:
        return f"read:{self.account_id}:{self.user_id}:{self.watermark}:{self.mid}"


class MessagesDelivered(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """Our messages reached the person: all sent at or before `watermark`, and `mids`."""

    watermark: int = 0
    mids: tuple[str, ...] = ()

    @property
    def event_key(self) -> str:
        key = f"delivered:{self.account_id}:{self.user_id}:{self.watermark}"
        # Two receipts with no watermark (or one shared by several deliveries) differ by their mids.
        return f"{key}:{_digest(','.join(self.mids))}" if self.mids else key


class ReactionChanged(_DirectEvent, frozen=True, tag=True, omit_defaults=True):
    """The person reacted to (or removed a reaction from) a message `mid`."""

    mid: str
    action: str  # "react" or "unreact"
    reaction: str | None = None
    emoji: str | None = None

    @property
    def event_key(self) -> str:
        return f"reaction:{self.mid}:{self.user_id}:{self.action}:{self.timestamp}"


class _CommentEvent(_Event, frozen=True, tag=True, omit_defaults=True):
    """A change to one comment under a post (Facebook Page feed or Instagram media).

    `from_id` is the commenter's page-scoped (Facebook) or Instagram-scoped id; it is None when
    Meta hides it. `parent_id` is None for a top-level comment and the parent comment's id for a
    reply to a comment. `by_account` is True when the page/account itself wrote the comment:
    such comments are stored but never trigger anything.
    """

    comment_id: str
    post_id: str
    from_id: str | None = None
    from_name: str | None = None
    from_username: str | None = None
    parent_id: str | None = None
    by_account: bool = False

    @property
    def conversation_key(self) -> str:
        """One comment thread (a top-level comment and the replies under it) is applied in order:
        the page's reply must find the customer's comment it answers."""
        return f"comments:{self.platform}:{self.account_id}:{self.post_id}:{self.parent_id or self.comment_id}"

    @property
    def inbox_key(self) -> str:
        """The staff conversation: one person's comments and replies under one post."""
        return f"comments:{self.platform}:{self.account_id}:{self.post_id}:{self.from_id or 'unknown'}"


class CommentAdded(_CommentEvent, frozen=True, tag=True, omit_defaults=True):
    """A new comment. `created_time` is Meta's creation time in ms (private replies are allowed
    for 7 days after it)."""

    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    created_time: int | None = None
    post_permalink: str | None = None
    media_product_type: str | None = None

    @property
    def event_key(self) -> str:
        return f"comment:{self.comment_id}:add"


class CommentEdited(_CommentEvent, frozen=True, tag=True, omit_defaults=True):
    """A comment's text changed; it never triggers automations again."""

    text: str | None = None
    attachments: tuple[Attachment, ...] = ()

    @property
    def event_key(self) -> str:
        return f"comment:{self.comment_id}:edited:{_digest(self.text or '')}"


class CommentRemoved(_CommentEvent, frozen=True, tag=True, omit_defaults=True):
    """The comment was deleted: kept for the record, marked deleted."""

    @property
    def event_key(self) -> str:
        return f"comment:{self.comment_id}:remove"


class CommentVisibility(_CommentEvent, frozen=True, tag=True, omit_defaults=True):
    """The comment was hidden (`hidden=True`) or shown again."""

    hidden: bool = True

    @property
    def event_key(self) -> str:
        verb = "hide" if self.hidden else "unhide"
        return f"comment:{self.comment_id}:{verb}:{self.timestamp}"


class PostPublished(_Event, frozen=True, tag=True, omit_defaults=True):
    """The page published a post (a Page `feed` change with a post item and verb `add`, §4):
    what a campaign scoped to "the next post published" binds to (issue 22)."""

    post_id: str
    item: str | None = None  # status | photo | video | post | share
    text: str | None = None

    @property
    def event_key(self) -> str:
        return f"post:{self.post_id}:add"

    @property
    def conversation_key(self) -> str:
        return f"posts:{self.platform}:{self.account_id}"


Event = (
    MessageReceived
    | MessageEcho
    | MessageDeleted
    | MessageEdited
    | Postback
    | Referred
    | MessagesRead
    | MessagesDelivered
    | ReactionChanged
    | CommentAdded
    | CommentEdited
    | CommentRemoved
    | CommentVisibility
    | PostPublished
)

COMMENT_EVENTS = (CommentAdded, CommentEdited, CommentRemoved, CommentVisibility)


class Ignored(msgspec.Struct, frozen=True, omit_defaults=True):
    """A well-formed part of a delivery that we do not handle, and why (stored, answered 200)."""

    reason: str
    object: str | None = None
    field: str | None = None
    account_id: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode(event: Event) -> bytes:
    """Serialise an event for the `inbound_event` table."""
    return _encoder.encode(event)


def decode(raw: bytes | str) -> Event:
    """Read back an event stored by `encode`."""
    return _decoder.decode(raw)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
