"""The hot path's statements (bot/platform/statements.py) write and change rows exactly as the
peewee statements they replace, on both databases, whatever shapes share the kept SQL texts."""

from __future__ import annotations

import peewee
import pytest

from bot.platform import statements
from bot.platform.db import is_sqlite
from bot.platform.models import Channel, Conversation, InboundEvent, Message


def _channel() -> Channel:
    return Channel.create(platform="facebook", account_id="1", page_id="1", name="Shop", created_at=0)


def _row(message_id: int) -> dict:
    row = Message.select().where(Message.id == message_id).dicts().get()
    row.pop("id")
    return row


def test_an_insert_stores_the_row_peewee_would_store(db) -> None:
    channel = _channel()
    fields = dict(channel=channel, direction="out", author="campaign", text="Hi", occurred_at=5, created_at=5,
                  attachments=[{"type": "image", "url": "https://x/1.png"}], buttons=None, notes=["a", "b"])
    by_peewee = Message.insert(**{**fields, "idempotency_key": "k:peewee"}).execute()
    ours = statements.insert(Message, {**fields, "idempotency_key": "k:ours"})
    assert ours is not None and ours != by_peewee
    peewee_row, our_row = _row(by_peewee), _row(ours)
    assert our_row.pop("idempotency_key") == "k:ours"
    peewee_row.pop("idempotency_key")
    assert our_row == peewee_row
    assert our_row["attachments"] == [{"type": "image", "url": "https://x/1.png"}]  # JSON, not its text
    assert (our_row["status"], our_row["kind"], our_row["hidden"], our_row["attempts"]) == (
        "received", "message", False, 0)  # the fields' defaults, filled in as peewee does


def test_insert_new_never_overwrites_and_says_so(db) -> None:
    channel = _channel()
    fields = dict(thread_key="dm:1", kind="messenger", channel=channel.id, created_at=1, preview="first")
    first = statements.insert_new(Conversation, fields)
    assert first is not None
    assert statements.insert_new(Conversation, {**fields, "preview": "second"}) is None
    assert Conversation.get_by_id(first).preview == "first"
    other = statements.insert_new(Conversation, {**fields, "thread_key": "dm:2"})
    assert other is not None and other != first  # the id of the row just inserted, not a stale one
    assert Conversation.get_by_id(other).thread_key == "dm:2"


def test_an_insert_without_ignoring_conflicts_raises_on_a_taken_key(db) -> None:
    """The same row and columns with and without ignoring: two statements, not one kept text."""
    channel = _channel()
    fields = dict(thread_key="dm:1", kind="messenger", channel=channel.id, created_at=1)
    assert statements.insert_new(Conversation, fields) is not None
    assert statements.insert_new(Conversation, fields) is None
    with pytest.raises(peewee.IntegrityError):
        statements.insert(Conversation, fields)


def test_shapes_that_differ_get_their_own_text(db) -> None:
    """A JSON value and a missing one, a note given or not: each shape writes what it was given
    (a text kept for one shape and run for another would shift the values between columns)."""
    channel = _channel()
    base = dict(channel=channel.id, direction="in", author="customer", occurred_at=1, created_at=1)
    with_json = statements.insert(Message, {**base, "mid": "m1", "notes": ["repaired"]})
    without = statements.insert(Message, {**base, "mid": "m2", "notes": None})
    again = statements.insert(Message, {**base, "mid": "m3", "notes": ["twice"]})
    assert [Message.get_by_id(i).notes for i in (with_json, without, again)] == [["repaired"], None, ["twice"]]
    short = statements.insert(Message, {"channel": channel.id, "direction": "out", "author": "bot",
                                        "occurred_at": 2, "created_at": 2, "text": "short"})
    assert (Message.get_by_id(short).text, Message.get_by_id(short).mid) == ("short", None)


def test_an_update_changes_only_the_rows_its_equalities_name(db) -> None:
    channel = _channel()
    base = dict(channel=channel.id, direction="out", author="bot", occurred_at=1, created_at=1)
    pending = statements.insert(Message, {**base, "idempotency_key": "a", "status": "pending"})
    sending = statements.insert(Message, {**base, "idempotency_key": "b", "status": "sending"})
    sent = statements.insert(Message, {**base, "idempotency_key": "c", "status": "sent", "mid": "m.c"})
    for message_id in (pending, sending, sent):
        changed = statements.update(Message, {"status": "failed", "buttons": [{"title": "Go"}]},
                                    {"id": message_id, "status": ("sending", "pending"), "mid": None})
        assert changed == (message_id != sent)
    assert [(m.status, m.buttons) for m in Message.select().order_by(Message.id)] == [
        ("failed", [{"title": "Go"}]), ("failed", [{"title": "Go"}]), ("sent", None)]
    assert statements.update(Message, {"status_reason": None}, {"id": sent}) == 1


