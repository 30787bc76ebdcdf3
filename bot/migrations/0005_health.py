# Channel health (issue 12): per-channel check state, the health history, and backfill runs.
# Written by hand as a frozen copy.
from peewee import *

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Channel(Model):
        class Meta:
            database = db
            table_name = 'channel'

    class ChannelCheck(Model):
        channel = ForeignKeyField(Channel, unique=True, on_delete='CASCADE')
        next_check_at = BigIntegerField(index=True)
        last_checked_at = BigIntegerField(null=True)
        last_ok_at = BigIntegerField(null=True)
        token_expires_at = BigIntegerField(null=True)
        token_checked_at = BigIntegerField(null=True)
        subscribed_fields = JSONField(null=True)
        last_error = TextField(null=True)
        class Meta:
            database = db
            table_name = 'channel_check'
    db.create_tables([ChannelCheck])

    class ChannelHealthEvent(Model):
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        kind = CharField()
        status = CharField()
        previous_status = CharField(null=True)
        reason = TextField(null=True)
        source = CharField()
        email_status = CharField(null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'channel_health_event'
            indexes = ((('channel', 'created_at'), False), (('email_status', 'created_at'), False))
    db.create_tables([ChannelHealthEvent])

    class BackfillRun(Model):
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        since = BigIntegerField()
        until = BigIntegerField()
        trigger = CharField()
        reason = TextField(null=True)
        requested_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        status = CharField(default='pending')
        messages_found = IntegerField(default=0)
        messages_stored = IntegerField(default=0)
        comments_found = IntegerField(default=0)
        comments_stored = IntegerField(default=0)
        graph_calls = IntegerField(default=0)
        unrecovered = JSONField(default=list)
        error = TextField(null=True)
        created_at = BigIntegerField()
        started_at = BigIntegerField(null=True)
        finished_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'backfill_run'
            indexes = ((('status', 'created_at'), False), (('channel', 'created_at'), False))
    db.create_tables([BackfillRun])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('backfill_run'))
    migrator.migrate(migrator.drop_table('channel_health_event'))
    migrator.migrate(migrator.drop_table('channel_check'))
