# Issue 18: on PostgreSQL, the status indexes of the two busiest append-only tables list only the
# rows still waiting, so the rows done (nearly all of them) are written to no such index. Every
# delivery expanded at commit is inserted `processed`, and every event ends `applied` (an echo
# of our own send is inserted so): before, each of those rows went into (status, received_at)
# and (received_at), or (status, created_at) and (conversation_key, status, occurred_at), where
# nothing ever looks for it. The look-ups that remain name the waiting status as a literal:
# - deliveries for the expander, the clock and the backlog: `status = 'received'`;
# - quarantined deliveries for the admin page: `status = 'quarantined'`, newest first;
# - a conversation's pending events in order (the drain) and pending events left behind (the
#   clock, the backlog): `status = 'pending'`, both through the one (conversation_key,
#   occurred_at, id) index. A second one on (created_at) for the clock's sweep was the smallest
#   index a pending-event look-up's predicate implies: the drain's prepared take, its generic plan
#   made while the table was empty (the first statements of every pooled connection of a new
#   install; kept until statistics change, never where autovacuum is off), read every pending
#   event through it, twice per event: 2 x 15,000 entries per event in a backlog of 20,000. The
#   sweep reads the remaining index (pending events are few; it runs every few seconds).
# SQLite keeps its indexes: it uses a partial index only when the query's WHERE repeats the
# predicate's terms, and peewee sends the status as a bound parameter there.

import peewee


def up(migrator, db):
    _on_postgres(db, (
        "CREATE INDEX IF NOT EXISTS delivery_received ON delivery (received_at) WHERE status = 'received'",
        "CREATE INDEX IF NOT EXISTS delivery_quarantined ON delivery (id) WHERE status = 'quarantined'",
        "DROP INDEX IF EXISTS delivery_status_received_at",
        "DROP INDEX IF EXISTS delivery_received_at",
        "CREATE INDEX IF NOT EXISTS inbound_event_pending ON inbound_event (conversation_key, occurred_at, id) "
        "WHERE status = 'pending'",
        "DROP INDEX IF EXISTS inboundevent_conversation_key_status_occurred_at",
        "DROP INDEX IF EXISTS inboundevent_status_created_at",
    ))


def down(migrator, db):
    _on_postgres(db, (
        "CREATE INDEX IF NOT EXISTS delivery_received_at ON delivery (received_at)",
        "CREATE INDEX IF NOT EXISTS delivery_status_received_at ON delivery (status, received_at)",
        "DROP INDEX IF EXISTS delivery_received",
        "DROP INDEX IF EXISTS delivery_quarantined",
        "CREATE INDEX IF NOT EXISTS inboundevent_conversation_key_status_occurred_at "
        "ON inbound_event (conversation_key, status, occurred_at)",
        "CREATE INDEX IF NOT EXISTS inboundevent_status_created_at ON inbound_event (status, created_at)",
        "DROP INDEX IF EXISTS inbound_event_pending",
    ))


def _on_postgres(db, sqls):
    """Run the statements on PostgreSQL only (SQLite keeps its indexes: see above)."""
    if isinstance(db, peewee.PostgresqlDatabase):
        for sql in sqls:
            db.execute_sql(sql)