def test_a_guarded_update_sets_the_guarded_values_only_where_the_guard_holds(db) -> None:
    """The sender's outcome: Meta's id always, the status only over a row still being sent (an echo
    may have marked it sent, and a receipt moved it on, meanwhile)."""
    channel = _channel()
    base = dict(channel=channel.id, direction="out", author="bot", occurred_at=1, created_at=1)
    sending = statements.insert(Message, {**base, "idempotency_key": "a", "status": "sending"})
    read = statements.insert(Message, {**base, "idempotency_key": "b", "status": "read", "error_kind": "ambiguous"})
    for message_id, mid in ((sending, "m.a"), (read, "m.b")):
        picked = statements.update_guarded(Message, {"status": "sent", "buttons": [{"title": "Go"}], "sent_at": 9},
                                           {"mid": mid}, {"id": message_id}, {"status": ("sending", "pending")})
        assert picked == 1
    rows = [(m.status, m.buttons, m.sent_at, m.mid, m.error_kind) for m in Message.select().order_by(Message.id)]
    assert rows == [("sent", [{"title": "Go"}], 9, "m.a", None), ("read", None, None, "m.b", "ambiguous")]


def test_a_guarded_update_that_would_change_nothing_writes_nothing(db) -> None:
    """The sender's outcome after the echo recorded the send (status sent, Meta's id in place):
    no new row version (on PostgreSQL one in every index of the table); a different id is written."""
    channel = _channel()
    base = dict(channel=channel.id, direction="out", author="bot", occurred_at=1, created_at=1, status="sent")
    echoed = statements.insert(Message, {**base, "idempotency_key": "a", "mid": "m.a", "sent_at": 5})
    version = _row_version(echoed)

    def outcome(mid: str) -> int:
        return statements.update_guarded(Message, {"status": "sent", "sent_at": 9}, {"mid": mid}, {"id": echoed},
                                          {"status": ("sending", "pending")})

    assert outcome("m.a") == 0
    assert _row_version(echoed) == version
    assert outcome("m.b") == 1
    assert (Message.get_by_id(echoed).mid, Message.get_by_id(echoed).sent_at) == ("m.b", 5)


def _row_version(message_id: int) -> object:
    """PostgreSQL's xmin (the transaction that wrote the row's current version); SQLite: its data."""
    if is_sqlite():
        return tuple(Message.select().where(Message.id == message_id).tuples().get())
    return Message._meta.database.execute_sql("SELECT xmin::text FROM message WHERE id = %s", (message_id,)).fetchone()


def test_two_updates_together_change_both_rows_and_nothing_else(db) -> None:
    """A profile fetch writes the identity and its contact (one statement on PostgreSQL)."""
    channel = _channel()
    threads = [Conversation.create(thread_key=f"dm:{i}", kind="messenger", channel=channel, created_at=0, preview="x")
               for i in range(2)]
    base = dict(channel=channel.id, direction="out", author="bot", occurred_at=1, created_at=1)
    message = statements.insert(Message, {**base, "idempotency_key": "a", "conversation": threads[0].id})
    statements.update_both((Conversation, {"preview": "new", "unread_count": 3}, {"id": threads[0].id}),
                           (Message, {"text": "said", "buttons": [{"title": "Go"}]}, {"id": message}))
    assert [(c.preview, c.unread_count) for c in Conversation.select().order_by(Conversation.id)] == [
        ("new", 3), ("x", 0)]
    assert (Message.get_by_id(message).text, Message.get_by_id(message).buttons) == ("said", [{"title": "Go"}])


def test_an_update_with_one_key_or_another(db) -> None:
    """The same update with and without an optional field (an event's reason)."""
    ids = [InboundEvent.insert(event_key=f"e{i}", conversation_key="c", kind="comment", occurred_at=i,
                               payload=b"{}", created_at=i).execute() for i in range(2)]
    assert statements.update(InboundEvent, {"status": "applied", "applied_at": 7}, {"id": ids[0], "status": "pending"})
    assert statements.update(InboundEvent, {"status": "applied", "applied_at": 8, "reason": "noted"},
                             {"id": ids[1], "status": "pending"})
    assert not statements.update(InboundEvent, {"status": "applied", "applied_at": 9},
                                 {"id": ids[1], "status": "pending"})
    rows = [(e.status, e.applied_at, e.reason) for e in InboundEvent.select().order_by(InboundEvent.id)]
    assert rows == [("applied", 7, None), ("applied", 8, "noted")]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # RETURNING expressions: PostgreSQL's path
