"""One contact per person across channels: merging two contacts, undoing a merge, and suggesting
merges.

A merge moves every row that points at the merged contact (identities, conversations, tags, and
whatever later tables refer to a contact, such as custom attributes) onto the survivor, records
which rows moved in a `ContactMerge`, and deletes the merged contact, whose row is kept in the
record. A row the survivor already has an equal of (the same tag) cannot move without breaking a
unique index: it is kept whole in the record ("displaced") and put back by the undo. Undoing
recreates the contact with its old id, empties the survivor's profile fields the merge filled in,
and moves back exactly the rows that moved, plus the
conversations its identities opened since (new messages of a moved identity land on the
survivor, because `bot.inbound.contacts.identity_for` follows the identity's contact).

Where the person came from (`ContactSource`, one row per contact) moves like any row; when both
contacts have one, the survivor keeps the earliest first touch and the latest last touch of the
two (the merged row is displaced as usual) and the undo puts the survivor's row back as it was.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec
from peewee import ForeignKeyField, Model, fn
from playhouse.shortcuts import model_to_dict

from bot.core.errors import Invalid, NotFound, Refused
from bot.outbound import outhooks
from bot.platform.db import is_sqlite, now_ms, transaction
from bot.platform.models import Contact, ContactMerge, ContactSource, Conversation, Identity, User

MAX_SUGGESTIONS = 100
SKIPPED_REFERENCES = (ContactMerge,)
PROFILE_FIELDS = ("name", "first_name", "last_name", "picture_url")
SOURCE_KEY = "contact_source"  # in `ContactMerge.filled`: the survivor's source row before the merge
TOUCH_FIELDS = ("ref", "ad_id", "source", "at")


class MergeView(msgspec.Struct, kw_only=True):
    """A recorded merge: who survived, who was merged (and under which name), what moved."""

    id: int
    survivor_id: int
    merged_id: int
    merged_name: str
    moved: dict[str, int]  # table -> rows moved
    displaced: dict[str, int]  # table -> rows kept aside (the survivor had an equal one)
    merged_by: int | None
    created_at: int
    unmerged_at: int | None
    unmerged_by: int | None


class Merged(msgspec.Struct, kw_only=True):
    """A merge done, with the outgoing-webhook deliveries to enqueue once it is committed."""

    merge: MergeView
    hook_deliveries: list[int]


class Suggestion(msgspec.Struct, kw_only=True):
    """Two contacts that look like one person, and why."""

    contact_id: int
    contact_name: str
    other_id: int
    other_name: str
    reasons: list[str]


# --- merging ---------------------------------------------------------------------------------------------


def merge(survivor_id: int, merged_id: int, user_id: int | None) -> Merged:
    """Merge contact `merged_id` into `survivor_id`; returns the record (undo it with `unmerge`)."""
    if survivor_id == merged_id:
        raise Invalid("merged_id", "a contact cannot be merged with itself")
    with transaction():
        survivor, merged = _locked(survivor_id, "contact_id"), _locked(merged_id, "merged_id")
        snapshot = _row(merged)
        source_before = _combine_sources(survivor.id, merged.id)
        displaced = _displace(survivor.id, merged.id)
        moved = _move(merged.id, survivor.id)
        Contact.delete().where(Contact.id == merged.id).execute()
        filled = {**_fill_gaps(survivor, merged), **source_before}
        record = ContactMerge.create(survivor_id=survivor.id, merged_id=merged.id, merged_row=snapshot, moved=moved,
                                     displaced=displaced, filled=filled, merged_by=user_id, created_at=now_ms())
        view = view_of(record)
        hooks = outhooks.contact_merged(msgspec.to_builtins(view))
    return Merged(merge=view, hook_deliveries=hooks)


def _locked(contact_id: int, field: str) -> Contact:
    """The contact, locked until the merge commits (PostgreSQL; SQLite's write lock is already
    held): a conversation being created for it meanwhile waits, then fails and is retried."""
    query = Contact.select().where(Contact.id == contact_id)
    row = (query if is_sqlite() else query.for_update()).get_or_none()
    if row is None:
        raise NotFound("contact", contact_id) if field == "contact_id" else Invalid(field, "no such contact")
    return row


def _references() -> list[tuple[type[Model], ForeignKeyField]]:
    """Every (table, column) pointing at a contact, found from the models so that a table added
    later (custom attributes) moves with the rest without this module knowing it."""
    return [(field.model, field) for field in Contact._meta.backrefs
            if field.model not in SKIPPED_REFERENCES]


def _unique_peers(model: type[Model], field: ForeignKeyField) -> list[list[str]]:
    """For each unique index containing `field`, the other columns: rows of two contacts equal
    on them cannot both point at the survivor."""
    sets = [list(columns) for columns, unique in model._meta.indexes if unique and field.name in columns]
    if field.unique:
        sets.append([field.name])
    return [[model._meta.fields[c].name for c in columns if c != field.name] for columns in sets]


def _displace(survivor_id: int, merged_id: int) -> dict[str, list[dict[str, Any]]]:
    """Rows of the merged contact that clash with the survivor's: kept whole, then deleted."""
    kept: dict[str, list[dict[str, Any]]] = {}
    for model, field in _references():
        for peers in _unique_peers(model, field):
            for row in model.select().where(field == merged_id):
                if _clashes(model, field, survivor_id, row, peers):
                    kept.setdefault(model._meta.table_name, []).append(_row(row))
                    model.delete().where(model.id == row.id).execute()
    return kept


