# Generated from a schema diff on 2026-11-25 00:09.
from peewee import *

def up(migrator, db):
    class Channel(Model):
        class Meta:
            database = db
            table_name = 'channel'

    class Campaign(Model):
        name = CharField()
        channel = ForeignKeyField(Channel, on_delete='CASCADE')
        is_active = BooleanField(default=False)
        all_posts = BooleanField(default=True)
        post_ids = JSONField(default=list)
        include_replies = BooleanField(default=False)
        keywords_any = JSONField(default=list)
        keywords_none = JSONField(default=list)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'campaign'
    db.create_tables([Campaign])

    class CampaignRun(Model):
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        comment_id = CharField()
        post_id = CharField()
        matched = BooleanField()
        reason = CharField()
        detail = TextField(null=True)
        source = CharField(default='webhook')
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'campaign_run'
            indexes = ((('campaign', 'comment_id'), True), (('comment_id',), False), (('campaign', 'created_at'), False))
    db.create_tables([CampaignRun])

    class CampaignAction(Model):
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        position = IntegerField()
        kind = CharField()
        config = JSONField()
        class Meta:
            database = db
            table_name = 'campaign_action'
            indexes = ((('campaign', 'position'), True),)
    db.create_tables([CampaignAction])

    class ButtonClick(Model):
        run = ForeignKeyField(CampaignRun, on_delete='CASCADE')
        action = ForeignKeyField(CampaignAction, on_delete='CASCADE')
        kind = CharField()
        key = CharField(unique=True, max_length=512)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'button_click'
    db.create_tables([ButtonClick])

    class CampaignStep(Model):
        run = ForeignKeyField(CampaignRun, on_delete='CASCADE')
        action = ForeignKeyField(CampaignAction, on_delete='CASCADE')
        position = IntegerField()
        status = CharField()
        detail = TextField(null=True)
        due_at = BigIntegerField(null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'campaign_step'
            indexes = ((('run', 'position'), True),)
    db.create_tables([CampaignStep])

    class TrackedLink(Model):
        token = CharField(unique=True)
        run = ForeignKeyField(CampaignRun, on_delete='CASCADE')
        action = ForeignKeyField(CampaignAction, on_delete='CASCADE')
        url = TextField()
        clicks = IntegerField(default=0)
        first_clicked_at = BigIntegerField(null=True)
        created_at = BigIntegerField()
        class Meta:
            database = db
            table_name = 'tracked_link'
    db.create_tables([TrackedLink])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('tracked_link'))
    migrator.migrate(migrator.drop_table('campaign_step'))
    migrator.migrate(migrator.drop_table('button_click'))
    migrator.migrate(migrator.drop_table('campaign_action'))
    migrator.migrate(migrator.drop_table('campaign_run'))
    migrator.migrate(migrator.drop_table('campaign'))
