# Teams (issue 21): a group of staff per channel; a conversation and an assignment rule may name
# one. Adds the inbox's index for the team filter: (team_id, status, last_message_at), so "my
# teams" pages read the newest rows of those teams instead of sorting every conversation of them.
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

    class Team(Model):
        name = CharField(unique=True, max_length=100)
        channel = ForeignKeyField(Channel, null=True, on_delete='CASCADE')
        created_at = BigIntegerField()
        updated_at = BigIntegerField()

        class Meta:
            database = db
            table_name = 'team'

    class TeamMember(Model):
        team = ForeignKeyField(Team, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')

        class Meta:
            database = db
            table_name = 'team_member'
            indexes = ((('team', 'user'), True), (('user',), False))

    db.create_tables([Team, TeamMember])
    migrator.migrate(
        migrator.add_column('conversation', 'team_id', ForeignKeyField(Team, null=True, on_delete='SET NULL',
                                                                     field=Team.id)),
        migrator.add_column('assignment_rule', 'team_id', ForeignKeyField(Team, null=True, on_delete='SET NULL',
                                                                        field=Team.id)),
        migrator.add_index('conversation', ('team_id', 'status', 'last_message_at'), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index('conversation', 'conversation_team_id_status_last_message_at'),
        migrator.drop_column('assignment_rule', 'team_id'),
        migrator.drop_column('conversation', 'team_id'),
        migrator.drop_table('team_member'),
        migrator.drop_table('team'),
    )
