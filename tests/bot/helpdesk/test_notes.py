"""Private notes: stored apart from messages, @mentions notify the named colleague once (never
the author, never an ambiguous name), only the author deletes, bad input names the field."""

from __future__ import annotations

import pytest

from bot.core.errors import Invalid, NotFound, Refused
from bot.helpdesk import notes
from bot.platform.models import Message, Note, Notification
from tests.bot.helpdesk.factories import conversation, staff


def test_a_note_is_stored_apart_from_messages_and_listed_oldest_first(db) -> None:
    ann = staff("ann@example.com", "Ann Lee")
    talk = conversation()
    first = notes.add(ann, talk, "  Called her back, waiting for the order number.  ").note
    second = notes.add(ann, talk, "She sent it.").note
    assert Message.select().count() == 0  # never a message: nothing the outbox could send
    assert [n.id for n in notes.of_conversation(talk)] == [first.id, second.id]
    assert first.text == "Called her back, waiting for the order number." and first.author == "Ann Lee"


def test_mentions_notify_by_email_local_part_name_or_unique_first_name(db) -> None:
    ann = staff("ann@example.com", "Ann Lee")
    sam = staff("sam.k@example.com", "Sam Kim")
    bo = staff("bo@example.com", "Bo Berg")
    talk = conversation()
    note = notes.add(ann, talk, "@sam.k and @BoBerg, please look. @ann (me) and @nobody too. @Sam again.").note
    assert note.mentions == [sam, bo]  # each once; the author is never notified
    rows = list(Notification.select().order_by(Notification.user))
    assert [(r.user_id, r.kind, r.conversation_id) for r in rows] == [(sam, "mention", talk), (bo, "mention", talk)]
    assert rows[0].text.startswith("Ann Lee mentioned you in a note: @sam.k and @BoBerg")


def test_an_ambiguous_first_name_or_an_email_address_notifies_nobody(db) -> None:
    ann = staff("ann@example.com")
    staff("sam1@example.com", "Sam One")
    staff("sam2@example.com", "Sam Two")
    note = notes.add(ann, conversation(), "@Sam, write to someone@sam1 please").note
    assert note.mentions == [] and Notification.select().count() == 0


def test_an_inactive_colleague_is_not_notified(db) -> None:
    ann = staff("ann@example.com")
    gone = staff("gone@example.com")
    from bot.platform.models import User
    User.update(is_active=False).where(User.id == gone).execute()
    assert notes.add(ann, conversation(), "@gone?").note.mentions == []


def test_only_the_author_deletes_a_note(db) -> None:
    ann, bob = staff("ann@example.com"), staff("bob@example.com")
    talk = conversation()
    note = notes.add(ann, talk, "mine").note
    with pytest.raises(Refused):
        notes.delete(bob, note.id)
    with pytest.raises(NotFound):
        notes.delete(ann, note.id, conversation_id=talk + 1)  # not a note of that conversation
    notes.delete(ann, note.id, conversation_id=talk)
    assert Note.select().count() == 0


@pytest.mark.parametrize(("text", "problem"), [("   ", "some text"), ("x" * 5001, "at most 5000")])
def test_bad_notes_name_the_field(db, text: str, problem: str) -> None:
    ann = staff("ann@example.com")
    with pytest.raises(Invalid) as error:
        notes.add(ann, conversation(), text)
    assert error.value.field == "text" and problem in str(error.value)
    assert Note.select().count() == 0


def test_a_note_on_a_missing_conversation_is_not_found(db) -> None:
    with pytest.raises(NotFound):
        notes.add(staff("ann@example.com"), 999, "hello")
