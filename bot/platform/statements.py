"""The hot path's statements, from SQL text built once, prepared on PostgreSQL, no ORM object
where a tuple serves.

Building a statement through peewee costs more CPU than the database spends running it (a comment
that becomes a private reply writes a dozen rows: most of the worker's time was peewee composing
SQL text). Here the text of an INSERT, of an UPDATE-by-equality or of a SELECT-by-equality is
built once per (table, columns, options, backend) and kept; each call only converts its values
with the fields' `db_value` (JSON, booleans, foreign keys as peewee stores them) and runs the
text. Inserts add the fields' defaults as peewee's `Model.insert` does, and an ignored conflict
is SQLite's `INSERT OR IGNORE` and PostgreSQL's `ON CONFLICT DO NOTHING`, like
`on_conflict_ignore()`, so a row is written exactly as the peewee statement it replaces would
have written it.

On PostgreSQL each text is also prepared once per connection (`bot.platform.db.prepared`), its
parameters typed from the fields: parsing and planning these short statements cost the server
more than running them (measured per statement with `log_planner_stats`: 100-300 µs of planning
for 100-400 µs of execution). PostgreSQL still chooses between its generic plan and a custom one
per EXECUTE (`plan_cache_mode` auto): forcing the generic plan, made once per connection, often on
a young table, doubled the p99 of bench.e2e at 100 comments/s.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import peewee

from bot.platform.db import db, is_sqlite, prepared


class _Kept(NamedTuple):
    """A statement's SQL text and the name it is prepared under (PostgreSQL)."""

    text: str
    name: str


_kept: dict[tuple, _Kept] = {}  # statement key -> its text and name (per process; keys name all the text depends on)
_numbers = itertools.count(1)  # next() is atomic: two threads never share a name
# A field's column type as a prepared statement's parameter type; others are left for PostgreSQL
# to infer from where the parameter stands.
_PG_TYPES = {"AUTO": "integer", "INT": "integer", "BIGINT": "bigint", "VARCHAR": "text", "TEXT": "text",
             "BOOL": "boolean", "JSON": "jsonb", "BLOB": "bytea"}


class _Params(list):
    """A statement's values in the text's order, with each one's type for PostgreSQL's PREPARE."""

    def __init__(self) -> None:
        super().__init__()
        self.types: list[str] = []

    def add(self, value: object, field: peewee.Field | None) -> None:
        self.append(value)
        self.types.append(_PG_TYPES.get(field.field_type, "unknown") if field is not None else "unknown")


def insert(model: type[peewee.Model], fields: Mapping[str, object], *, ignore_conflict: bool = False) -> int | None:
    """Insert one row; its id, or None when `ignore_conflict` and a unique key was already taken.
    (SQLite's lastrowid is stale after an ignored insert, so the row count decides there.)"""
    if is_sqlite():
        cursor = _run_insert(model, fields, ignore_conflict, ())
        return cursor.lastrowid if cursor.rowcount == 1 else None
    row = _run_insert(model, fields, ignore_conflict, (_quoted(model._meta.primary_key.column_name),)).fetchone()
    return row[0] if row else None


def insert_new(model: type[peewee.Model], fields: Mapping[str, object]) -> int | None:
    """An INSERT that must not overwrite (`bot.platform.db.insert_new`): the new id, or None."""
    return insert(model, fields, ignore_conflict=True)


def insert_returning(model: type[peewee.Model], fields: Mapping[str, object], returning: tuple[str, ...], *,
                     ignore_conflict: bool = False) -> tuple | None:
    """PostgreSQL: insert one row and return `returning` (SQL expressions over the new row, constant
    text); None when the conflict was ignored."""
    return _run_insert(model, fields, ignore_conflict, returning).fetchone()


def insert_new_pair(parent: type[peewee.Model], parent_fields: Mapping[str, object], child: type[peewee.Model],
                    child_fields: Mapping[str, object], link: str) -> tuple[int | None, int | None]:
    """PostgreSQL: two `insert_new`s in one statement, the child row carrying the parent's new id
    in its field `link` (a new thread and its first message). The child is inserted only when the
    parent is new: (None, None) when the parent's unique key was taken, (parent id, None) when the
    child's was."""
    params = _Params()  # the parent's values, then the child's: the text's order
    parent_parts = _value_parts(parent, _with_defaults(parent, parent_fields), params)
    child_parts = _value_parts(child, _with_defaults(child, child_fields), params)
    key = ("pair", parent, parent_parts, child, child_parts, link, db.obj.param)
    return _execute(_statement(key, lambda: _pair_text(parent, parent_parts, child, child_parts, link)),
                    params).fetchone()