def _clashes(model: type[Model], field: ForeignKeyField, survivor_id: int, row: Model, peers: list[str]) -> bool:
    query = model.select().where(field == survivor_id)
    for name in peers:
        query = query.where(model._meta.fields[name] == getattr(row, model._meta.fields[name].column_name))
    return query.exists()


def _move(from_id: int, to_id: int) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {}
    for model, field in _references():
        ids = [r.id for r in model.select(model.id).where(field == from_id).order_by(model.id)]
        if ids:
            model.update({field: to_id}).where(model.id.in_(ids)).execute()
        moved[model._meta.table_name] = ids
    return moved


def _fill_gaps(survivor: Contact, merged: Contact) -> dict[str, Any]:
    """Profile fields the survivor lacks are taken from the merged contact; returns them, so the
    undo can empty them again."""
    changes = {name: getattr(merged, name) for name in PROFILE_FIELDS
               if not getattr(survivor, name) and getattr(merged, name)}
    if changes:
        Contact.update(**changes, updated_at=now_ms()).where(Contact.id == survivor.id).execute()
    return changes


def _combine_sources(survivor_id: int, merged_id: int) -> dict[str, Any]:
    """When both contacts have a source row, give the survivor's the earliest first touch and the
    latest last touch of the two; returns {SOURCE_KEY: the survivor's row as it was} for the undo
    (empty when there was nothing to combine: a lone row simply moves)."""
    mine = ContactSource.get_or_none(ContactSource.contact == survivor_id)
    theirs = ContactSource.get_or_none(ContactSource.contact == merged_id)
    if mine is None or theirs is None:
        return {}
    changes = {**(_touch(theirs, "first") if theirs.first_at < mine.first_at else {}),
               **(_touch(theirs, "last") if theirs.last_at > mine.last_at else {})}
    if changes:
        ContactSource.update(**changes).where(ContactSource.id == mine.id).execute()
    return {SOURCE_KEY: _row(mine)}


def _touch(row: ContactSource, which: str) -> dict[str, Any]:
    return {f"{which}_{name}": getattr(row, f"{which}_{name}") for name in TOUCH_FIELDS}


def _unfill(record: ContactMerge) -> None:
    """Empty again what the merge filled in, where it still holds the value the merge put there;
    put the survivor's source row back as it was before the merge."""
    filled = dict(record.filled or {})
    source = filled.pop(SOURCE_KEY, None)
    if source is not None:
        ContactSource.update(**{k: v for k, v in source.items() if k not in ("id", "contact")}).where(
            ContactSource.id == source["id"]).execute()
    for name, value in filled.items():
        empty = "" if name == "name" else None
        Contact.update({Contact._meta.fields[name]: empty}).where(
            (Contact.id == record.survivor_id) & (Contact._meta.fields[name] == value)).execute()


def _row(row: Model) -> dict[str, Any]:
    return model_to_dict(row, recurse=False)


# --- undoing -----------------------------------------------------------------------------------------------


def unmerge(merge_id: int, user_id: int | None) -> MergeView:
    """Undo a merge: the merged contact comes back with its id, and every row that moved (and
    every conversation its identities opened since) goes back to it."""
    with transaction():
        record = ContactMerge.get_or_none(ContactMerge.id == merge_id)
        if record is None:
            raise NotFound("merge", merge_id)
        _check_undoable(record)
        _locked(record.survivor_id, "contact_id")
        Contact.insert(**record.merged_row).execute()
        _move_back(record)
        _restore(record.displaced or {})
        _unfill(record)
        ContactMerge.update(unmerged_at=now_ms(), unmerged_by=user_id).where(ContactMerge.id == record.id).execute()
        return view_of(ContactMerge.get_by_id(record.id))


def _check_undoable(record: ContactMerge) -> None:
    if record.unmerged_at is not None:
        raise Refused("this merge was already undone")
    if not Contact.select().where(Contact.id == record.survivor_id).exists():
        raise Refused("the surviving contact was merged into another since: undo that merge first")
    if Contact.select().where(Contact.id == record.merged_id).exists():
        raise Refused("the merged contact exists again")


