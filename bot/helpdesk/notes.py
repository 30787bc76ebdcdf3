"""Private notes on a conversation: for staff only, never sent to Meta.

A note lives in its own table (`Note`), apart from `Message`: the outbox and the sender only ever
read messages, so no send path can pick a note up. `@someone` in a note notifies that staff
member (the bell), matched by the local part of their e-mail (`@sam` for sam@shop.example) or by
their name without spaces (`@SamLee`) or first name when only one active member has it (`@Sam`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import msgspec
from peewee import JOIN

from bot.core.errors import Invalid, NotFound, Refused
from bot.outbound import outhooks
from bot.platform.db import now_ms, storable_text, transaction
from bot.platform.models import Conversation, Note, Notification, User

MAX_NOTE_CHARS = 5000
MAX_MENTIONS = 20  # a note naming the whole team notifies at most this many
MENTION = re.compile(r"(?<![\w@.])@([\w][\w.+-]{0,63})")


class NoteView(msgspec.Struct):
    """A note as staff see it, in the conversation's timeline."""

    id: int
    conversation_id: int
    author_id: int | None
    author: str
    text: str
    mentions: list[int]
    created_at: int


@dataclass
class Added:
    """The new note, and the outgoing webhook deliveries to enqueue once committed."""

    note: NoteView
    hook_deliveries: list[int] = field(default_factory=list)


def add(user_id: int, conversation_id: int, text: str) -> Added:
    """Record a note and notify the staff members it mentions (never its author)."""
    body = _checked(text)
    if Conversation.get_or_none(Conversation.id == conversation_id) is None:
        raise NotFound("conversation", conversation_id)
    author = User.get_by_id(user_id)
    mentioned = [u for u in mentioned_users(body) if u.id != user_id]
    with transaction():
        note = Note.create(conversation=conversation_id, author=user_id, text=body,
                           mentions=[u.id for u in mentioned], created_at=now_ms())
        _notify(note, author, mentioned)
        hooks = outhooks.note_created(note)
    return Added(view_of(note), hooks)


def _checked(text: str) -> str:
    body = storable_text((text or "").strip())
    if not body:
        raise Invalid("text", "a note needs some text")
    if len(body) > MAX_NOTE_CHARS:
        raise Invalid("text", f"at most {MAX_NOTE_CHARS} characters")
    return body


def mentioned_users(text: str) -> list[User]:
    """The active staff members `text` mentions, each once, in order of first mention."""
    handles = [h.rstrip(".").lower() for h in MENTION.findall(text)]
    if not handles:
        return []
    staff = list(User.select().where(User.is_active).order_by(User.id))
    found: dict[int, User] = {}
    for handle in handles:
        user = _match(handle, staff)
        if user is not None:
            found.setdefault(user.id, user)
    return list(found.values())[:MAX_MENTIONS]


def _match(handle: str, staff: list[User]) -> User | None:
    """E-mail local part first (unique by construction in practice), then the full name without
    spaces, then a first name only one person has (an ambiguous `@Sam` notifies nobody)."""
    for user in staff:
        if user.email.split("@", 1)[0].lower() == handle:
            return user
    for user in staff:
        if user.name and user.name.replace(" ", "").lower() == handle:
            return user
    firsts = [u for u in staff if u.name and u.name.split()[0].lower() == handle]
    return firsts[0] if len(firsts) == 1 else None


def _notify(note: Note, author: User, mentioned: list[User]) -> None:
    who = author.name or author.email
    text = f"{who} mentioned you in a note: {note.text[:140]}"
    rows = [{"user": u.id, "kind": "mention", "text": text, "conversation": note.conversation_id,
             "created_at": note.created_at} for u in mentioned]
    if rows:
        Notification.insert_many(rows).execute()


def delete(user_id: int, note_id: int, conversation_id: int | None = None) -> None:
    """Staff delete their own notes only (a note is part of the record others rely on)."""
    note = Note.get_or_none(Note.id == note_id)
    if note is None or conversation_id not in (None, note.conversation_id):
        raise NotFound("note", note_id)
    if note.author_id != user_id:
        raise Refused("Only the author of a note can delete it.")
    Note.delete().where(Note.id == note_id).execute()


def of_conversation(conversation_id: int, limit: int = 200) -> list[NoteView]:
    """The latest notes of a conversation, oldest first (the timeline's order)."""
    rows = list(Note.select(Note, User).join(User, on=Note.author == User.id, join_type=JOIN.LEFT_OUTER)
                .where(Note.conversation == conversation_id)
                .order_by(Note.created_at.desc(), Note.id.desc()).limit(limit))
    return [view_of(n) for n in reversed(rows)]


def view_of(note: Note) -> NoteView:
    author = note.author if note.author_id else None
    return NoteView(id=note.id, conversation_id=note.conversation_id, author_id=note.author_id,
                    author=(author.name or author.email) if author else "A former staff member",
                    text=note.text, mentions=list(note.mentions or []), created_at=note.created_at)
