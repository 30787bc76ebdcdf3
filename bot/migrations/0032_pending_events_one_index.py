# Issue 18: PostgreSQL keeps one partial index of pending events, (conversation_key, occurred_at,
# id). The second one, (created_at) for the clock's sweep, was the smallest index whose predicate
# a pending-event look-up implies: a prepared statement's generic plan made while the table was
# empty (the first statements of every pooled connection of a new install; kept until statistics
# change, never where autovacuum is off) read every pending event through it per drained event,
# 2 x 15,000 entries per event in a backlog of 20,000. The sweep reads the remaining index
# (pending events are few; it runs every few seconds), and each event is written to one index fewer.

import peewee


def up(migrator, db):
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql("DROP INDEX IF EXISTS inbound_event_pending_created_at")


def down(migrator, db):
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql("CREATE INDEX IF NOT EXISTS inbound_event_pending_created_at ON inbound_event (created_at) "
                       "WHERE status = 'pending'")