def _pair_text(parent: type[peewee.Model], parent_parts: tuple[tuple[str, str], ...], child: type[peewee.Model],
               child_parts: tuple[tuple[str, str], ...], link: str) -> str:
    parent_id, child_id = _quoted(parent._meta.primary_key.column_name), _quoted(child._meta.primary_key.column_name)
    columns = ", ".join(_quoted(column) for column, _ in (*child_parts, (child._meta.fields[link].column_name, "")))
    values = ", ".join(part for _, part in child_parts)
    return (f'WITH "parent" AS ({_insert_text(parent, parent_parts, True, (parent_id,))}), '
            f'"child" AS (INSERT INTO {_quoted(child._meta.table_name)} ({columns}) '
            f'SELECT {values}, "parent".{parent_id} FROM "parent" ON CONFLICT DO NOTHING RETURNING {child_id}) '
            f'SELECT (SELECT {parent_id} FROM "parent"), (SELECT {child_id} FROM "child")')


def insert_then_update(model: type[peewee.Model], fields: Mapping[str, object], target: type[peewee.Model],
                       values: Mapping[str, object], where: Mapping[str, object],
                       returning: tuple[str, ...] = ()) -> tuple | None:
    """Insert one row unless a unique key is taken (`insert_new`) and, only when it went in,
    update the rows of `target` that `where` picks (`update`): a message and its conversation's
    clocks. One statement on PostgreSQL, two on SQLite. The new id followed by `returning`
    (constant SQL over the updated row; one row is expected), or None when the row was there."""
    if is_sqlite():
        row_id = insert_new(model, fields)
        if row_id is None:
            return None
        params = _Params()
        set_parts, where_parts = _value_parts(target, values, params), _where_parts(target, where, params)
        key = ("update_returning", target, set_parts, where_parts, returning, db.obj.param)
        kept = _statement(key, lambda: _update_text(target, set_parts, where_parts) + _returning_text(returning))
        return (row_id, *(_execute(kept, params).fetchone() or ()))
    params = _Params()  # the inserted row's values, then the update's: the text's order
    parts = _value_parts(model, _with_defaults(model, fields), params)
    set_parts, where_parts = _value_parts(target, values, params), _where_parts(target, where, params)
    key = ("insert_then_update", model, parts, target, set_parts, where_parts, returning, db.obj.param)
    return _execute(_statement(key, lambda: _insert_then_update_text(model, parts, target, set_parts, where_parts,
                                                                     returning)), params).fetchone()


def _insert_then_update_text(model: type[peewee.Model], parts: tuple[tuple[str, str], ...],
                             target: type[peewee.Model], set_parts: tuple[tuple[str, str], ...],
                             where_parts: tuple[str, ...], returning: tuple[str, ...]) -> str:
    new_id = _quoted(model._meta.primary_key.column_name)
    inserted, the_id = 'EXISTS (SELECT 1 FROM "new")', f'(SELECT {new_id} FROM "new")'
    return (f'WITH "new" AS ({_insert_text(model, parts, True, (new_id,))}) '
            f'{_update_text(target, set_parts, (*where_parts, inserted))}{_returning_text((the_id, *returning))}')


def _returning_text(returning: tuple[str, ...]) -> str:
    return " RETURNING " + ", ".join(returning) if returning else ""


def update(model: type[peewee.Model], values: Mapping[str, object], where: Mapping[str, object]) -> int:
    """UPDATE `values` WHERE every column of `where` equals its value (None: IS NULL; a tuple:
    IN); the number of rows changed."""
    params = _Params()
    set_parts = _value_parts(model, values, params)
    where_parts = _where_parts(model, where, params)
    key = ("update", model, set_parts, where_parts, db.obj.param)
    return _execute(_statement(key, lambda: _update_text(model, set_parts, where_parts)), params).rowcount


def update_both(first: tuple[type[peewee.Model], Mapping[str, object], Mapping[str, object]],
                second: tuple[type[peewee.Model], Mapping[str, object], Mapping[str, object]]) -> None:
    """Two `update`s given as (model, values, where): one statement on PostgreSQL (a row and the
    row it belongs to, written together), two on SQLite."""
    if is_sqlite():
        update(*first)
        update(*second)
        return
    params = _Params()
    parts = [(model, _value_parts(model, values, params), _where_parts(model, where, params))
             for model, values, where in (first, second)]
    key = ("update_both", *parts, db.obj.param)
    _execute(_statement(key, lambda: f'WITH "first" AS ({_update_text(*parts[0])} RETURNING 1) '
                                     f'{_update_text(*parts[1])}'), params)


