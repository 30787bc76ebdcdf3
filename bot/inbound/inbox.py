"""Applying one event to the inbox: contacts, conversations, messages, statuses.

Every function here is idempotent: an event applied twice changes nothing the second time
(unique `mid` / `comment_id`, watermarks only move forward). It runs inside the caller's
transaction, under the conversation's lock, so the events of one conversation are applied one at
a time in Meta's order. No network calls: profile fetches and sends are returned as follow-ups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from peewee import fn

from bot.core import events as ev
from bot.inbound import pauses
from bot.inbound.contacts import SOURCE_TAGS, identity_for, profile_due, tag_contact
from bot.platform import cache, statements
from bot.platform.db import LOCK_KEY_SQL, db, is_sqlite, now_ms, prepared, storable_text
from bot.platform.models import Channel, Comment, Conversation, Identity, InboundEvent, Message, Snooze
from bot.platform.registry import channel_for

OUT_SENT_STATES = ("sent", "delivered")


@dataclass
class Applied:
    """What applying an event did, for the router (notifications, bot, campaigns)."""

    event: ev.Event
    channel: Channel
    duplicate: bool = False
    conversation: Conversation | None = None
    message: Message | None = None
    identity: Identity | None = None
    customer_message: bool = False  # a new message from the customer (opens the 24 h window)
    fetch_profile: bool = False
    released: list[int] = field(default_factory=list)  # held outgoing messages now sendable
    note: str | None = None
    source: str = "webhook"  # webhook | backfill


def take_next(key: str, *, lock: bool = False) -> tuple[InboundEvent | None, bool]:
    """Inside the caller's transaction, the conversation's next pending event in Meta's order,
    marked applied (a rollback gives it back: it stays pending), and whether others wait behind
    it; (None, False) when none is pending. One statement, so applying an event costs no read
    before its transaction and no claim at its end: the row is claimed first, and a second
    worker that reaches it too waits for this transaction, then finds nothing.
    The same statement reads the configuration version, so this job's copies of channels and
    campaigns are as fresh as this read (`bot.platform.cache`).

    With `lock` (a transaction's first take), PostgreSQL first holds the conversation's key
    (`db.lock_key`) in the same round trip, a statement of its own: the take's snapshot is then
    taken after the previous holder committed, so it sees every event committed before it (one
    statement waiting on the row would look with the snapshot it began with, find the event
    applied, and leave the events behind it to nobody). On SQLite the write transaction (BEGIN
    IMMEDIATE) already excludes every other."""
    text = _TAKE_NEXT.format(param=db.obj.param)
    params: tuple = (now_ms(), key)
    if not is_sqlite():
        text = prepared("socialdesk_take_next", text)
        if lock:
            text, params = f"{LOCK_KEY_SQL}; {text}", (key, *params)
    cursor = db.execute_sql(text, params)
    found = cursor.fetchone()
    if found is None:
        return None, False
    row = statements.model_row(InboundEvent, cursor.description, found)
    cache.observe(row.config_version)
    return row, bool(row.more)


_COLUMNS = ", ".join(f'"inbound_event"."{field.column_name}"' for field in InboundEvent._meta.sorted_fields)
# The statuses as literals: PostgreSQL's partial index of pending events (migration 0031) serves
# a prepared statement's generic plan only when the statement itself says 'pending'. The row
# itself is found by its id, and its status re-checked (another worker may have taken it while
# this one waited) in a form no partial index's predicate matches (`|| ''`): a generic plan
# made while the table was empty otherwise found the row through the pending index, reading
# every pending event per take (migration 0031 has the story).
_TAKE_NEXT = (  # {param}: the backend's placeholder
    'UPDATE "inbound_event" SET "status" = \'applied\', "applied_at" = {param} WHERE "id" = ('
    'SELECT "id" FROM "inbound_event" WHERE "conversation_key" = {param} AND "status" = \'pending\' '
    'ORDER BY "occurred_at", "id" LIMIT 1) AND "status" || \'\' = \'pending\' '
    f'RETURNING {_COLUMNS}, {cache.VERSION_SQL.sql} AS "config_version", EXISTS (SELECT 1 FROM "inbound_event" '
    'AS "behind" WHERE "behind"."conversation_key" = "inbound_event"."conversation_key" AND '
    '"behind"."status" = \'pending\' AND "behind"."id" <> "inbound_event"."id") AS "more"')


def mark_applied(event_id: int) -> bool:
    """Claim the event as applied (what applying notes comes after: `note_applied`); False when
    another worker did."""
    return bool(statements.update(InboundEvent, {"status": "applied", "applied_at": now_ms()},
                                  {"id": event_id, "status": "pending"}))


def note_applied(event_id: int, note: str) -> None:
    """What applying a claimed event noted (a repaired payload, a duplicate, ...), as its reason."""
    statements.update(InboundEvent, {"reason": note}, {"id": event_id})


def apply(event: ev.Event, source: str = "webhook") -> Applied:
    """Apply an event; the caller holds the conversation lock and a transaction."""
    channel = channel_for(event.platform, event.account_id)
    if channel is None:
        raise LookupError(f"no channel for {event.platform}:{event.account_id}")
    applied = _HANDLERS[type(event)](event, channel)
    applied.source = source
    if source != "webhook" and isinstance(event, ev.CommentAdded) and not applied.duplicate:
        Comment.update(source=source).where(Comment.comment_id == event.comment_id).execute()
    return applied


# --- direct messages ------------------------------------------------------------------------------


def _dm_conversation(event: ev._DirectEvent, channel: Channel) -> tuple[Conversation, Identity, bool]:
    source_tag = SOURCE_TAGS[(channel.platform, "dm")]
    identity, created = identity_for(channel, event.user_id, source_tag=source_tag)  # a new contact is tagged
    conversation = dm_conversation(channel, identity)
    if not created and conversation.last_customer_message_at is None:
        # The person's first DM: tagged even when their comment made the contact first (a comment
        # and a DM of one person are drained under different locks, in either order).
        tag_contact(identity.contact_id, source_tag)
    return conversation, identity, created


def dm_conversation(channel: Channel, identity: Identity) -> Conversation:
    """The DM thread with a person on a channel, created on first use (also by private replies)."""
    return open_dm_thread(channel, identity)[0]


def open_dm_thread(channel: Channel, identity: Identity, *, first: dict | None = None,
                   **clocks: object) -> tuple[Conversation, bool, int | None]:
    """The DM thread, whether this call inserted it, and the id of `first` when it went in with it.
    A new thread is inserted with `clocks` (`last_message_at`, `preview` of the outgoing message
    that opens it: no UPDATE after). `first`: the fields of the message that opens it (but its
    conversation); on PostgreSQL a new thread and that message are inserted in one statement.
    The id is None when the message was not inserted here (the thread was there already, SQLite,
    or a key of the message was taken): the caller inserts it as it would have."""
    key = pauses.thread_key(channel, identity.scoped_id)
    # Looked up once per unit (`pauses.dm_thread`; a new identity's is remembered absent). A
    # customer's message nearly always finds its thread: one read, where an INSERT ... ON CONFLICT
    # first would cost two statements. A private reply's first message goes in with a new thread
    # in one statement (`_insert_conversation`), so it tries that first.
    known = cache.memo("thread", key, lambda: _stored_thread(key) if first is None else None)
    if known is not None:
        return known, False, None
    kind = "messenger" if channel.platform == "facebook" else "instagram"
    fields = dict(thread_key=key, kind=kind, channel=channel.id, contact=identity.contact_id, identity=identity.id,
                  created_at=now_ms(), **clocks)
    conversation, new, first_id = _insert_conversation(fields, first)
    cache.remember("thread", key, conversation)
    return conversation, new, first_id


def _stored_thread(key: str) -> Conversation | None:
    return statements.select_one(Conversation, {"thread_key": key})


def _insert_conversation(fields: dict, first: dict | None = None) -> tuple[Conversation, bool, int | None]:
    """The conversation with this thread key, whether it is new (the new row as inserted, not read
    back; or the one already stored), and the id of its first message `first` when that went in
    with a new conversation (PostgreSQL: one statement; None otherwise, for the caller to insert)."""
    if first is None or is_sqlite():
        row_id, first_id = statements.insert_new(Conversation, fields), None
    else:
        row_id, first_id = statements.insert_new_pair(Conversation, fields, Message, first, "conversation")
    if row_id:
        return Conversation(id=row_id, **fields), True, first_id
    return statements.select_one(Conversation, {"thread_key": fields["thread_key"]}), False, None


def _message_received(event: ev.MessageReceived, channel: Channel) -> Applied:
    conversation, identity, created = _dm_conversation(event, channel)
    inserted, held = _insert_from_customer(
        conversation, event.timestamp, _received_preview(event), mid=event.mid, text=event.text,
        attachments=[_attachment(a) for a in event.attachments] or None, payload=event.quick_reply_payload,
        reply_to_mid=event.reply_to_mid, reply_to_story=_story(event), unsupported=event.is_unsupported,
        notes=list(event.notes) or None)
    if inserted is None:
        return Applied(event, channel, duplicate=True, conversation=conversation, identity=identity)
    released = _release_held(channel, identity) if held else []
    return Applied(event, channel, conversation=conversation, message=inserted, identity=identity,
                   customer_message=True, fetch_profile=created or profile_due(identity), released=released,
                   note=_notes(event))


def _story(event: ev.MessageReceived) -> dict | None:
    """The Instagram story the message answers (its CDN url expires; the id stays)."""
    if event.reply_to_story_url is None and event.reply_to_story_id is None:
        return None
    return {k: v for k, v in (("id", event.reply_to_story_id), ("url", event.reply_to_story_url)) if v}


def _received_preview(event: ev.MessageReceived) -> str:
    if event.is_unsupported and not event.text and not event.attachments:
        return "[message shown only in Meta's inbox]"
    preview = _preview(event.text, event.attachments)
    return preview if preview or _story(event) is None else "[reply to a story]"


def _notes(event: ev.Event) -> str | None:
    """What parsing repaired, as the stored event's reason."""
    return "; ".join(event.notes) or None


def _postback(event: ev.Postback, channel: Channel) -> Applied:
    conversation, identity, created = _dm_conversation(event, channel)
    inserted, held = _insert_from_customer(conversation, event.timestamp, f"[button] {event.title or event.payload}",
                                           mid=event.mid, text=event.title, payload=event.payload, kind="postback",
                                           notes=list(event.notes) or None)
    if inserted is None:
        return Applied(event, channel, duplicate=True, conversation=conversation, identity=identity)
    released = _release_held(channel, identity) if held else []
    return Applied(event, channel, conversation=conversation, message=inserted, identity=identity,
                   customer_message=True, fetch_profile=created or profile_due(identity), released=released,
                   note=_notes(event))


def _referred(event: ev.Referred, channel: Channel) -> Applied:
    conversation, identity, created = _dm_conversation(event, channel)
    ref = event.referral
    inserted, held = _insert_from_customer(conversation, event.timestamp, None,
                                           text=f"Opened from {ref.source or 'a link'}", payload=ref.ref,
                                           kind="referral", notes=list(event.notes) or None)
    released = _release_held(channel, identity) if held else []
    return Applied(event, channel, conversation=conversation, message=inserted, identity=identity,
                   fetch_profile=created, released=released)


def _echo(event: ev.MessageEcho, channel: Channel) -> Applied:
    """Our own messages come back as echoes: match them (by mid, or by the idempotency key we
    put in `metadata`) so they are not stored twice; anything else was written by a person in
    another tool (Meta Business Suite, ManyChat...) and is stored as a full outgoing message to
    the customer (`recipient_id`, so delivery and read receipts reach it), never as a customer
    message. The note "written outside socialdesk" is what hands the conversation over."""
    ours = Message.get_or_none(Message.mid == event.mid)
    if ours is None and event.metadata:
        ours = Message.get_or_none(Message.idempotency_key == event.metadata)
    if ours is not None:
        if ours.status in ("sending", "pending") or ours.mid is None:
            # The crash window: Meta accepted the send but we had not recorded it yet.
            # The echo settles an ambiguous send (`bot.outbound.sendcheck`): it arrived.
            Message.update(mid=event.mid, status="sent", sent_at=ours.sent_at or event.timestamp, error_kind=None,
                           status_reason=None).where(Message.id == ours.id).execute()
        return Applied(event, channel, duplicate=True, note="echo of a message sent by socialdesk")
    identity, _ = identity_for(channel, event.user_id)
    conversation = dm_conversation(channel, identity)
    inserted, _ = _insert_bumped(conversation, event.timestamp, _preview(event.text, event.attachments),
                                 customer=False, direction="out", author="page", mid=event.mid, text=event.text,
                                 attachments=[_attachment(a) for a in event.attachments] or None, status="sent",
                                 sent_at=event.timestamp, recipient_id=event.user_id, notes=list(event.notes) or None)
    if inserted is None:
        return Applied(event, channel, duplicate=True)
    return Applied(event, channel, conversation=conversation, message=inserted, identity=identity,
                   note="written outside socialdesk")


def _deleted(event: ev.MessageDeleted, channel: Channel) -> Applied:
    updated = Message.update(deleted_at=event.timestamp).where(
        (Message.mid == event.mid) & Message.deleted_at.is_null()).execute()
    return Applied(event, channel, duplicate=not updated, note=None if updated else "unknown or already deleted")


def _edited(event: ev.MessageEdited, channel: Channel) -> Applied:
    updated = Message.update(text=storable_text(event.text or ""), edited_at=event.timestamp).where(
        (Message.mid == event.mid) & ((Message.edited_at.is_null()) | (Message.edited_at <= event.timestamp))
    ).execute()
    return Applied(event, channel, duplicate=not updated, note=_notes(event))


def _reaction(event: ev.ReactionChanged, channel: Channel) -> Applied:
    message = Message.get_or_none(Message.mid == event.mid)
    if message is None:
        return Applied(event, channel, duplicate=True, note="reaction to an unknown message")
    reactions = dict(message.reactions or {})
    if event.action == "unreact":
        reactions.pop(event.user_id, None)
    else:
        reactions[event.user_id] = event.emoji or event.reaction or "other"
    Message.update(reactions=reactions or None).where(Message.id == message.id).execute()
    return Applied(event, channel, message=message, note=_notes(event))


def _read(event: ev.MessagesRead, channel: Channel) -> Applied:
    """Everything we sent to this person up to the watermark (or up to the message `mid`,
    Instagram's `seen`) is read. Watermarks only move statuses forward. A receipt without
    sender (Instagram) is the named message's recipient's."""
    watermark, user_id = event.watermark, event.user_id
    if event.mid and (watermark is None or not user_id):
        seen = _ours_named(channel, event.mid)
        if seen is None:
            return Applied(event, channel, note="read receipt for an unknown message")
        watermark = seen.sent_at if watermark is None else watermark
        user_id = user_id or seen.recipient_id or ""
    if watermark is None or not user_id:
        return Applied(event, channel, note="read receipt for an unknown message")
    (Message.update(status="read", read_at=event.timestamp,
                    delivered_at=fn.COALESCE(Message.delivered_at, event.timestamp))
     .where(_ours_to(channel, user_id) & Message.status.in_(OUT_SENT_STATES)
            & (Message.sent_at <= watermark)).execute())
    return Applied(event, channel, note=_notes(event))


def _delivered(event: ev.MessagesDelivered, channel: Channel) -> Applied:
    """The named messages (whoever they went to) and everything sent to this person before the
    watermark are delivered."""
    named = Message.mid.in_(list(event.mids)) if event.mids else None
    if event.user_id and event.watermark:
        sent_before = Message.sent_at <= event.watermark
        mine = _ours_to(channel, event.user_id) & (sent_before | named if named is not None else sent_before)
        Message.update(status="delivered", delivered_at=event.timestamp).where(
            mine & (Message.status == "sent")).execute()
    if named is not None:
        Message.update(status="delivered", delivered_at=event.timestamp).where(
            _ours(channel) & named & (Message.status == "sent")).execute()
    return Applied(event, channel, note=_notes(event))


def _ours_named(channel: Channel, mid: str) -> Message | None:
    return Message.get_or_none(_ours(channel) & (Message.mid == mid))


def _ours(channel: Channel):  # noqa: ANN202 - a peewee expression
    """Messages the account sent into Messenger/Instagram threads (private replies and echoes of
    other tools included; public comment replies are not in a thread, so receipts never apply)."""
    return ((Message.channel == channel) & (Message.direction == "out")
            & (Message.kind != "comment")
            & (Message.send_kind.is_null() | (Message.send_kind != "comment_reply")))


def _ours_to(channel: Channel, user_id: str):  # noqa: ANN202 - a peewee expression
    """Messages we sent into this person's Messenger/Instagram thread."""
    return _ours(channel) & (Message.recipient_id == user_id)


# --- comments -------------------------------------------------------------------------------------


def _comment_added(event: ev.CommentAdded, channel: Channel) -> Applied:
    created_at = event.created_time or event.timestamp
    fields = dict(
        comment_id=event.comment_id, channel=channel.id, post_id=event.post_id, parent_id=event.parent_id,
        from_id=event.from_id, from_name=event.from_name, from_username=event.from_username,
        text=storable_text(event.text) if event.text else None,
        by_account=event.by_account, created_at=created_at, post_permalink=event.post_permalink,
    )
    inserted, replied = _insert_comment(fields)
    if not inserted:
        return Applied(event, channel, duplicate=True, note="comment already stored")
    cache.remember("comment", event.comment_id, Comment(id=inserted, **fields))  # for the campaign and outbox
    if event.by_account:
        return _page_comment(event, channel)
    if not channel.receive_comments or not event.from_id:
        note = "comments are not shown for this channel" if event.from_id else "commenter hidden by Meta"
        return Applied(event, channel, note=note)
    source_tag = SOURCE_TAGS[(channel.platform, "comment")]
    identity, created = identity_for(channel, event.from_id, name=event.from_name, username=event.from_username,
                                     source_tag=source_tag)
    if not created:  # a new contact was tagged with the statement that created it
        tag_contact(identity.contact_id, source_tag)
    said = dict(comment_id=event.comment_id, text=event.text, kind="comment", parent_comment_id=event.parent_id,
                attachments=[_attachment(a) for a in event.attachments] or None, notes=list(event.notes) or None)
    first = _message_fields(channel.id, created_at, direction="in", author="customer", status="received", **said)
    conversation, new, first_id = _comment_conversation(event, channel, identity, created_at, first)
    if first_id is not None:  # inserted with its new conversation
        message: Message | None = Message(id=first_id, conversation=conversation.id, **first)
    elif new:  # a new conversation was inserted with these clocks already
        message = _insert_inbound(conversation, created_at, **said)
    else:
        message, _ = _insert_from_customer(conversation, created_at, event.text or "[comment]", window=False,
                                           held=False, **said)
    if replied:
        _attach_page_replies(conversation, event.comment_id)
    return Applied(event, channel, conversation=conversation, message=message, identity=identity,
                   customer_message=True)  # no profile fetch: a commenter who never messaged has no
    # profile access (meta-platform.md §9; the name comes with the comment); their first DM fetches it


def _insert_comment(fields: dict) -> tuple[int | None, bool]:
    """Store the comment: its id (None when already stored) and whether page replies to it were
    stored before it (`_attach_page_replies`). On PostgreSQL the INSERT answers both (RETURNING
    reads the replies as they were when it started: the new row is not one of them)."""
    if is_sqlite():
        inserted = statements.insert_new(Comment, fields)
        return inserted, inserted is not None
    row = statements.insert_returning(Comment, fields, _ID_AND_REPLIED, ignore_conflict=True)
    return (row[0], bool(row[1])) if row else (None, False)


# The new comment's id and whether the page's replies to it are stored already (the subquery sees
# the table as it was before this INSERT, so never the new row).
_ID_AND_REPLIED = ('"id"', 'EXISTS (SELECT 1 FROM "comment" AS "page_reply" WHERE "page_reply"."parent_id" = '
                   '"comment"."comment_id" AND "page_reply"."by_account")')


def _comment_conversation(event: ev.CommentAdded, channel: Channel, identity: Identity, at: int,
                          first: dict) -> tuple[Conversation, bool, int | None]:
    """The comment's conversation, whether it is new, and the id of the comment's message when it
    went in with a new conversation (PostgreSQL: one statement; `first` holds its fields). A new
    one is inserted as `_clock_updates` would leave it after this comment (no UPDATE after)."""
    kind = "facebook_comments" if channel.platform == "facebook" else "instagram_comments"
    fields = dict(thread_key=event.inbox_key, kind=kind, channel=channel.id, contact=identity.contact_id,
                  identity=identity.id, post_id=event.post_id, post_permalink=event.post_permalink, created_at=now_ms(),
                  last_message_at=at, preview=storable_text((event.text or "[comment]")[:200]), unread_count=1,
                  status="open")
    conversation, new, first_id = _insert_conversation(fields, first)
    if not new and event.post_permalink and not conversation.post_permalink:
        Conversation.update(post_permalink=event.post_permalink).where(Conversation.id == conversation.id).execute()
    return conversation, new, first_id


def _page_comment(event: ev.CommentAdded, channel: Channel) -> Applied:
    """The page's own comment (from socialdesk or another tool): shown under the customer's
    comment it answers, never a trigger."""
    existing = Message.get_or_none(Message.comment_id == event.comment_id)
    if existing is not None:  # our own public reply, already recorded when sent
        return Applied(event, channel, duplicate=True, note="page's own comment")
    parent = Message.get_or_none(Message.comment_id == event.parent_id) if event.parent_id else None
    if parent is None or parent.conversation_id is None:
        # The customer's comment may still be on its way (another conversation key): it picks this
        # reply up when it arrives (`_attach_page_replies`).
        return Applied(event, channel, note="page's own comment")
    comment = Comment.get(Comment.comment_id == event.comment_id)
    message = _page_reply_message(parent.conversation, comment)
    return Applied(event, channel, conversation=parent.conversation, message=message, note="page's own comment")


def _page_reply_message(conversation: Conversation, comment: Comment) -> Message | None:
    return _insert(conversation, comment.created_at, direction="out", author="page", comment_id=comment.comment_id,
                   text=comment.text, kind="comment", parent_comment_id=comment.parent_id, status="sent",
                   by_account=True, sent_at=comment.created_at)


def _attach_page_replies(conversation: Conversation, comment_id: str) -> None:
    """Page replies to this comment that arrived before it join its conversation now."""
    for reply in Comment.select().where((Comment.parent_id == comment_id) & Comment.by_account):
        _page_reply_message(conversation, reply)


class NotYetKnown(LookupError):
    """The event changes a comment not stored yet (it may still be on its way under another
    ordering key): apply it again a little later."""


def _known_comment(comment_id: str) -> None:
    if not Comment.select().where(Comment.comment_id == comment_id).exists():
        raise NotYetKnown(comment_id)


def _comment_edited(event: ev.CommentEdited, channel: Channel) -> Applied:
    _known_comment(event.comment_id)
    now = event.timestamp
    text = storable_text(event.text) if event.text else None
    updated = Comment.update(text=text, edited_at=now).where(Comment.comment_id == event.comment_id).execute()
    Message.update(text=text, edited_at=now).where(Message.comment_id == event.comment_id).execute()
    return Applied(event, channel, duplicate=not updated, note="edited comments never trigger automations")


def _comment_removed(event: ev.CommentRemoved, channel: Channel) -> Applied:
    _known_comment(event.comment_id)
    Comment.update(deleted_at=event.timestamp).where(
        (Comment.comment_id == event.comment_id) & Comment.deleted_at.is_null()).execute()
    Message.update(deleted_at=event.timestamp).where(
        (Message.comment_id == event.comment_id) & Message.deleted_at.is_null()).execute()
    return Applied(event, channel)


def _comment_visibility(event: ev.CommentVisibility, channel: Channel) -> Applied:
    _known_comment(event.comment_id)
    Comment.update(hidden=event.hidden).where(Comment.comment_id == event.comment_id).execute()
    Message.update(hidden=event.hidden).where(Message.comment_id == event.comment_id).execute()
    return Applied(event, channel)


# --- shared pieces ----------------------------------------------------------------------------------


def _insert_inbound(conversation: Conversation, at: int, **fields: object) -> Message | None:
    return _insert(conversation, at, direction="in", author="customer", status="received", **fields)


def _insert(conversation: Conversation, at: int, **fields: object) -> Message | None:
    """Insert a message unless its Meta id is already stored; None means duplicate."""
    fields = _message_fields(conversation.channel_id, at, conversation=conversation.id, **fields)
    row_id = statements.insert_new(Message, fields)
    if not row_id:
        return None
    return Message(id=row_id, **fields)  # the row as inserted, without reading it back


def _message_fields(channel_id: int, at: int, **fields: object) -> dict:
    """A message row's fields as stored (text made storable, clocks set)."""
    if isinstance(fields.get("text"), str):
        fields["text"] = storable_text(fields["text"])
    return {**fields, "channel": channel_id, "occurred_at": at, "created_at": now_ms()}


def _insert_from_customer(conversation: Conversation, at: int, preview: str | None, *, window: bool = True,
                          held: bool = True, **fields: object) -> tuple[Message | None, bool]:
    """A customer's message (`_insert_bumped`), and with `held` whether parts held back for them
    wait (a DM releases them; a comment does not)."""
    return _insert_bumped(conversation, at, preview, customer=True, window=window, held=held, direction="in",
                          author="customer", status="received", **fields)


def _insert_bumped(conversation: Conversation, at: int, preview: str | None, *, customer: bool,
                   window: bool = True, held: bool = False, **fields: object) -> tuple[Message | None, bool]:
    """Insert a message unless its Meta id is already stored (None: a duplicate) and, when it
    went in, move the conversation's clocks (`_clock_updates`); on PostgreSQL in one statement.
    With `held`, the same statement says whether parts held back for the thread's person wait
    (`_release_held` reads them then: a customer's message nearly always finds none)."""
    fields = _message_fields(conversation.channel_id, at, conversation=conversation.id, **fields)
    updates = _clock_updates(conversation, at, preview, customer=customer, window=window)
    if not updates:  # an old echo: the clocks stay
        row_id = statements.insert_new(Message, fields)
        return (Message(id=row_id, **fields) if row_id else None), False
    found = statements.insert_then_update(Message, fields, Conversation, updates, {"id": conversation.id},
                                          (_HELD_WAIT,) if held else ())
    if found is None:
        return None, False
    if customer and conversation.status == "snoozed":  # the message wakes it (`status` above)
        Snooze.delete().where(Snooze.conversation == conversation.id).execute()
    return Message(id=found[0], **fields), held and bool(found[1])


# Parts held back from a private reply to the DM thread's person (`_release_held`), as SQL over the
# conversation's row: the statement that moves its clocks reads it, so a customer's message costs
# no look-up of its own for them.
_HELD_WAIT = ('EXISTS (SELECT 1 FROM "message" AS "held" WHERE "held"."channel_id" = "conversation"."channel_id" '
              'AND "held"."recipient_id" = (SELECT "scoped_id" FROM "identity" WHERE "identity"."id" = '
              '"conversation"."identity_id") AND "held"."direction" = \'out\' AND "held"."status" = \'held\')')


def _clock_updates(conversation: Conversation, at: int, preview: str | None, *, customer: bool,
                   window: bool = True) -> dict:
    """The conversation's clocks moved forward (never back: events may arrive out of order)."""
    updates: dict = {}
    if conversation.last_message_at is None or at >= conversation.last_message_at:
        updates["last_message_at"] = at
        if preview is not None:
            updates["preview"] = storable_text(preview[:200])
    if customer:
        updates["unread_count"] = Conversation.unread_count + 1
        updates["status"] = "open"  # reopens a closed conversation and wakes a snoozed one
        last = conversation.last_customer_message_at
        if window and (last is None or at > last):
            updates["last_customer_message_at"] = at
    return updates


def _release_held(channel: Channel, identity: Identity) -> list[int]:
    """The person wrote: parts held back from a private reply (media) may go now. While a person
    of the staff has their DM thread (the bot is paused), an automation's held parts are refused
    with that reason instead: automations never talk over a human, and they would arrive out of
    context once the pause ends. Staff's own held parts still go."""
    # Every column of the (channel, recipient, direction, status) index, and no ORDER BY: a
    # planner without statistics (a young table, or a cluster with autovacuum off) otherwise
    # walked the primary key in id order through every message of the channel, per customer
    # message (2.6 ms at 5,600 messages, growing with the table). Held parts are few: sorted here.
    held = sorted(statements.select(Message, {"channel": channel.id, "recipient_id": identity.scoped_id,
                                              "direction": "out", "status": "held"},
                                    columns=("id", "idempotency_key", "author")), key=lambda row: row.id)
    if held and pauses.dm_paused(channel, identity.scoped_id):
        automated = [row.id for row in held if row.author != "staff"]
        if automated:
            Message.update(status="refused", status_reason=pauses.PAUSED_REASON).where(
                Message.id.in_(automated)).execute()
        held = [row for row in held if row.author == "staff"]
    first_of_draft: dict[str, int] = {}
    for row in held:
        first_of_draft.setdefault((row.idempotency_key or "").rpartition(":")[0], row.id)
    ready = list(first_of_draft.values())
    if held:  # the rest follow in order, each after the one before it (`outbox.promote_next`)
        Message.update(status="queued", status_reason=None).where(Message.id.in_([r.id for r in held])).execute()
        Message.update(status="pending", next_attempt_at=now_ms()).where(Message.id.in_(ready)).execute()
    return ready


def _attachment(attachment: ev.Attachment) -> dict:
    return msgspec.to_builtins(attachment)


def _preview(text: str | None, attachments: tuple[ev.Attachment, ...]) -> str:
    if text:
        return text
    if attachments:
        first = attachments[0]
        words = first.title or first.text or next((e.title for e in first.elements if e.title), None)
        return f"[{first.type}] {words}" if words else f"[{first.type}]"
    return ""


def _post_published(event: ev.PostPublished, channel: Channel) -> Applied:
    """Nothing is stored for a new post: campaigns waiting for the next post bind to it."""
    return Applied(event, channel, note="post published")


_HANDLERS = {
    ev.MessageReceived: _message_received,
    ev.MessageEcho: _echo,
    ev.MessageDeleted: _deleted,
    ev.MessageEdited: _edited,
    ev.Postback: _postback,
    ev.Referred: _referred,
    ev.MessagesRead: _read,
    ev.MessagesDelivered: _delivered,
    ev.ReactionChanged: _reaction,
    ev.CommentAdded: _comment_added,
    ev.CommentEdited: _comment_edited,
    ev.CommentRemoved: _comment_removed,
    ev.CommentVisibility: _comment_visibility,
    ev.PostPublished: _post_published,
}
