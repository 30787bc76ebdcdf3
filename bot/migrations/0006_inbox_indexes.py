# Indexes the inbox needs at 100,000 conversations and 1,000,000 messages (bench/inbox.py):
# - conversation (kind, last_message_at): the filtered inbox (one channel kind, newest first);
# - conversation (last_message_at DESC NULLS LAST, id DESC): the first page in its exact order, read
#   from the index instead of sorting every conversation (a plain ascending index read backwards
#   gives NULLS FIRST, which is not the order the inbox asks for);
# - PostgreSQL only: trigram GIN indexes on message.text and contact.name, so the inbox search
#   (ILIKE '%words%') reads the matching rows instead of scanning a million messages.
# The first is mirrored in bot/platform/models.py; the others have no peewee tuple form and live here.
from peewee import PostgresqlDatabase


def up(migrator, db):
    migrator.migrate(migrator.add_index('conversation', ('kind', 'last_message_at'), False))
    if not isinstance(db, PostgresqlDatabase):  # SQLite sorts NULLs first: DESC already puts them last
        db.execute_sql('CREATE INDEX conversation_newest_first ON conversation (last_message_at DESC, id DESC)')
        return
    db.execute_sql('CREATE INDEX conversation_newest_first ON conversation '
                   '(last_message_at DESC NULLS LAST, id DESC)')
    db.execute_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    db.execute_sql('CREATE INDEX message_text_trgm ON message USING gin (text gin_trgm_ops)')
    db.execute_sql('CREATE INDEX contact_name_trgm ON contact USING gin (name gin_trgm_ops)')


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('DROP INDEX IF EXISTS contact_name_trgm')
        db.execute_sql('DROP INDEX IF EXISTS message_text_trgm')
    db.execute_sql('DROP INDEX IF EXISTS conversation_newest_first')
    migrator.migrate(migrator.drop_index('conversation', 'conversation_kind_last_message_at'))
