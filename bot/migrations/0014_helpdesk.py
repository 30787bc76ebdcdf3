# Helpdesk (issue 21): private notes on conversations, snoozes and canned responses.
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

    class Note(Model):
        conversation = ForeignKeyField(Conversation, on_delete='CASCADE')
        author = ForeignKeyField(User, null=True, on_delete='SET NULL')
        text = TextField()
        mentions = JSONField(default=list)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'note'
            indexes = ((('conversation', 'created_at'), False),)

    class Snooze(Model):
        conversation = ForeignKeyField(Conversation, unique=True, on_delete='CASCADE')
        wake_at = BigIntegerField(null=True, index=True)
        snoozed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'snooze'

    class CannedResponse(Model):
        scope = CharField()
        owner = ForeignKeyField(User, null=True, on_delete='CASCADE')
        name = CharField(max_length=50)
        text = TextField()
        attachments = JSONField(default=list)
        buttons = JSONField(default=list)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'canned_response'
            legacy_table_names = False
            indexes = ((('scope', 'name'), True),)
    db.create_tables([Note, Snooze, CannedResponse])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('canned_response'), migrator.drop_table('snooze'),
                     migrator.drop_table('note'))
