# Issue 18: flows and the channels' handover settings are read for every message a customer
# writes in a DM thread (which flow the text starts, whether it asks for a human): two SELECTs and
# the parse of every active flow's definition per message, for rows that change when an admin
# saves them. Their writes now bump `config_version` too (migration 0018), so workers keep a
# copy of them per version (bot/platform/cache.py) like channels and campaigns. Written by hand.
import peewee

WATCHED = ("flow", "bot_setting")


def up(migrator, db):
    for table in WATCHED:
        if isinstance(db, peewee.PostgresqlDatabase):
            db.execute_sql(f'CREATE OR REPLACE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR '
                           f'TRUNCATE ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version()')
            continue
        for verb in ("INSERT", "UPDATE", "DELETE"):
            db.execute_sql(f'CREATE TRIGGER IF NOT EXISTS {table}_config_version_{verb.lower()} AFTER {verb} '
                           f'ON "{table}" BEGIN UPDATE config_version SET version = version + 1; END')


def down(migrator, db):
    for table in WATCHED:
        if isinstance(db, peewee.PostgresqlDatabase):
            db.execute_sql(f'DROP TRIGGER IF EXISTS {table}_config_version ON "{table}"')
            continue
        for verb in ("insert", "update", "delete"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_config_version_{verb}")
