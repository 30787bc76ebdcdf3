# Attached files (issue 20): files staff upload are kept by socialdesk (`stored_file`) and sent
# through Meta's Attachment Upload API once per page (`meta_upload` keeps the reusable
# attachment id). Written by hand as a frozen copy.
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

    class StoredFile(Model):
        key = CharField(unique=True, max_length=64)
        name = CharField(max_length=255)
        content_type = CharField()
        media_type = CharField()
        size = IntegerField()
        sha256 = CharField(max_length=64)
        uploaded_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'stored_file'

    class MetaUpload(Model):
        file = ForeignKeyField(StoredFile, on_delete='CASCADE', backref='+')
        channel = ForeignKeyField(Channel, on_delete='CASCADE', backref='+')
        attachment_id = CharField()
        uploaded_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'meta_upload'
            indexes = ((('file', 'channel'), True),)
    db.create_tables([StoredFile, MetaUpload])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('meta_upload'), migrator.drop_table('stored_file'))
