# What the customer saw and what parsing repaired (issue 23): the Instagram story a message
# replies to (`reply_to_story`: {"id", "url"}), Meta's `is_unsupported` flag (a message type Meta
# does not deliver to apps: staff are sent to Meta's inbox), and `notes` (a list of what was
# repaired on the way in, e.g. a timestamp of 0 or in seconds). Written by hand.
from peewee import BooleanField, JSONField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('message', 'reply_to_story', JSONField(null=True)),
        migrator.add_column('message', 'unsupported', BooleanField(default=False)),
        migrator.add_column('message', 'notes', JSONField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('message', 'notes'),
        migrator.drop_column('message', 'unsupported'),
        migrator.drop_column('message', 'reply_to_story'),
    )
