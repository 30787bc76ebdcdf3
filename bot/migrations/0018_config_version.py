# Issue 18: one counter that moves whenever configuration read on every event or send changes
# (channels, campaigns and their actions, outgoing webhook endpoints, assignment rules, tags, staff
# users). Workers keep per-process copies of those rows and drop them when the counter moves
# (bot/platform/cache.py). Triggers bump it, so every writer is covered, including ones that are
# not socialdesk (an operator's SQL). `epoch` is random per row: a database that was emptied and
# refilled (tests truncate) never matches copies taken from its former contents. Written by hand.
import secrets

import peewee

WATCHED = ("channel", "campaign", "campaign_action", "hook_endpoint", "assignment_rule", "tag", "user",
           "attribute_definition")


VOLATILE = "'last_webhook_at' - 'last_send_at'"


def up(migrator, db):
    db.execute_sql('CREATE TABLE IF NOT EXISTS config_version '
                   '(id INTEGER PRIMARY KEY, epoch VARCHAR(32) NOT NULL, version BIGINT NOT NULL)')
    db.execute_sql("INSERT INTO config_version (id, epoch, version) VALUES (1, %s, 0)" if _pg(db)
                   else "INSERT INTO config_version (id, epoch, version) VALUES (1, ?, 0)", (secrets.token_hex(8),))
    if _pg(db):
        db.execute_sql(
            "CREATE OR REPLACE FUNCTION bump_config_version() RETURNS trigger AS $$ BEGIN "
            "UPDATE config_version SET version = version + 1; RETURN NULL; END $$ LANGUAGE plpgsql")
        for table in WATCHED:
            verbs = "INSERT OR DELETE OR TRUNCATE" if table == "channel" else "INSERT OR UPDATE OR DELETE OR TRUNCATE"
            db.execute_sql(f'CREATE TRIGGER {table}_config_version AFTER {verbs} '
                           f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version()')
        # A channel's "last heard from Meta" / "last sent" times change every few seconds and are
        # no configuration (bot.platform.registry.touch): they alone do not bump the version.
        db.execute_sql(
            'CREATE TRIGGER channel_config_version_update AFTER UPDATE ON "channel" FOR EACH ROW '
            f"WHEN ((to_jsonb(OLD) - {VOLATILE}) IS DISTINCT FROM (to_jsonb(NEW) - {VOLATILE})) "
            "EXECUTE FUNCTION bump_config_version()")
        return
    for table in WATCHED:  # SQLite (embedded, low volume): every write bumps, touches included
        for verb in ("INSERT", "UPDATE", "DELETE"):
            db.execute_sql(f'CREATE TRIGGER {table}_config_version_{verb.lower()} AFTER {verb} ON "{table}" '
                           f'BEGIN UPDATE config_version SET version = version + 1; END')


def down(migrator, db):
    if _pg(db):
        for table in WATCHED:
            db.execute_sql(f'DROP TRIGGER IF EXISTS {table}_config_version ON "{table}"')
        db.execute_sql('DROP TRIGGER IF EXISTS channel_config_version_update ON "channel"')
        db.execute_sql("DROP FUNCTION IF EXISTS bump_config_version()")
    else:
        for table in WATCHED:
            for verb in ("insert", "update", "delete"):
                db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_config_version_{verb}")
    db.execute_sql("DROP TABLE IF EXISTS config_version")


def _pg(db):
    return isinstance(db, peewee.PostgresqlDatabase)
