# Bot flows (issue 6): flows as data, per-conversation bot state, per-channel handover settings.
# Written by hand as a frozen copy of the models.
from peewee import *

def up(migrator, db):
    class Channel(Model):
        class Meta:
            database = db
            table_name = 'channel'

    class Conversation(Model):
        class Meta:
            database = db
            table_name = 'conversation'

    class Flow(Model):
        name = CharField(unique=True)
        title = CharField(default='')
        channel = ForeignKeyField(Channel, null=True, on_delete='CASCADE')
        is_active = BooleanField(default=True)
        definition = JSONField()
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'flow'
    db.create_tables([Flow])

    class BotState(Model):
        conversation = ForeignKeyField(Conversation, unique=True, on_delete='CASCADE')
        flow_name = CharField(null=True)
        state = CharField(null=True)
        step = IntegerField(default=0)
        origin_comment_id = CharField(null=True)
        timeout_due_at = BigIntegerField(null=True)
        paused_until = BigIntegerField(null=True)
        paused_reason = TextField(null=True)
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'bot_state'
    db.create_tables([BotState])

    class BotSetting(Model):
        channel = ForeignKeyField(Channel, unique=True, on_delete='CASCADE')
        handover_payloads = JSONField(default=list)
        handover_keywords = JSONField(default=list)
        handover_message = TextField(null=True)
        pause_seconds = IntegerField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'bot_setting'
    db.create_tables([BotSetting])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('bot_setting'))
    migrator.migrate(migrator.drop_table('bot_state'))
    migrator.migrate(migrator.drop_table('flow'))
