# Deliveries that keep failing are quarantined instead of blocking the ones behind them (issue 17):
# each expansion attempt is counted before it starts (a worker killed mid-way still counts), a
# failed one waits until `retry_at`, and after a few attempts the delivery's status becomes
# 'quarantined' with its reason, for an admin to look at and retry. Written by hand.
from peewee import BigIntegerField, IntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('delivery', 'attempts', IntegerField(default=0)),
        migrator.add_column('delivery', 'retry_at', BigIntegerField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('delivery', 'retry_at'),
        migrator.drop_column('delivery', 'attempts'),
    )