def test_an_insert_returns_expressions_over_the_new_row_on_postgresql(db) -> None:
    channel = _channel()
    fields = dict(thread_key="dm:1", kind="messenger", channel=channel.id, created_at=1, preview="hello")
    row = statements.insert_returning(Conversation, fields, ('"id"', 'upper("preview")'), ignore_conflict=True)
    assert row is not None and row[1] == "HELLO" and Conversation.get_by_id(row[0]).preview == "hello"
    assert statements.insert_returning(Conversation, fields, ('"id"',), ignore_conflict=True) is None


def test_a_row_read_as_a_model_converts_like_peewee(db) -> None:
    channel = _channel()
    message_id = statements.insert(Message, dict(channel=channel.id, direction="in", author="customer",
                                                 occurred_at=1, created_at=1, hidden=True, notes=["n"]))
    cursor = Message._meta.database.execute_sql(
        'SELECT "message".*, 42 AS "extra" FROM "message" WHERE "id" = ' + Message._meta.database.param,
        (message_id,))
    message = statements.model_row(Message, cursor.description, cursor.fetchone())
    assert (message.id, message.channel_id, message.hidden, message.notes, message.extra) == (
        message_id, channel.id, True, ["n"], 42)
    assert message.hidden is True  # SQLite's 1 is read as peewee reads it


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_pair_goes_in_together_only_when_the_parent_is_new_on_postgresql(db) -> None:
    """A new DM thread and the private reply that opens it (`inbox.open_dm_thread`; PostgreSQL's path)."""
    channel = _channel()
    thread = dict(thread_key="dm:1", kind="messenger", channel=channel.id, created_at=1, preview="Hi")
    reply = dict(channel=channel.id, direction="out", author="campaign", text="Hi", occurred_at=1, created_at=1,
                 idempotency_key="k:0", private_reply_to="c1", buttons=[{"title": "Go"}])
    thread_id, reply_id = statements.insert_new_pair(Conversation, thread, Message, reply, "conversation")
    stored = Message.get_by_id(reply_id)
    assert (stored.conversation_id, stored.buttons, stored.status) == (thread_id, [{"title": "Go"}], "received")
    assert statements.insert_new_pair(Conversation, thread, Message, {**reply, "idempotency_key": "k2:0"},
                                      "conversation") == (None, None)  # the thread was there: nothing inserted
    assert Message.select().count() == 1
    other = {**thread, "thread_key": "dm:2"}
    other_id, taken = statements.insert_new_pair(Conversation, other, Message, {**reply, "idempotency_key": "k3:0"},
                                                 "conversation")  # the comment's private reply is taken
    assert other_id is not None and taken is None
    assert Conversation.get_by_id(other_id).thread_key == "dm:2" and Message.select().count() == 1


def _prepared_here() -> dict[str, str]:
    """This connection's prepared statements: name -> parameter types."""
    cursor = Message._meta.database.execute_sql("SELECT name, parameter_types::text FROM pg_prepared_statements")
    return dict(cursor.fetchall())


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_each_shape_is_prepared_once_per_connection_with_its_fields_types_on_postgresql(db) -> None:
    """PostgreSQL parses and plans each kept text once per connection: a statement prepared with
    the fields' types (JSON as jsonb, a foreign key as integer), run again as EXECUTE, and still
    there after a rollback (PREPARE is not transactional, so the process's record of it holds)."""
    channel = _channel()
    fields = dict(channel=channel.id, direction="out", author="campaign", occurred_at=1, created_at=1,
                  notes=["n"], idempotency_key="k:1")
    before = _prepared_here()
    with pytest.raises(peewee.IntegrityError), Message._meta.database.atomic():
        statements.insert(Message, fields)
        statements.insert(Message, fields)  # the unique key is taken: the transaction rolls back
    (name,) = set(_prepared_here()) - set(before)
    types = _prepared_here()[name]
    assert "jsonb" in types and "integer" in types and "bigint" in types  # notes, channel, created_at
    second = statements.insert(Message, {**fields, "idempotency_key": "k:2", "notes": ["m"]})
    assert Message.get_by_id(second).notes == ["m"]
    assert set(_prepared_here()) - set(before) == {name}  # the same statement, not prepared again
    assert statements.update(Message, {"text": "hi"}, {"id": (second, 0)}) == 1  # an IN of two ids
    assert Message.get_by_id(second).text == "hi"
