# Issue 22: campaign audience rules, contact referral sources, A/B variants on campaign steps and the
# "next post published" scope. Written by hand as a frozen copy.
from peewee import *

def up(migrator, db):
    class Contact(Model):
        class Meta:
            database = db
            table_name = 'contact'

    class Campaign(Model):
        class Meta:
            database = db
            table_name = 'campaign'

    class CampaignRun(Model):
        class Meta:
            database = db
            table_name = 'campaign_run'

    class ContactSource(Model):
        contact = ForeignKeyField(Contact, unique=True, on_delete='CASCADE')
        first_ref = CharField(null=True)
        first_ad_id = CharField(null=True)
        first_source = CharField(null=True)
        first_at = BigIntegerField()
        last_ref = CharField(null=True)
        last_ad_id = CharField(null=True)
        last_source = CharField(null=True)
        last_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'contact_source'

    class CampaignPerson(Model):
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        person = CharField()
        run = ForeignKeyField(CampaignRun, on_delete='CASCADE')
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'campaign_person'
            indexes = ((('campaign', 'person'), True),)
    db.create_tables([ContactSource, CampaignPerson])
    migrator.migrate(
        migrator.add_column('campaign', 'audience', JSONField(null=True)),
        migrator.add_column('campaign', 'source_conditions', JSONField(null=True)),
        migrator.add_column('campaign', 'next_post', BooleanField(default=False)),
        migrator.add_column('campaign', 'armed_at', BigIntegerField(null=True)),
        migrator.add_column('campaign', 'bound_post_id', CharField(null=True)),
        migrator.add_column('campaign_step', 'variant', IntegerField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('campaign_step', 'variant'),
        migrator.drop_column('campaign', 'bound_post_id'),
        migrator.drop_column('campaign', 'armed_at'),
        migrator.drop_column('campaign', 'next_post'),
        migrator.drop_column('campaign', 'source_conditions'),
        migrator.drop_column('campaign', 'audience'),
        migrator.drop_table('campaign_person'),
        migrator.drop_table('contact_source'),
    )
