# Reply drafts (issue 7): what a staff member typed in a conversation's reply box and has not sent,
# one row per (user, conversation), so a browser reload does not lose it.
# Written by hand as a frozen copy.
from peewee import *

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Conversation(Model):
        class Meta:
            database = db
            table_name = 'conversation'

    class ReplyDraft(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        conversation = ForeignKeyField(Conversation, on_delete='CASCADE')
        text = TextField(default='')
        reply_type = CharField(default='message')
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'reply_draft'
            indexes = ((('user', 'conversation'), True),)
    db.create_tables([ReplyDraft])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('reply_draft'))
