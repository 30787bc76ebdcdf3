# Issue 18: the embedded SQLite default commits webhooks to a journal file beside the database
# when the database is busy; this table records how far each journal file has been moved into
# `delivery` (in the same transaction as the moved rows). Written by hand as a frozen copy.
from peewee import *


def up(migrator, db):
    class DeliveryJournalMark(Model):
        generation = CharField(primary_key=True)
        moved_through = BigIntegerField()

        class Meta:
            database = db
            table_name = 'delivery_journal_mark'

    db.create_tables([DeliveryJournalMark])


def down(migrator, db):
    db.execute_sql('DROP TABLE delivery_journal_mark')
