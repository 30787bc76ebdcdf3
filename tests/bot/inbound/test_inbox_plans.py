"""PostgreSQL: the statements of the hot path are prepared once per connection, and the generic
plan kept for each is made from the tables as they were then: in a new install, empty. Those
plans must still find rows by their keys: the drain's take (`inbox.take_next`) the event's row
by its primary key and the conversation's pending events through their own index (a plan that
scans every pending event per take turns a backlog of 20,000 events into 2 x 15,000 index
entries read per event, migration 0031), a customer's message its conversation and held parts."""

from __future__ import annotations

import peewee
import pytest

from bot.core import events as ev
from bot.inbound import inbox
from bot.platform import cache, statements
from bot.platform.db import db, prepared, transaction
from bot.platform.models import Channel, InboundEvent

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _generic_plan() -> str:
    """EXPLAIN of the prepared take as PostgreSQL keeps it (forced generic, tables empty)."""
    db.execute_sql("SET plan_cache_mode = force_generic_plan")
    try:
        execute = prepared("socialdesk_take_next", inbox._TAKE_NEXT.format(param="%s"))
        rows = db.execute_sql(f"EXPLAIN {execute}", (1, "dm:facebook:1:2")).fetchall()
    finally:
        db.execute_sql("RESET plan_cache_mode")
    return "\n".join(row[0] for row in rows)


def test_the_take_planned_on_an_empty_table_reads_by_key_never_all_pending(db: peewee.Database) -> None:
    assert InboundEvent.select().count() == 0
    plan = _generic_plan()
    lines = [line.strip() for line in plan.splitlines()]
    scans = [line for line in lines if "Scan" in line and " on inbound_event" in line]
    assert len(scans) == 3, plan  # the next event, the row taken, the events behind it
    assert "using inbound_event_pkey" in scans[1], plan
    assert all("using inbound_event_pending on" in scans[i] for i in (0, 2)), plan
    conditions = [line for line in lines if line.startswith("Index Cond:") and "conversation_key" in line]
    assert len(conditions) == 2, plan  # both walk only this conversation's entries


def test_a_customer_message_finds_its_conversation_and_held_parts_by_index_in_a_plan_made_on_empty_tables(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """One statement stores a customer's message, moves its conversation's clocks and says whether
    parts held back for the person wait (`inbox._insert_bumped`): its generic plan, made here on
    tables as empty as a new install's, must not scan the message table for them."""
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    event = ev.MessageReceived(platform=ev.Platform.FACEBOOK, account_id="1", timestamp=10, user_id="42", mid="m1",
                               text="hello")
    used: list = []
    execute = statements._execute
    monkeypatch.setattr(statements, "_execute", lambda kept, params: used.append(kept) or execute(kept, params))
    with transaction(), cache.unit():
        inbox.apply(event)  # prepares the statement on this connection
    [kept] = [kept for kept in used if kept.text.startswith('WITH "new" AS (INSERT INTO "message"')]
    db.execute_sql("SET plan_cache_mode = force_generic_plan")
    try:
        rows = db.execute_sql(f"EXPLAIN EXECUTE {kept.name} ({', '.join(['NULL'] * kept.text.count('%s'))})")
        plan = "\n".join(row[0] for row in rows.fetchall())
    finally:
        db.execute_sql("RESET plan_cache_mode")
    assert "Seq Scan" not in plan, plan
    assert "using conversation_pkey on conversation" in plan, plan
    assert "using message_channel_id_recipient_id_direction_status on message held" in plan, plan
    conditions = [line.strip() for line in plan.splitlines() if line.strip().startswith("Index Cond:")]
    assert any("channel_id = conversation.channel_id" in line and "recipient_id =" in line for line in conditions), plan