def _update_text(model: type[peewee.Model], set_parts: tuple[tuple[str, str], ...],
                 where_parts: tuple[str, ...]) -> str:
    sets = ", ".join(f"{_quoted(column)} = {part}" for column, part in set_parts)
    return f"UPDATE {_quoted(model._meta.table_name)} SET {sets} WHERE {' AND '.join(where_parts)}"


def update_guarded(model: type[peewee.Model], guarded: Mapping[str, object], always: Mapping[str, object],
                   where: Mapping[str, object], guard: Mapping[str, object]) -> int:
    """One UPDATE of the rows `where` picks: `always` set on each, `guarded` only where the row
    also matches `guard` (the others keep their values). A row for which that changes nothing
    (the guard fails and `always` holds its values already) is not written: on PostgreSQL every
    write is a new row version, in every index when it cannot stay on its page (the sender's
    outcome after the echo recorded the send: ten index entries and the text's trigrams again).
    The number of rows written. Every SET expression reads the row as it was, so the guard sees
    the old values."""
    params = _Params()
    sets = []
    for name, value in guarded.items():  # params in the text's order: the guard's, then the value's
        condition = " AND ".join(_where_parts(model, guard, params))
        ((column, part),) = _value_parts(model, {name: value}, params)
        sets.append(f"{_quoted(column)} = CASE WHEN {condition} THEN {part} ELSE {_quoted(column)} END")
    sets += [f"{_quoted(column)} = {part}" for column, part in _value_parts(model, always, params)]
    conditions = " AND ".join(_where_parts(model, where, params) + _changing(model, guard, always, params))
    key = ("update_guarded", model, tuple(sets), conditions, db.obj.param)
    kept = _statement(key, lambda: f"UPDATE {_quoted(model._meta.table_name)} SET {', '.join(sets)} "
                                   f"WHERE {conditions}")
    return _execute(kept, params).rowcount


def _changing(model: type[peewee.Model], guard: Mapping[str, object], always: Mapping[str, object],
              params: _Params) -> tuple[str, ...]:
    """The condition that an update guarded by `guard` and setting `always` changes the row."""
    differs = "IS NOT" if is_sqlite() else "IS DISTINCT FROM"
    changes = [" AND ".join(_where_parts(model, guard, params))] * bool(guard) + [
        f"{_quoted(column)} {differs} {part}" for column, part in _value_parts(model, always, params)]
    return (f"({' OR '.join(f'({change})' for change in changes)})",) if changes else ()


def select(model: type[peewee.Model], where: Mapping[str, object], *, columns: tuple[str, ...] = (),
           for_update: bool = False) -> list[peewee.Model]:
    """The rows where every column of `where` equals its value (None: IS NULL; a tuple: IN), as
    model instances (`model_row`); `columns`: only these fields (the others unset). `for_update`
    locks them until the transaction ends (PostgreSQL; SQLite's write transactions are exclusive).
    No order: a caller that needs one sorts (a plan that depends on an ORDER BY and on statistics
    a young table lacks can walk the wrong index)."""
    params = _Params()
    where_parts = _where_parts(model, where, params)
    locking = for_update and not is_sqlite()
    key = ("select", model, columns, where_parts, locking, db.obj.param)
    cursor = _execute(_statement(key, lambda: _select_text(model, columns, where_parts, locking)), params)
    return [model_row(model, cursor.description, row) for row in cursor.fetchall()]


def select_one(model: type[peewee.Model], where: Mapping[str, object], *,
               for_update: bool = False) -> peewee.Model | None:
    """The row `where` picks by a unique key (`select`), or None."""
    rows = select(model, where, for_update=for_update)
    return rows[0] if rows else None


def _select_text(model: type[peewee.Model], columns: tuple[str, ...], where_parts: tuple[str, ...],
                 locking: bool) -> str:
    fields = [model._meta.fields[name] for name in columns] if columns else model._meta.sorted_fields
    listed = ", ".join(_quoted(field.column_name) for field in fields)
    text = f"SELECT {listed} FROM {_quoted(model._meta.table_name)} WHERE {' AND '.join(where_parts)}"
    return text + " FOR UPDATE" if locking else text


