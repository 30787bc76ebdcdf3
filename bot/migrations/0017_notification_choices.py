# What rings the bell, per channel (issue 20): button taps (postbacks) and comments a campaign
# already answered notify staff only when the channel asks for it; both off by default.
# Written by hand.
from peewee import BooleanField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('channel', 'notify_postbacks', BooleanField(default=False)),
        migrator.add_column('channel', 'notify_campaign_comments', BooleanField(default=False)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('channel', 'notify_campaign_comments'),
        migrator.drop_column('channel', 'notify_postbacks'),
    )
