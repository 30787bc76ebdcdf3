"""Turn one webhook body into our events: `parse_delivery(body) -> ParsedDelivery`.

Pure and total. The only exception is `MalformedBody`, for a body that is not JSON or not a
JSON object (answered 400). Everything else comes back as a value: the events we handle, in
Meta's order (entry order, then item order), and an `Ignored(reason)` for each well-formed part
we do not handle. Meta changes shapes often (meta-platform.md §1), and an exception here would
fail the delivery, make Meta retry it and, after an hour, drop the channel.

The shapes come from `bot.meta.webhook`; the events from `bot.core.events`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

import msgspec

from bot.core.events import (
    Attachment,
    CommentAdded,
    CommentEdited,
    CommentRemoved,
    CommentVisibility,
    Event,
    Ignored,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    MessagesDelivered,
    MessagesRead,
    Platform,
    Postback,
    PostPublished,
    ReactionChanged,
    ReferralInfo,
    Referred,
    TemplateButton,
    TemplateElement,
)
from bot.meta import webhook as wh


class MalformedBody(ValueError):
    """The body is not JSON, or not a JSON object: nothing in it can be read."""


class ParsedDelivery(msgspec.Struct):
    """What one webhook body holds: its `object`, our events, and what we ignored (and why)."""

    object: str | None
    events: list[Event]
    ignored: list[Ignored]


# msgspec raises its own errors for wrong shapes; UnicodeDecodeError only for bytes that are not
# UTF-8 (repaired before decoding, kept here as a guard); RecursionError for absurd nesting.
_UNREADABLE = (msgspec.MsgspecError, UnicodeDecodeError, RecursionError)

_PLATFORMS = {"page": Platform.FACEBOOK, "instagram": Platform.INSTAGRAM}

# Below 1e11 a time is in seconds (1e11 s is the year 5138), above it in milliseconds (1e11 ms
# is 1973): Messenger `timestamp`s are ms, feed `created_time` and changes' `entry.time` seconds.
_SECONDS_BELOW = 100_000_000_000
_INT64 = 2**63
# Nothing Meta delivers happened before 2010 (Messenger's platform is from 2016): an earlier time
# is a placeholder (0, 1, ...), never stored as such. A time more than this ahead of our clock is
# a sender's clock error: the time we received it stands in.
_EARLIEST_MS = 1_262_304_000_000
_FUTURE_SLACK_MS = 10 * 60_000
# What one template can hold (§5, §12: 10 cards, 3 buttons each); more is cut, never stored.
_MAX_ELEMENTS = 10
_MAX_BUTTONS = 3


class _Scope(NamedTuple):
    """Where an item sits: the delivery's object and the entry's account and time (ms), and
    when we received it (`now`, ms: the time of last resort)."""

    platform: Platform
    object: str
    account_id: str
    time: int | None
    now: int

    def ignored(self, reason: str, field: str | None) -> Ignored:
        return Ignored(reason=reason, object=self.object, field=field, account_id=self.account_id)


class _Who(NamedTuple):
    """The identity every direct-message event starts with (and what its time repairs were)."""

    platform: Platform
    account_id: str
    timestamp: int
    user_id: str
    notes: tuple[str, ...] = ()


def parse_delivery(body: bytes, now: int | None = None) -> ParsedDelivery:
    """Parse one webhook body (§1), received at `now` (ms; default: the clock). Raises only
    `MalformedBody`."""
    received = now if now is not None else int(time.time() * 1000)
    envelope = _envelope(body)
    try:
        obj: str | None = wh.OBJECT_DECODER.decode(envelope.object) if envelope.object else None
    except _UNREADABLE:
        return ParsedDelivery(None, [], [Ignored(reason="object is not a string")])
    delivery = ParsedDelivery(obj, [], [])
    platform = _PLATFORMS.get(obj) if obj is not None else None
    if platform is None:
        reason = f"unknown object {_show(obj)}" if obj is not None else "delivery without object"
        delivery.ignored.append(Ignored(reason=reason, object=obj))
        return delivery
    try:
        entries = wh.ENTRIES_DECODER.decode(envelope.entry) if envelope.entry else None
    except _UNREADABLE:
        entries = None
    if entries is None:
        delivery.ignored.append(Ignored(reason="entry is missing or not a list", object=obj))
        return delivery
    if len(entries) > MAX_UPDATES:
        return _too_many(obj, f"{len(entries)} entries")
    for raw in entries:
        try:
            _collect(_entry(raw, platform, obj, received), delivery)
        except _TooMany as exc:
            return _too_many(obj, str(exc))
        if len(delivery.events) + len(delivery.ignored) > MAX_UPDATES:
            return _too_many(obj, f"{len(delivery.events) + len(delivery.ignored)} items so far")
    return delivery


# Meta sends "up to 1000 updates per POST" (§1). Twice that still leaves room for an undocumented
# overshoot; beyond it the body is not Meta's batch, and expanding it would cost a row per item.
MAX_UPDATES = 2000


class _TooMany(Exception):
    """An entry holds more items than a whole delivery may: the delivery is refused."""


def _too_many(obj: str, what: str) -> ParsedDelivery:
    """One refusal for the whole delivery: its cost stays one row whatever it holds."""
    reason = f"delivery refused: more than {MAX_UPDATES} updates ({what}); Meta sends at most 1000 per POST"
    return ParsedDelivery(obj, [], [Ignored(reason=reason, object=obj)])


def _envelope(body: bytes) -> wh.Envelope:
    """Decode the envelope, or raise MalformedBody.

    Meta sends ASCII (non-ASCII text travels as \\uXXXX escapes, §1), so the repairs below only
    run for other senders: bytes that are not UTF-8 become U+FFFD, and so do lone UTF-16
    surrogate escapes (half an emoji, as a truncating sender can produce), which msgspec
    refuses. Refusing them would refuse a real delivery again at every retry. A NUL (\\u0000,
    in an id or a text) becomes U+FFFD too: PostgreSQL text cannot hold it, and an id with one
    made every statement that stored the delivery's events fail (found by the fuzz test).
    """
    if not body.isascii():
        body = bytes(body).decode("utf-8", "replace").encode("utf-8")
    if b"\\u0000" in body:
        body = _repair_escapes(body)
    envelope = _decode_envelope(body)
    if isinstance(envelope, _NotJson):
        repaired = _repair_escapes(body)
        envelope = _decode_envelope(repaired) if repaired != body else envelope
    if isinstance(envelope, str):
        raise MalformedBody(envelope)
    return envelope


class _NotJson(str):
    """Why a body is not JSON (as opposed to JSON that is not an object)."""


def _decode_envelope(body: bytes) -> wh.Envelope | str:
    try:
        return wh.ENVELOPE_DECODER.decode(body)
    except msgspec.ValidationError:  # a subclass of DecodeError: JSON, but not an object
        return "not a JSON object"
    except msgspec.DecodeError as exc:
        return _NotJson(f"not JSON: {_short(exc)}")
    except RecursionError:
        return "JSON nested too deeply"


# An escape is a backslash and the next character, so scanning escapes left to right keeps
# escaped backslashes (\\) paired: a surrogate pair is kept; a lone surrogate or a NUL (group 2)
# becomes U+FFFD; any other escape is kept.
_ESCAPE = re.compile(
    rb"(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})|(\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\\u0000)|\\.",
    re.DOTALL,
)


def _repair_escapes(body: bytes) -> bytes:
    return _ESCAPE.sub(lambda match: b"\\ufffd" if match.group(2) else match.group(0), body)


def _collect(results: Iterable[Event | Ignored], delivery: ParsedDelivery) -> None:
    for result in results:
        if isinstance(result, Ignored):
            delivery.ignored.append(result)
        else:
            delivery.events.append(result)


def _entry(raw: msgspec.Raw, platform: Platform, obj: str, now: int) -> list[Event | Ignored]:
    """Every item of one entry, in order: messaging, standby, then changes (§1)."""
    try:
        entry = wh.ENTRY_DECODER.decode(raw)
    except _UNREADABLE as exc:
        return [Ignored(reason=f"entry not readable: {_short(exc)}", object=obj)]
    account_id = _id(entry.id)
    if account_id is None:
        return [Ignored(reason="entry without id", object=obj)]
    items = len(entry.messaging or ()) + len(entry.standby or ()) + len(entry.changes or ())
    if items > MAX_UPDATES:
        raise _TooMany(f"{items} items in one entry")
    scope = _Scope(platform, obj, account_id, _time(entry.time, now, seconds_expected=True)[0], now)
    if entry.messaging is None and entry.standby is None and entry.changes is None:
        return [scope.ignored("entry without messaging, standby or changes", None)]
    results = [_messaging(item, scope, "messaging") for item in entry.messaging or ()]
    if entry.standby:
        results += [_messaging(item, scope, "standby") for item in entry.standby]
    if entry.changes:
        results += [_change(item, scope) for item in entry.changes]
    return results


# --- §2, §3: messaging and standby items ------------------------------------------------------

_ITEM_KINDS = ("message", "message_edit", "postback", "reaction", "read", "delivery", "referral")
_ENVELOPE_KEYS = frozenset({"sender", "recipient", "timestamp"})


def _messaging(raw: msgspec.Raw, scope: _Scope, container: str) -> Event | Ignored:
    """One Messenger/Instagram messaging (or standby) item -> one event (§2, §3)."""
    try:
        item = wh.MESSAGING_DECODER.decode(raw)
    except _UNREADABLE as exc:
        return scope.ignored(f"{container} item not readable: {_short(exc)}", container)
    kind = next((k for k in _ITEM_KINDS if getattr(item, k) is not None), None)
    if kind is None:
        return scope.ignored(f"{container} item with no handled key ({_item_keys(raw)})", container)
    who = _who(item, scope)
    if isinstance(who, str):
        return scope.ignored(who, kind)
    result = _KIND_MAPPERS[kind](item, who)
    return scope.ignored(result, kind) if isinstance(result, str) else result


def _item_keys(raw: msgspec.Raw) -> str:
    """The keys of an unhandled item, for the reason (optin, pass_thread_control, ...)."""
    keys = sorted(set(wh.ITEM_KEYS_DECODER.decode(raw)) - _ENVELOPE_KEYS)
    return ", ".join(_show(k) for k in keys[:8]) or "no keys"


def _who(item: wh.MessagingItem, scope: _Scope) -> _Who | str:
    """The customer and the time of an item, or why the item cannot be used.

    The customer is the sender, except on echoes where the page/account is the sender and the
    customer the recipient (§2): an echo "to" the account itself names no customer and is
    refused as malformed. A receipt that names its message (Instagram's `read` with a `mid`, a
    `delivery` with `mids`) is kept without sender/recipient: the message says whose it is.
    """
    echo = item.message is not None and bool(item.message.is_echo)
    party = item.recipient if echo else item.sender
    role = "recipient" if echo else "sender"
    user_id = _id(party.id) if party is not None else None
    if user_id is None:
        if party is not None and party.user_ref is not None:
            return f"user_ref {role} not supported"
        if not _names_its_message(item):
            return f"item without {role} id"
        user_id = ""
    if user_id == scope.account_id:  # the account never writes to (or is) its own customer
        if echo:
            return "malformed echo: its recipient is the account itself, not a customer"
        return f"malformed item: its {role} is the account itself, not a customer"
    timestamp, notes = _item_time(item, scope)
    return _Who(scope.platform, scope.account_id, timestamp, user_id, notes)


def _names_its_message(item: wh.MessagingItem) -> bool:
    return bool((item.read is not None and item.read.mid) or (item.delivery is not None and item.delivery.mids))


def _item_time(item: wh.MessagingItem, scope: _Scope) -> tuple[int, tuple[str, ...]]:
    """The item's time in ms and what had to be repaired (§2: messaging times are ms; a
    `delivery` may lack `timestamp`). A missing, 0, pre-2010 or unreadable time falls back to the
    delivery's watermark, then the entry's time, then the time we received it; seconds become
    ms; a future time becomes the time we received it. Never 1970."""
    timestamp, note = _time(item.timestamp, scope.now)
    if timestamp is not None:
        return timestamp, (note,) if note else ()
    fallbacks = (("the delivery watermark", item.delivery.watermark if item.delivery else None),
                 ("the entry time", scope.time), ("the time it was received", scope.now))
    for label, value in fallbacks:
        stand_in = _time(value, scope.now)[0]
        if stand_in is not None:
            return stand_in, (f"{note}: {label} used",)
    return scope.now, (f"{note}: the time it was received used",)  # pragma: no cover - now is valid


def _time(value: wh.Number | None, now: int, *, seconds_expected: bool = False) -> tuple[int | None, str | None]:
    """A time of Meta's as ms, and a note when it was repaired; None (with the reason) when it
    cannot stand: missing, 0, unreadable or before 2010. `seconds_expected` for fields Meta sends
    in seconds (feed `created_time`, changes' `entry.time`), so converting them is no repair."""
    if value is None:
        return None, "timestamp missing"
    whole = _whole(value)
    if whole is None or whole == 0:
        return None, f"timestamp {_show(value)} unusable"
    ms, note = whole, None
    if whole < _SECONDS_BELOW:
        ms = whole * 1000
        note = None if seconds_expected else f"timestamp {whole} was in seconds"
    if ms < _EARLIEST_MS:
        return None, f"timestamp {whole} is before 2010"
    if ms > now + _FUTURE_SLACK_MS:
        return now, f"timestamp {whole} was in the future: the time it was received used"
    return ms, note


def _message(item: wh.MessagingItem, who: _Who) -> Event | str:
    """`message`: a customer message, an echo of the page's own message, or an unsend."""
    msg = item.message
    assert msg is not None
    if not msg.mid:
        return "message without mid"
    if msg.is_deleted:
        return MessageDeleted(**who._asdict(), mid=msg.mid)
    attachments = _attachments(msg.attachments or [], echo=bool(msg.is_echo))
    if msg.is_echo:
        return MessageEcho(
            **who._asdict(),
            mid=msg.mid,
            text=msg.text,
            attachments=attachments,
            app_id=_id(msg.app_id),
            metadata=msg.metadata,
        )
    reply_to = msg.reply_to
    story = reply_to.story if reply_to else None
    return MessageReceived(
        **who._asdict(),
        mid=msg.mid,
        text=msg.text,
        attachments=attachments,
        quick_reply_payload=msg.quick_reply.payload if msg.quick_reply else None,
        reply_to_mid=reply_to.mid if reply_to else None,
        reply_to_story_url=story.url if story else None,
        reply_to_story_id=_id(story.id) if story else None,
        referral=_referral(msg.referral),
        is_unsupported=bool(msg.is_unsupported),
    )


def _message_edit(item: wh.MessagingItem, who: _Who) -> Event | str:
    edit = item.message_edit
    assert edit is not None
    if not edit.mid:
        return "message_edit without mid"
    num_edit = _whole(edit.num_edit) if edit.num_edit is not None else 0
    if num_edit is None:
        return "message_edit with an unreadable num_edit"
    return MessageEdited(**who._asdict(), mid=edit.mid, text=edit.text, num_edit=num_edit)


def _postback(item: wh.MessagingItem, who: _Who) -> Event | str:
    postback = item.postback
    assert postback is not None
    if postback.payload is None:
        return "postback without payload"
    return Postback(
        **who._asdict(),
        payload=postback.payload,
        title=postback.title,
        mid=postback.mid or None,
        referral=_referral(postback.referral),
    )


def _reaction(item: wh.MessagingItem, who: _Who) -> Event | str:
    reaction = item.reaction
    assert reaction is not None
    if not reaction.mid or not reaction.action:
        return "reaction without mid or action"
    return ReactionChanged(
        **who._asdict(),
        mid=reaction.mid,
        action=reaction.action,
        reaction=reaction.reaction,
        emoji=reaction.emoji,
    )


def _read(item: wh.MessagingItem, who: _Who) -> Event | str:
    """Messenger's `read` has a watermark; Instagram's (messaging_seen) the last `mid` (§3)."""
    read = item.read
    assert read is not None
    watermark = _ms(read.watermark)
    if watermark is None and not read.mid:
        return "read without watermark or mid"
    return MessagesRead(**who._asdict(), watermark=watermark, mid=read.mid or None)


def _delivery(item: wh.MessagingItem, who: _Who) -> Event | str:
    delivery = item.delivery
    assert delivery is not None
    watermark = _ms(delivery.watermark)
    mids = tuple(m for m in delivery.mids or () if m)
    if watermark is None and not mids:
        return "delivery without watermark or mids"
    return MessagesDelivered(**who._asdict(), watermark=watermark or 0, mids=mids)


def _referred(item: wh.MessagingItem, who: _Who) -> Event | str:
    referral = _referral(item.referral)
    assert referral is not None
    return Referred(**who._asdict(), referral=referral)


_KIND_MAPPERS: dict[str, Callable[[wh.MessagingItem, _Who], Event | str]] = {
    "message": _message,
    "message_edit": _message_edit,
    "postback": _postback,
    "reaction": _reaction,
    "read": _read,
    "delivery": _delivery,
    "referral": _referred,
}


def _referral(referral: wh.Referral | None) -> ReferralInfo | None:
    if referral is None:
        return None
    return ReferralInfo(
        ref=referral.ref, source=referral.source, type=referral.type, ad_id=_id(referral.ad_id)
    )


# --- attachments (§2, §3) ---------------------------------------------------------------------

_KNOWN_ATTACHMENTS = frozenset(
    {
        "image", "audio", "video", "file", "sticker", "fallback", "location", "share",
        "story_mention", "reel", "ig_reel", "post", "ig_post", "appointment_booking", "template",
    }
)  # fmt: skip
_EMPTY_PAYLOAD = wh.AttachmentPayload()


def _attachments(raws: list[msgspec.Raw], *, echo: bool) -> tuple[Attachment, ...]:
    if not raws:
        return ()
    return _drop_sticker_images([_attachment(raw, echo=echo) for raw in raws])


def _attachment(raw: msgspec.Raw, *, echo: bool) -> Attachment:
    """One attachment. An unknown type (Instagram's `unsupported_type` included), an
    unreadable one, or a `template` outside an echo (templates only come back as echoes of
    our own button messages, §2) is kept as `unsupported`, never dropped."""
    try:
        att = wh.ATTACHMENT_DECODER.decode(raw)
    except _UNREADABLE:
        return Attachment(type="unsupported", original_type=_attachment_word(raw))
    # A string payload (seen on shared links) is opaque: the attachment's own title/url remain.
    payload = att.payload if isinstance(att.payload, wh.AttachmentPayload) else _EMPTY_PAYLOAD
    url = att.url if att.url is not None else payload.url
    title = att.title if att.title is not None else payload.title
    opaque = isinstance(att.payload, str) and att.type != "fallback"  # only a link's payload may be a string
    if att.type not in _KNOWN_ATTACHMENTS or (att.type == "template" and not echo) or opaque:
        return Attachment(type="unsupported", original_type=att.type, url=url, title=title)
    if att.type == "template":
        return _template(payload, url, title)
    coordinates = payload.coordinates or wh.Coordinates()
    return Attachment(
        type=att.type,
        url=url,
        title=title,
        sticker_id=_id(payload.sticker_id),
        media_id=_id(payload.ig_post_media_id) or _id(payload.reel_video_id),
        latitude=_finite(coordinates.lat),
        longitude=_finite(coordinates.long),
    )


def _template(payload: wh.AttachmentPayload, url: str | None, title: str | None) -> Attachment:
    """An echoed template (§5, §12): button (`text` + `buttons`), generic/media/product/receipt
    (`elements`), kept whole so staff see the card the customer saw. An echoed button template
    has no message text: its text also stands in as the title (the inbox preview)."""
    elements = tuple(_element(e) for e in (payload.elements or [])[:_MAX_ELEMENTS])
    return Attachment(
        type="template",
        url=url,
        title=title if title is not None else payload.text,
        template_type=payload.template_type,
        text=payload.text,
        elements=elements,
        buttons=_buttons(payload.buttons),
    )


def _element(element: wh.Element) -> TemplateElement:
    action = element.default_action.url if element.default_action else None
    price = element.price
    return TemplateElement(
        title=element.title,
        subtitle=element.subtitle,
        image_url=element.image_url,
        url=action or element.url,
        media_type=element.media_type,
        product_id=_id(element.id) or _id(element.retailer_id),
        price=None if price is None or isinstance(price, str) and not price else str(price),
        buttons=_buttons(element.buttons),
    )


def _buttons(buttons: list[wh.Button] | None) -> tuple[TemplateButton, ...]:
    return tuple(TemplateButton(type=b.type, title=b.title, url=b.url, payload=b.payload)
                 for b in (buttons or [])[:_MAX_BUTTONS])


def _attachment_word(raw: msgspec.Raw) -> str | None:
    try:
        return wh.ATTACHMENT_TYPE_DECODER.decode(raw).type
    except _UNREADABLE:
        return None


def _drop_sticker_images(attachments: list[Attachment]) -> tuple[Attachment, ...]:
    """Show a sticker once (§2).

    Until 2026-08-30 Meta sends a sticker twice: as an `image` (the legacy form, with
    `payload.sticker_id`) and as a `sticker`. The image of a sticker that also came as a
    `sticker` (same sticker_id or url) is dropped; a legacy sticker image that came alone
    becomes a `sticker`.
    """
    stickers = [a for a in attachments if a.type == "sticker"]
    ids = {a.sticker_id for a in stickers if a.sticker_id}
    urls = {a.url for a in stickers if a.url}
    kept: list[Attachment] = []
    for att in attachments:
        if att.type == "image" and (att.sticker_id in ids or att.url in urls):
            continue
        if att.type == "image" and att.sticker_id:
            att = msgspec.structs.replace(att, type="sticker")
        kept.append(att)
    return tuple(kept)


# --- §4: changes ------------------------------------------------------------------------------


def _change(raw: msgspec.Raw, scope: _Scope) -> Event | Ignored:
    """One `changes[]` item: Page feed comments and Instagram comments; other fields ignored."""
    try:
        change = wh.CHANGE_DECODER.decode(raw)
    except _UNREADABLE as exc:
        return scope.ignored(f"change not readable: {_short(exc)}", None)
    mapper = _CHANGE_MAPPERS.get((scope.object, change.field))
    if mapper is None:
        return scope.ignored(f"unhandled field {_show(change.field)}", change.field)
    if not change.value:
        return scope.ignored("change without value", change.field)
    try:
        result = mapper(change.value, scope)
    except _UNREADABLE as exc:
        return scope.ignored(f"{change.field} value not readable: {_short(exc)}", change.field)
    return scope.ignored(result, change.field) if isinstance(result, str) else result


_COMMENT_VERBS = frozenset({"add", "edited", "remove", "hide", "unhide"})


def _feed(raw: msgspec.Raw, scope: _Scope) -> Event | str:
    """A Page `feed` change (§4). Only `item: "comment"` with a known verb is handled; other
    items (status, photo, reaction, share, ...) and verbs (block, mute, ...) are ignored."""
    head = wh.FEED_HEAD_DECODER.decode(raw)
    if isinstance(head.item, str) and head.item in _POST_ITEMS and head.verb == "add":
        return _feed_post(raw, scope, head.item)
    if head.item != "comment":
        return f"feed item {_show(head.item)} not handled"
    if not isinstance(head.verb, str) or head.verb not in _COMMENT_VERBS:
        return f"comment verb {_show(head.verb)} not handled"
    value = wh.FEED_COMMENT_DECODER.decode(raw)
    comment_id, post_id = _id(value.comment_id), _id(value.post_id)
    if comment_id is None or post_id is None:
        return "comment without comment_id or post_id"
    return _feed_comment(value, scope, comment_id, post_id)


# Items of a new Page post (§4 lists status, photo, ...; "post", "share" and "video" seen in
# integrations' captures: unconfirmed as a complete list).
_POST_ITEMS = frozenset({"status", "photo", "video", "post", "share"})


def _feed_post(raw: msgspec.Raw, scope: _Scope, item: str) -> Event | str:
    """A post the page itself published (issue 22: "the next post" campaigns bind to it). Posts
    by visitors, and posts flagged `published: 0` (scheduled/unpublished, unconfirmed) are ignored."""
    value = wh.FEED_POST_DECODER.decode(raw)
    post_id, author = _id(value.post_id), _id((value.from_ or wh.Author()).id)
    if post_id is None:
        return "post without post_id"
    if author is not None and author != scope.account_id:
        return "post by a visitor, not by the page"
    if value.published in (0, False):
        return "unpublished post"
    created = _time(value.created_time, scope.now, seconds_expected=True)[0]
    return PostPublished(platform=scope.platform, account_id=scope.account_id,
                         timestamp=_first(created, scope.time, scope.now), post_id=post_id, item=item,
                         text=value.message)


def _feed_comment(value: wh.FeedComment, scope: _Scope, comment_id: str, post_id: str) -> Event | str:
    created = _time(value.created_time, scope.now, seconds_expected=True)[0]
    # An add happens at its created_time. For the other verbs created_time (when present) is the
    # comment's creation, not the change: entry.time orders them and tells a second hide apart.
    timestamp = _first(created, scope.time) if value.verb == "add" else _first(scope.time, created)
    notes: tuple[str, ...] = ()
    if timestamp is None:
        timestamp, notes = scope.now, ("comment without a usable time: the time it was received used",)
    author = value.from_ or wh.Author()
    from_id = _id(author.id) or _id(value.sender_id)
    parent_id = _id(value.parent_id)
    base = {
        "platform": scope.platform,
        "account_id": scope.account_id,
        "timestamp": timestamp,
        "comment_id": comment_id,
        "post_id": post_id,
        "from_id": from_id,
        "from_name": author.name if author.name is not None else value.sender_name,
        "parent_id": None if parent_id == post_id else parent_id,
        "by_account": from_id == scope.account_id,
        "notes": notes,
    }
    if value.verb in ("hide", "unhide"):
        return CommentVisibility(**base, hidden=value.verb == "hide")
    if value.verb == "remove":
        return CommentRemoved(**base)
    attachments = _comment_media(value)
    if value.verb == "edited":
        return CommentEdited(**base, text=value.message, attachments=attachments)
    return CommentAdded(
        **base,
        text=value.message,
        attachments=attachments,
        created_time=created,
        post_permalink=value.post.permalink_url if value.post else None,
    )


def _comment_media(value: wh.FeedComment) -> tuple[Attachment, ...]:
    """A feed comment's `photo`/`video` (urls) as attachments; Meta's `photo` is our `image`."""
    media = (("image", value.photo), ("video", value.video))
    return tuple(Attachment(type=kind, url=url) for kind, url in media if url)


def _instagram_comment(raw: msgspec.Raw, scope: _Scope) -> Event | str:
    """An Instagram `comments`/`live_comments` change (§4). Instagram sends no verb: every
    delivery is a new comment (a comment on an ad may come twice; its event_key dedupes it).
    It carries no creation time either, so `created_time` stays None."""
    value = wh.IG_COMMENT_DECODER.decode(raw)
    comment_id = _id(value.id)
    post_id = _id(value.media.id) if value.media else None
    if comment_id is None or post_id is None:
        return "comment without id or media.id"
    notes = () if scope.time is not None else ("entry time missing: the time it was received used",)
    author = value.from_ or wh.Author()
    from_id = _id(author.id)
    return CommentAdded(
        platform=scope.platform,
        account_id=scope.account_id,
        timestamp=scope.time if scope.time is not None else scope.now,
        notes=notes,
        comment_id=comment_id,
        post_id=post_id,
        from_id=from_id,
        from_username=author.username,
        parent_id=_id(value.parent_id),
        by_account=from_id == scope.account_id,
        text=value.text,
        media_product_type=value.media.media_product_type if value.media else None,
    )


_CHANGE_MAPPERS: dict[tuple[str, str | None], Callable[[msgspec.Raw, _Scope], Event | str]] = {
    ("page", "feed"): _feed,
    ("instagram", "comments"): _instagram_comment,
    ("instagram", "live_comments"): _instagram_comment,
}


# --- values -----------------------------------------------------------------------------------


def _id(value: wh.Id | None) -> str | None:
    """An id as a string; legacy numeric ids are turned into strings, empty ones into None."""
    if isinstance(value, int):
        return str(value)
    return value or None


def _whole(value: wh.Number | None) -> int | None:
    """A whole number that fits a signed 64-bit column, or None."""
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if value is None or not 0 <= value < _INT64:
        return None
    return value


def _ms(value: wh.Number | None) -> int | None:
    """A time in milliseconds since the epoch, from Meta's seconds or milliseconds."""
    whole = _whole(value)
    if whole is None:
        return None
    return whole * 1000 if whole < _SECONDS_BELOW else whole


def _finite(value: float | None) -> float | None:
    """A coordinate, or None for NaN/infinity (strict=False accepts "nan"; JSON cannot hold it)."""
    return value if value is not None and math.isfinite(value) else None


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _show(value: object) -> str:
    """A value quoted for a reason string, cut short: reasons are stored, bodies can be huge."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
