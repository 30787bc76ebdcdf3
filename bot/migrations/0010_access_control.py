# Access control (issue 17): API tokens get an optional expiry and can be revoked one by one;
# sign-in failures are throttled per account and per client address, and every sign-in is logged.
# Written by hand as a frozen copy.
from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class SignInThrottle(Model):
        key = CharField(unique=True)
        failures = IntegerField(default=0)
        last_failure_at = BigIntegerField()
        locked_until = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'sign_in_throttle'

    class SignInAttempt(Model):
        at = BigIntegerField(index=True)
        method = CharField()
        email = CharField(default='')
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        address = CharField(default='')
        outcome = CharField()
        class Meta:
            database = db
            table_name = 'sign_in_attempt'

    migrator.migrate(
        migrator.add_column('api_token', 'expires_at', BigIntegerField(null=True)),
        migrator.add_column('api_token', 'revoked_at', BigIntegerField(null=True)),
    )
    db.create_tables([SignInThrottle, SignInAttempt])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table('sign_in_attempt'),
        migrator.drop_table('sign_in_throttle'),
        migrator.drop_column('api_token', 'revoked_at'),
        migrator.drop_column('api_token', 'expires_at'),
    )
