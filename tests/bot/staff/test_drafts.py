"""Reply drafts: one per (staff user, conversation), upserted as staff type, cleared on send,
and removed with their conversation or user."""

from __future__ import annotations

import pytest

from bot.core.errors import Invalid, NotFound
from bot.platform.models import Channel, Conversation, ReplyDraft, User
from bot.staff import drafts


def staff(email: str) -> int:
    return User.create(email=email, password_hash="x", created_at=0).id


def conversation(key: str = "dm:facebook:1:42") -> int:
    channel = Channel.get_or_none(Channel.account_id == "1") or Channel.create(
        platform="facebook", account_id="1", page_id="1", name="Shop", created_at=0)
    return Conversation.create(thread_key=key, kind="messenger", channel=channel, created_at=0).id


def test_save_upserts_one_draft_per_user_and_conversation(db) -> None:
    ann, bob = staff("ann@example.com"), staff("bob@example.com")
    talk = conversation()
    assert drafts.load(ann, talk) is None
    first = drafts.save(ann, talk, "Hello, let me check")
    assert first is not None and first.text == "Hello, let me check" and first.reply_type == "message"
    drafts.save(ann, talk, "Hello, let me check the stock", "message")
    drafts.save(bob, talk, "Bob's own answer")
    assert drafts.load(ann, talk).text == "Hello, let me check the stock"
    assert drafts.load(bob, talk).text == "Bob's own answer"
    assert ReplyDraft.select().count() == 2


def test_comment_drafts_keep_the_way_of_answering(db) -> None:
    ann = staff("ann@example.com")
    talk = conversation("comments:facebook:1:post:42")
    drafts.save(ann, talk, "Thanks for asking!", "comment")
    assert drafts.load(ann, talk).reply_type == "comment"


def test_clear_and_empty_text_remove_only_that_draft(db) -> None:
    ann, bob = staff("ann@example.com"), staff("bob@example.com")
    talk, other = conversation(), conversation("dm:facebook:1:43")
    drafts.save(ann, talk, "one")
    drafts.save(ann, other, "two")
    drafts.save(bob, talk, "three")
    drafts.clear(ann, talk)
    assert drafts.load(ann, talk) is None
    assert drafts.load(ann, other).text == "two" and drafts.load(bob, talk).text == "three"
    assert drafts.save(ann, other, "   ") is None  # typed away: nothing left to keep
    assert drafts.load(ann, other) is None


def test_invalid_drafts_name_the_field(db) -> None:
    ann, talk = staff("ann@example.com"), conversation()
    with pytest.raises(Invalid) as error:
        drafts.save(ann, talk, "hi", "shout")
    assert error.value.field == "reply_type"
    with pytest.raises(Invalid) as error:
        drafts.save(ann, talk, "x" * (drafts.MAX_DRAFT_CHARS + 1))
    assert error.value.field == "text"
    with pytest.raises(NotFound):
        drafts.save(ann, talk + 1000, "hi")
    with pytest.raises(NotFound):
        drafts.save(ann + 1000, talk, "hi")
    assert ReplyDraft.select().count() == 0


def test_drafts_go_with_their_conversation_and_user(db) -> None:
    ann, bob = staff("ann@example.com"), staff("bob@example.com")
    talk, other = conversation(), conversation("dm:facebook:1:43")
    drafts.save(ann, talk, "one")
    drafts.save(bob, other, "two")
    Conversation.delete().where(Conversation.id == talk).execute()
    User.delete().where(User.id == bob).execute()
    assert ReplyDraft.select().count() == 0
