# Outgoing webhooks (REST API issue 8): endpoints and their delivery log. Written by hand as a frozen copy.
from peewee import *

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class HookEndpoint(Model):
        url = TextField()
        events = JSONField()
        secret_encrypted = TextField()
        description = CharField(default='')
        is_active = BooleanField(default=True)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'hook_endpoint'
    db.create_tables([HookEndpoint])

    class HookDelivery(Model):
        endpoint = ForeignKeyField(HookEndpoint, on_delete='CASCADE')
        event = CharField()
        event_id = CharField()
        dedupe_key = CharField(null=True, unique=True, max_length=512)
        body = TextField()
        status = CharField(default='pending')
        attempts = IntegerField(default=0)
        next_attempt_at = BigIntegerField()
        send_started_at = BigIntegerField(null=True)
        last_attempt_at = BigIntegerField(null=True)
        last_status_code = IntegerField(null=True)
        last_error = TextField(null=True)
        delivered_at = BigIntegerField(null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'hook_delivery'
            indexes = ((('endpoint', 'created_at'), False), (('status', 'next_attempt_at'), False))
    db.create_tables([HookDelivery])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('hook_delivery'))
    migrator.migrate(migrator.drop_table('hook_endpoint'))
