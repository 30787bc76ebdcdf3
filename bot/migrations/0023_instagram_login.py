# Instagram API with Instagram Login and story triggers (issue 22, first two parts).
# `channel.login`: which Meta login (and so which host and token kind) serves the channel:
# "facebook" (a page token on graph.facebook.com, as every channel so far) or "instagram" (an
# Instagram User token on graph.instagram.com, an Instagram account with no Facebook Page).
# `campaign.trigger_kind`: what starts a campaign: "comment" (every campaign so far),
# "story_mention" or "story_reply" (Instagram). Written by hand.
from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('channel', 'login', CharField(default='facebook')),
        migrator.add_column('campaign', 'trigger_kind', CharField(default='comment')),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('campaign', 'trigger_kind'),
        migrator.drop_column('channel', 'login'),
    )
