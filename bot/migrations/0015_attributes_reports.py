# Issue 21: custom contact attributes (definitions and values) and conversation status changes
# (the facts behind resolution-time reports). Written by hand as a frozen copy.
from peewee import *

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Contact(Model):
        class Meta:
            database = db
            table_name = 'contact'

    class Conversation(Model):
        class Meta:
            database = db
            table_name = 'conversation'

    class AttributeDefinition(Model):
        key = CharField(unique=True, max_length=50)
        label = CharField(max_length=100)
        kind = CharField()
        choices = JSONField(default=list)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'attribute_definition'

    class ContactAttribute(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        attribute = ForeignKeyField(AttributeDefinition, on_delete='CASCADE')
        value = TextField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'contact_attribute'
            indexes = ((('contact', 'attribute'), True),)

    class StatusChange(Model):
        conversation = ForeignKeyField(Conversation, on_delete='CASCADE')
        status = CharField()
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        at = BigIntegerField(index=True)
        class Meta:
            database = db
            table_name = 'status_change'
            indexes = ((('conversation', 'at'), False),)
    db.create_tables([AttributeDefinition, ContactAttribute, StatusChange])
    migrator.migrate(migrator.add_column('campaign', 'attribute_conditions', JSONField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('campaign', 'attribute_conditions'), migrator.drop_table('status_change'), migrator.drop_table('contact_attribute'),
                     migrator.drop_table('attribute_definition'))
