"""PostgreSQL: the drain's take (`inbox.take_next`) is prepared once per connection, and the
generic plan kept for it is made from the table as it was then: in a new install, empty. That
plan must still find the event's row by its primary key and the conversation's pending events
through their own index; a plan that scans every pending event per take turns a backlog of
20,000 events into 2 x 15,000 index entries read per event (migration 0031)."""

from __future__ import annotations

import peewee
import pytest

from bot.inbound import inbox
from bot.platform.db import db, prepared
from bot.platform.models import InboundEvent

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
