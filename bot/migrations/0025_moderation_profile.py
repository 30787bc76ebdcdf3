# Issue 22: comment moderation (like / hide, once per comment and action, with the outcome) and
# each channel's Messenger profile (Get Started, greeting, persistent menu, ice breakers) as edited
# and as last pushed to Meta. Written by hand as a frozen copy.
from peewee import *


def up(migrator, db):
    class Channel(Model):
        class Meta:
            database = db
            table_name = 'channel'

    class CommentModeration(Model):
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        comment_id = CharField()
        action = CharField()
        origin = CharField()
        status = CharField(default='pending')
        reason = TextField(null=True)
        error_code = IntegerField(null=True)
        attempts = IntegerField(default=0)
        next_attempt_at = BigIntegerField()
        started_at = BigIntegerField(null=True)
        done_at = BigIntegerField(null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'comment_moderation'
            indexes = ((('comment_id', 'action'), True), (('status', 'next_attempt_at'), False))

    class MessengerProfile(Model):
        channel = ForeignKeyField(Channel, unique=True, on_delete='CASCADE')
        spec = JSONField(default=dict)
        pushed = JSONField(null=True)
        status = CharField(default='pending')
        reason = TextField(null=True)
        pushed_at = BigIntegerField(null=True)
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'messenger_profile'
    db.create_tables([CommentModeration, MessengerProfile])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('messenger_profile'), migrator.drop_table('comment_moderation'))
