# Issue 22: a campaign started by a referral (m.me / ig.me `ref` link, Get Started with a ref, or a
# click-to-Messenger/Instagram ad): `campaign.refs` and `campaign.ad_ids` are the trigger's filters
# (any of the refs, any of the ad ids; both empty: any referral). Written by hand.
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('campaign', 'refs', JSONField(null=True)),
        migrator.add_column('campaign', 'ad_ids', JSONField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('campaign', 'ad_ids'),
        migrator.drop_column('campaign', 'refs'),
    )