def _move_back(record: ContactMerge) -> None:
    tables = {model._meta.table_name: (model, field) for model, field in _references()}
    for table, ids in (record.moved or {}).items():
        if table in tables and ids:
            model, field = tables[table]
            model.update({field: record.merged_id}).where(
                model.id.in_(ids) & (field == record.survivor_id)).execute()
    identities = (record.moved or {}).get(Identity._meta.table_name) or []
    if identities:  # conversations those identities started after the merge
        Conversation.update(contact=record.merged_id).where(
            Conversation.identity.in_(identities) & (Conversation.contact == record.survivor_id)).execute()


def _restore(displaced: dict[str, list[dict[str, Any]]]) -> None:
    tables = {model._meta.table_name: model for model, _ in _references()}
    for table, rows in displaced.items():
        if table in tables:
            for row in rows:
                tables[table].insert(**row).on_conflict_ignore().execute()


# --- reading ---------------------------------------------------------------------------------------------


def view_of(record: ContactMerge) -> MergeView:
    return MergeView(id=record.id, survivor_id=record.survivor_id, merged_id=record.merged_id,
                     merged_name=str((record.merged_row or {}).get("name") or ""),
                     moved={t: len(ids) for t, ids in (record.moved or {}).items()},
                     displaced={t: len(rows) for t, rows in (record.displaced or {}).items()},
                     merged_by=record.merged_by_id, created_at=record.created_at,
                     unmerged_at=record.unmerged_at, unmerged_by=record.unmerged_by_id)


def merges_of(contact_id: int, limit: int = 50) -> list[MergeView]:
    """The merges into this contact, newest first (undone ones included, for the record)."""
    rows = (ContactMerge.select().where(ContactMerge.survivor_id == contact_id)
            .order_by(ContactMerge.created_at.desc(), ContactMerge.id.desc()).limit(limit))
    return [view_of(r) for r in rows]


def merged_by_name(user_id: int | None) -> str:
    user = User.get_or_none(User.id == user_id) if user_id else None
    return (user.name or user.email) if user else ""


# --- suggesting ------------------------------------------------------------------------------------------


def suggestions(limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
    """Pairs of contacts that are probably one person: the same name or the same profile
    picture, never seen on a common channel (one person has one id per page or account, so two
    contacts on the same channel are two people), and not a pair staff split apart before.
    Grouping by the value (not a self-join) keeps it one pass over the contacts."""
    found: dict[tuple[int, int], list[str]] = defaultdict(list)
    for key, reason in ((fn.LOWER(fn.TRIM(Contact.name)), "same name"), (Contact.picture_url, "same picture")):
        for members in _groups(key, limit):
            _pair_up(members, reason, found)
    refused = _split_pairs()
    pairs = [(a, b, r) for (a, b), r in found.items() if (a, b) not in refused and not _share_channel(a, b)]
    names = {c.id: c.name for c in Contact.select(Contact.id, Contact.name).where(
        Contact.id.in_({x for a, b, _ in pairs for x in (a, b)} or {0}))}
    return [Suggestion(contact_id=a, contact_name=names.get(a, ""), other_id=b, other_name=names.get(b, ""),
                       reasons=r) for a, b, r in pairs[:limit]]


def _groups(key: Any, limit: int) -> list[list[int]]:
    values = [r.value for r in Contact.select(key.alias("value")).where(key.is_null(False) & (key != ""))
              .group_by(key).having(fn.COUNT(Contact.id) > 1).order_by(key).limit(limit)]
    if not values:
        return []
    grouped: dict[Any, list[int]] = defaultdict(list)
    for row in Contact.select(Contact.id, key.alias("value")).where(key.in_(values)).order_by(Contact.id):
        grouped[row.value].append(row.id)
    return [ids[:10] for ids in grouped.values()]  # a common name: only the first few, not n²


def _pair_up(members: list[int], reason: str, found: dict[tuple[int, int], list[str]]) -> None:
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            found[(a, b)].append(reason)


def _split_pairs() -> set[tuple[int, int]]:
    rows = ContactMerge.select(ContactMerge.survivor_id, ContactMerge.merged_id).where(
        ContactMerge.unmerged_at.is_null(False))
    return {(min(r.survivor_id, r.merged_id), max(r.survivor_id, r.merged_id)) for r in rows}


def _share_channel(a: int, b: int) -> bool:
    mine = Identity.select(Identity.channel).where(Identity.contact == a)
    return Identity.select().where((Identity.contact == b) & Identity.channel.in_(mine)).exists()
