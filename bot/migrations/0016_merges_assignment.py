# Helpdesk (issue 21): contact merges (recorded, reversible), staff availability and per-channel
# assignment rules (round-robin with a cap). Written by hand as a frozen copy.
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

    class ContactMerge(Model):
        survivor_id = IntegerField()
        merged_id = IntegerField()
        merged_row = JSONField()
        moved = JSONField()
        displaced = JSONField(default=dict)
        filled = JSONField(default=dict)
        merged_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
        created_at = BigIntegerField()
        unmerged_at = BigIntegerField(null=True)
        unmerged_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
        class Meta:
            database = db
            table_name = 'contact_merge'
            indexes = ((('survivor_id', 'created_at'), False), (('merged_id',), False))

    class StaffAvailability(Model):
        user = ForeignKeyField(User, unique=True, on_delete='CASCADE')
        available = BooleanField(default=False)
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'staff_availability'

    class AssignmentRule(Model):
        channel = ForeignKeyField(Channel, unique=True, on_delete='CASCADE')
        enabled = BooleanField(default=False)
        cap = IntegerField(default=10)
        members = JSONField(default=list)
        last_user_id = IntegerField(null=True)
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'assignment_rule'
    db.create_tables([ContactMerge, StaffAvailability, AssignmentRule])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('assignment_rule'), migrator.drop_table('staff_availability'),
                     migrator.drop_table('contact_merge'))
