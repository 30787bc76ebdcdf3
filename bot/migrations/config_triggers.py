"""The triggers that bump `config_version` (migration 0018; bot/platform/cache.py), put back after
every upgrade. On SQLite, peewee's migrator rebuilds a table to change a column (a new NOT NULL
column with a default, as 0023 and 0024 add to `channel` and `campaign`), and a rebuilt table has
lost its triggers: workers would then keep stale copies of channels and campaigns. Creating them
again after each upgrade (`IF NOT EXISTS`) makes that impossible for any later migration too."""

from __future__ import annotations

import peewee

# The tables whose rows workers copy: migration 0018's list and 0032's.
WATCHED = ("channel", "campaign", "campaign_action", "hook_endpoint", "assignment_rule", "tag", "user",
           "attribute_definition", "flow", "bot_setting")
_VOLATILE = "'last_webhook_at' - 'last_send_at'"


def ensure(database: peewee.Database) -> None:
    """Every watched table's trigger exists (a no-op before migration 0018 ran)."""
    if "config_version" not in database.get_tables():
        return
    if isinstance(database, peewee.PostgresqlDatabase):
        _ensure_postgres(database)
    else:
        _ensure_sqlite(database)


def _ensure_sqlite(database: peewee.Database) -> None:
    for table in WATCHED:
        for verb in ("INSERT", "UPDATE", "DELETE"):
            database.execute_sql(f'CREATE TRIGGER IF NOT EXISTS {table}_config_version_{verb.lower()} AFTER {verb} '
                                 f'ON "{table}" BEGIN UPDATE config_version SET version = version + 1; END')


def _ensure_postgres(database: peewee.Database) -> None:
    """PostgreSQL keeps triggers through ALTER TABLE; this only covers a table rebuilt by hand."""
    for table in WATCHED:
        verbs = "INSERT OR DELETE OR TRUNCATE" if table == "channel" else "INSERT OR UPDATE OR DELETE OR TRUNCATE"
        database.execute_sql(f'CREATE OR REPLACE TRIGGER {table}_config_version AFTER {verbs} '
                             f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version()')
    database.execute_sql(
        'CREATE OR REPLACE TRIGGER channel_config_version_update AFTER UPDATE ON "channel" FOR EACH ROW '
        f"WHEN ((to_jsonb(OLD) - {_VOLATILE}) IS DISTINCT FROM (to_jsonb(NEW) - {_VOLATILE})) "
        "EXECUTE FUNCTION bump_config_version()")
