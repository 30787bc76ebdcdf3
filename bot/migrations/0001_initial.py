# Generated from a schema diff on 2026-11-25 00:08.
from peewee import *

def up(migrator, db):
    class User(Model):
        email = CharField(unique=True)
        name = CharField(default='')
        password_hash = CharField()
        role = CharField(default='agent')
        is_active = BooleanField(default=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class ApiToken(Model):
        token_hash = CharField(unique=True)
        user = ForeignKeyField(User, on_delete='CASCADE')
        name = CharField(default='')
        created_at = BigIntegerField()
        last_used_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class Channel(Model):
        platform = CharField()
        account_id = CharField()
        page_id = CharField()
        name = CharField(default='')
        username = CharField(null=True)
        followers_count = IntegerField(null=True)
        picture_url = TextField(null=True)
        token_encrypted = TextField(null=True)
        receive_messages = BooleanField(default=True)
        receive_comments = BooleanField(default=True)
        notifications = BooleanField(default=True)
        emails = BooleanField(default=False)
        human_agent = BooleanField(default=False)
        fallback_message = TextField(null=True)
        health_status = CharField(default='unknown')
        health_reason = TextField(null=True)
        last_webhook_at = BigIntegerField(null=True)
        last_send_at = BigIntegerField(null=True)
        is_active = BooleanField(default=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'channel'
            indexes = ((('platform', 'account_id'), True),)
    db.create_tables([Channel])

    class Comment(Model):
        comment_id = CharField(unique=True)
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        post_id = CharField()
        parent_id = CharField(null=True)
        from_id = CharField(null=True)
        from_name = CharField(null=True)
        from_username = CharField(null=True)
        text = TextField(null=True)
        by_account = BooleanField(default=False)
        created_at = BigIntegerField()
        deleted_at = BigIntegerField(null=True)
        edited_at = BigIntegerField(null=True)
        hidden = BooleanField(default=False)
        post_permalink = TextField(null=True)
        source = CharField(default='webhook')
        class Meta:
            database = db
            table_name = 'comment'
            indexes = ((('channel', 'post_id', 'created_at'), False),)
    db.create_tables([Comment])

    class Contact(Model):
        name = CharField(default='')
        first_name = CharField(null=True)
        last_name = CharField(null=True)
        picture_url = TextField(null=True)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'contact'
    db.create_tables([Contact])

    class Tag(Model):
        name = CharField(unique=True)
        class Meta:
            database = db
            table_name = 'tag'
    db.create_tables([Tag])

    class ContactTag(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        tag = ForeignKeyField(Tag, on_delete='CASCADE')
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'contact_tag'
            indexes = ((('contact', 'tag'), True),)
    db.create_tables([ContactTag])

    class Identity(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        platform = CharField()
        scoped_id = CharField()
        name = CharField(null=True)
        username = CharField(null=True)
        picture_url = TextField(null=True)
        follower_count = IntegerField(null=True)
        profile_fetched_at = BigIntegerField(null=True)
        profile_due_at = BigIntegerField(null=True)
        profile_error = TextField(null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'identity'
            indexes = ((('channel', 'scoped_id'), True),)
    db.create_tables([Identity])

    class Conversation(Model):
        thread_key = CharField(unique=True, max_length=512)
        kind = CharField()
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        contact = ForeignKeyField(Contact, null=True, on_delete='SET NULL')
        identity = ForeignKeyField(Identity, null=True, on_delete='SET NULL')
        post_id = CharField(null=True)
        post_permalink = TextField(null=True)
        status = CharField(default='open')
        assignee = ForeignKeyField(User, null=True, on_delete='SET NULL')
        unread_count = IntegerField(default=0)
        last_message_at = BigIntegerField(null=True)
        last_customer_message_at = BigIntegerField(null=True)
        preview = TextField(default='')
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'conversation'
            indexes = ((('status', 'last_message_at'), False),)
    db.create_tables([Conversation])

    class Delivery(Model):
        received_at = BigIntegerField(index=True)
        body = BlobField()
        status = CharField(default='received')
        object = CharField(null=True)
        events = IntegerField(default=0)
        ignored = IntegerField(default=0)
        reason = TextField(null=True)
        processed_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'delivery'
            indexes = ((('status', 'received_at'), False),)
    db.create_tables([Delivery])

    class EmailDigest(Model):
        conversation = ForeignKeyField(Conversation, on_delete='CASCADE')
        status = CharField(default='pending')
        first_message_id = IntegerField()
        due_at = BigIntegerField()
        attempts = IntegerField(default=0)
        error = TextField(null=True)
        sent_at = BigIntegerField(null=True)
        message_count = IntegerField(default=0)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'email_digest'
            indexes = ((('conversation', 'status'), False), (('status', 'due_at'), False))
    db.create_tables([EmailDigest])

    class IgnoredItem(Model):
        delivery = ForeignKeyField(Delivery, on_delete='CASCADE')
        reason = TextField()
        object = CharField(null=True)
        field = CharField(null=True)
        account_id = CharField(null=True)
        class Meta:
            database = db
            table_name = 'ignored_item'
    db.create_tables([IgnoredItem])

    class InboundEvent(Model):
        event_key = CharField(unique=True, max_length=512)
        conversation_key = CharField(max_length=512)
        delivery = ForeignKeyField(Delivery, null=True, on_delete='SET NULL')
        seq = IntegerField(default=0)
        kind = CharField()
        occurred_at = BigIntegerField()
        payload = BlobField()
        status = CharField(default='pending')
        reason = TextField(null=True)
        attempts = IntegerField(default=0)
        source = CharField(default='webhook')
        created_at = BigIntegerField()
        applied_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'inbound_event'
            indexes = ((('conversation_key', 'status', 'occurred_at'), False), (('status', 'created_at'), False))
    db.create_tables([InboundEvent])

    class Message(Model):
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        conversation = ForeignKeyField(Conversation, null=True, on_delete='CASCADE')
        direction = CharField()
        author = CharField()
        author_user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        kind = CharField(default='message')
        mid = CharField(unique=True, null=True)
        comment_id = CharField(unique=True, null=True)
        parent_comment_id = CharField(null=True)
        text = TextField(null=True)
        attachments = JSONField(null=True)
        buttons = JSONField(null=True)
        quick_replies = JSONField(null=True)
        payload = TextField(null=True)
        reply_to_mid = CharField(null=True)
        reactions = JSONField(null=True)
        occurred_at = BigIntegerField()
        status = CharField(default='received')
        status_reason = TextField(null=True)
        error_code = IntegerField(null=True)
        error_subcode = IntegerField(null=True)
        error_kind = CharField(null=True)
        delivered_at = BigIntegerField(null=True)
        read_at = BigIntegerField(null=True)
        deleted_at = BigIntegerField(null=True)
        edited_at = BigIntegerField(null=True)
        hidden = BooleanField(default=False)
        by_account = BooleanField(default=False)
        idempotency_key = CharField(unique=True, null=True, max_length=512)
        send_kind = CharField(null=True)
        recipient_id = CharField(null=True)
        target_comment_id = CharField(null=True)
        private_reply_to = CharField(unique=True, null=True)
        messaging_type = CharField(null=True)
        tag = CharField(null=True)
        attempts = IntegerField(default=0)
        next_attempt_at = BigIntegerField(null=True)
        send_started_at = BigIntegerField(null=True)
        sent_at = BigIntegerField(null=True)
        origin = CharField(null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'message'
            indexes = ((('conversation', 'occurred_at'), False), (('status', 'next_attempt_at'), False), (('channel', 'recipient_id', 'direction', 'status'), False))
    db.create_tables([Message])

    class Notification(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        kind = CharField()
        text = TextField()
        conversation = ForeignKeyField(Conversation, null=True, on_delete='CASCADE')
        message = ForeignKeyField(Message, null=True, on_delete='CASCADE')
        channel = ForeignKeyField(Channel, null=True, on_delete='CASCADE')
        created_at = BigIntegerField()
        read_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'notification'
            indexes = ((('user', 'read_at'), False),)
    db.create_tables([Notification])

    class ScheduledJob(Model):
        actor = CharField()
        args = JSONField()
        due_at = BigIntegerField()
        status = CharField(default='scheduled')
        dedupe_key = CharField(unique=True, null=True, max_length=512)
        created_at = BigIntegerField()
        enqueued_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'scheduled_job'
            indexes = ((('status', 'due_at'), False),)
    db.create_tables([ScheduledJob])

    class StaffSession(Model):
        token_hash = CharField(unique=True)
        user = ForeignKeyField(User, on_delete='CASCADE')
        created_at = BigIntegerField()
        expires_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'staff_session'
    db.create_tables([StaffSession])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('staff_session'))
    migrator.migrate(migrator.drop_table('scheduled_job'))
    migrator.migrate(migrator.drop_table('notification'))
    migrator.migrate(migrator.drop_table('message'))
    migrator.migrate(migrator.drop_table('inbound_event'))
    migrator.migrate(migrator.drop_table('ignored_item'))
    migrator.migrate(migrator.drop_table('email_digest'))
    migrator.migrate(migrator.drop_table('delivery'))
    migrator.migrate(migrator.drop_table('conversation'))
    migrator.migrate(migrator.drop_table('identity'))
    migrator.migrate(migrator.drop_table('contact_tag'))
    migrator.migrate(migrator.drop_table('tag'))
    migrator.migrate(migrator.drop_table('contact'))
    migrator.migrate(migrator.drop_table('comment'))
    migrator.migrate(migrator.drop_table('channel'))
    migrator.migrate(migrator.drop_table('api_token'))
    migrator.migrate(migrator.drop_table('user'))