def model_row(model: type[peewee.Model], description: Iterable[Any], row: tuple) -> peewee.Model:
    """A row read by a statement from here (or by raw SQL) as a model instance, its values
    converted as peewee's own reads convert them; columns that are no field are kept as attributes."""
    instance = model(__no_default__=1)
    columns = model._meta.columns
    for column, value in zip((entry[0] for entry in description), row, strict=True):
        field = columns.get(column)
        if field is None:
            setattr(instance, column, value)
        else:
            instance.__data__[field.name] = value if value is None else field.python_value(value)
    return instance


def _run_insert(model: type[peewee.Model], fields: Mapping[str, object], ignore_conflict: bool,
                returning: tuple[str, ...]):  # noqa: ANN202 - the driver's cursor
    params = _Params()
    parts = _value_parts(model, _with_defaults(model, fields), params)
    key = ("insert", model, parts, ignore_conflict, returning, db.obj.param)
    return _execute(_statement(key, lambda: _insert_text(model, parts, ignore_conflict, returning)), params)


def _statement(key: tuple, build: Callable[[], str]) -> _Kept:
    """The statement kept for `key`, its text built (and its name given) on first use."""
    kept = _kept.get(key)
    if kept is None:  # two threads may build it at once: the first kept wins, a number is skipped
        kept = _kept.setdefault(key, _Kept(build(), f"socialdesk_{next(_numbers)}"))
    return kept


def _execute(kept: _Kept, params: _Params):  # noqa: ANN202 - the driver's cursor
    """Run the statement: on PostgreSQL as the one prepared under its name on this connection."""
    if is_sqlite():
        return db.execute_sql(kept.text, params)
    return db.execute_sql(prepared(kept.name, kept.text, params.types), params)


def _with_defaults(model: type[peewee.Model], fields: Mapping[str, object]) -> dict[str, object]:
    """The row with the fields' defaults for what it leaves out, as peewee's insert fills them in."""
    row = dict(fields)
    for field, default in model._meta.defaults.items():
        if field.name not in row:
            row[field.name] = default() if callable(default) else default
    return row


def _insert_text(model: type[peewee.Model], parts: tuple[tuple[str, str], ...], ignore_conflict: bool,
                 returning: tuple[str, ...]) -> str:
    verb = "INSERT OR IGNORE INTO" if ignore_conflict and is_sqlite() else "INSERT INTO"
    columns = ", ".join(_quoted(column) for column, _ in parts)
    text = f"{verb} {_quoted(model._meta.table_name)} ({columns}) VALUES ({', '.join(part for _, part in parts)})"
    if ignore_conflict and not is_sqlite():
        text += " ON CONFLICT DO NOTHING"
    if returning:
        text += " RETURNING " + ", ".join(returning)
    return text


def _value_parts(model: type[peewee.Model], values: Mapping[str, object],
                 params: _Params) -> tuple[tuple[str, str], ...]:
    """(column, placeholder) per value, appending the converted values to `params`. A value the
    field converts into SQL (SQLite's JSON is `json(?)`) is rendered once here, so the text
    follows it."""
    fields = model._meta.fields
    parts = []
    for name, value in values.items():
        field = fields[name]
        parts.append((field.column_name, _placeholder(field.db_value(value), params, field)))
    return tuple(parts)


def _placeholder(value: object, params: _Params, field: peewee.Field) -> str:
    if isinstance(value, peewee.Node):  # e.g. `Conversation.unread_count + 1`: its columns unqualified
        context = db.obj.get_sql_context()
        with context.scope_values():
            context.sql(value)
        sql, node_params = context.query()
        for node_param in node_params:
            params.add(node_param, None)
        return sql
    params.add(value, field)
    return db.obj.param


def _where_parts(model: type[peewee.Model], where: Mapping[str, object], params: _Params) -> tuple[str, ...]:
    fields = model._meta.fields
    parts = []
    for name, value in where.items():
        field = fields[name]
        column = _quoted(field.column_name)
        if value is None:
            parts.append(f"{column} IS NULL")
        elif isinstance(value, tuple):
            for item in value:
                params.add(field.db_value(item), field)
            parts.append(f"{column} IN ({', '.join([db.obj.param] * len(value))})")
        else:
            parts.append(f"{column} = {_placeholder(field.db_value(value), params, field)}")
    return tuple(parts)


def _quoted(name: str) -> str:
    return f'"{name}"'
