# What rings the bell, per channel (issue 20): button taps (postbacks) and comments a campaign
# already answered notify staff only when the channel asks for it; both off by default.
# Message notifications written before this one carry the name in their text ("Dana: hi"); from
# now on the text is the message only and the name is drawn when read. The old rows become kind
# "message_text" so they are shown as written, never with the name twice. Written by hand.
from peewee import BooleanField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('channel', 'notify_postbacks', BooleanField(default=False)),
        migrator.add_column('channel', 'notify_campaign_comments', BooleanField(default=False)),
    )
    db.execute_sql("UPDATE notification SET kind = 'message_text' WHERE kind = 'message'")


def down(migrator, db):
    db.execute_sql("UPDATE notification SET kind = 'message' WHERE kind = 'message_text'")
    migrator.migrate(
        migrator.drop_column('channel', 'notify_campaign_comments'),
        migrator.drop_column('channel', 'notify_postbacks'),
    )
