# Issue 18: the page's replies to a comment, found by the comment they answer. Three hot reads ask
# "has the page replied to comment X?" (`parent_id = X AND by_account`): the comment INSERT's
# RETURNING (inbox._ID_AND_REPLIED), attaching page replies stored before their comment, and the
# send policy's check before a public reply (outbound/sendcheck.py). Without an index each one read
# the whole comment table: 20 ms per new comment at 200,000 comments, growing with the table.
# Partial (page replies only): the customers' comments, nearly all of them, are not written to it.
# Named in bot/platform/models.py (Comment.Meta): a partial index has no tuple form there.


def up(migrator, db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS comment_page_reply_parent_id ON comment (parent_id) WHERE by_account')


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS comment_page_reply_parent_id')
