"""Customers: one contact per person, one identity per (channel, scoped user id), source tags,
and profiles fetched in the background.

A Messenger PSID and the `from.id` of the same person's comments on that page are the same
page-scoped id (meta-platform.md §4), so they land on one identity and one contact. Instagram
ids are a different namespace: a separate identity (and contact).
"""

from __future__ import annotations

from bot.core.errors import GraphError
from bot.inbound import pauses
from bot.platform import cache, runtime, statements
from bot.platform.db import db, insert_new, is_sqlite, now_ms, prepared
from bot.platform.models import Channel, Contact, ContactTag, Identity, Tag
from bot.platform.registry import channel_by_id, page_token

PROFILE_REFRESH_MS = 7 * 86400 * 1000
PROFILE_RETRY_MS = 86400 * 1000
# Meta not reached (refused, timed out, 5xx): the fetch is due again this much later, so the
# person's next messages do not each ask again (while the Graph API is unreachable every attempt
# holds a drain's thread for the client's connect retries: 0.5 s refused, up to 15 s timing out;
# a burst of one customer's messages crawled at ~20 per second). The job that retries the fetch
# (`jobs.refresh_profile`, backoff from 5 s) looks this far ahead, so it still makes the attempt.
PROFILE_RETRY_SOON_MS = 60_000

SOURCE_TAGS = {
    ("facebook", "dm"): "Facebook Messenger",
    ("instagram", "dm"): "Instagram Direct",
    ("facebook", "comment"): "Facebook Comments",
    ("instagram", "comment"): "Instagram Comments",
}


def identity_for(channel: Channel, scoped_id: str, *, name: str | None = None, username: str | None = None,
                 source_tag: str | None = None) -> tuple[Identity, bool]:
    """The identity of a user on a channel, created with a new contact when unknown.
    Returns (identity, created). Names seen in events fill the gaps until a profile is fetched.
    A new contact gets `source_tag` (on PostgreSQL in the statement that creates it); a known
    one is left for the caller to tag. Read once per unit of work (`cache.memo`): the inbox, a
    campaign and the outbox ask in turn."""
    created: list[Contact] = []
    identity = cache.memo("identity", (channel.id, scoped_id),
                          lambda: _stored_or_new(channel, scoped_id, name, username, source_tag, created))
    if created:
        cache.remember("contact", created[0].id, created[0])
        # Only `inbox.dm_conversation` makes DM threads, for a stored identity (never deleted): a
        # person new here has none, so the pause check and the private reply need not look it up.
        cache.remember("thread", pauses.thread_key(channel, scoped_id), None)
        return identity, True
    if (name and not identity.name) or (username and not identity.username):
        _fill_names(identity, name, username)
    return identity, False


def _stored_or_new(channel: Channel, scoped_id: str, name: str | None, username: str | None,
                   source_tag: str | None, created: list[Contact]) -> Identity:
    """The stored identity, or a new one with a new contact (appended to `created`, tagged)."""
    if not is_sqlite():
        tag_id = _tag_id(source_tag) if source_tag else None
        return _stored_or_new_in_one(channel, scoped_id, name, username, tag_id, created)
    identity = Identity.get_or_none((Identity.channel == channel) & (Identity.scoped_id == scoped_id))
    if identity is not None:
        return identity
    now = now_ms()
    contact = Contact.create(name=name or username or "", created_at=now, updated_at=now)
    fields = dict(contact=contact.id, channel=channel.id, platform=channel.platform, scoped_id=scoped_id, name=name,
                  username=username, created_at=now, profile_due_at=now)
    inserted = insert_new(Identity.insert(**fields))
    if not inserted:  # lost a race: keep the winner's contact
        contact.delete_instance()
        return Identity.get((Identity.channel == channel) & (Identity.scoped_id == scoped_id))
    created.append(contact)
    if source_tag:
        tag_contact(contact.id, source_tag)
    return Identity(id=inserted, **fields)  # the row as stored, without reading it back


_IDENTITY_COLUMNS = ", ".join(f'"{field.column_name}"' for field in Identity._meta.sorted_fields)
# Look-up, new contact and new identity in one statement (PostgreSQL, prepared: each value in a
# SELECT list is cast to its column's type): the contact and the identity are inserted only when
# no identity was found; `new_contact` is the contact inserted.
_STORED_OR_NEW = f"""
WITH found AS (SELECT {_IDENTITY_COLUMNS} FROM "identity" WHERE "channel_id" = %s AND "scoped_id" = %s),
 new_contact AS (INSERT INTO "contact" ("name", "created_at", "updated_at")
                 SELECT %s::text, %s::bigint, %s::bigint WHERE NOT EXISTS (SELECT 1 FROM found) RETURNING "id"),
 new_identity AS (INSERT INTO "identity" ("contact_id", "channel_id", "platform", "scoped_id", "name", "username",
                                          "profile_due_at", "created_at")
                  SELECT new_contact."id", %s::integer, %s::text, %s::text, %s::text, %s::text, %s::bigint, %s::bigint
                  FROM new_contact
                  ON CONFLICT DO NOTHING RETURNING {_IDENTITY_COLUMNS}){{tag}}
SELECT hit.*, (SELECT "id" FROM new_contact) AS "new_contact"
FROM (SELECT 1) AS one LEFT JOIN (SELECT {_IDENTITY_COLUMNS}, false AS "created" FROM found
                                  UNION ALL SELECT {_IDENTITY_COLUMNS}, true FROM new_identity) AS hit ON true
"""
# ... and the new contact's source tag, only when its identity was inserted (a contact that lost
# the race is deleted, and its tag with it).
_NEW_CONTACT_TAG = """,
 new_tag AS (INSERT INTO "contact_tag" ("contact_id", "tag_id", "created_at")
             SELECT "contact_id", %s::integer, %s::bigint FROM new_identity ON CONFLICT DO NOTHING)"""
_STORED_OR_NEW_UNTAGGED = _STORED_OR_NEW.format(tag="")
_STORED_OR_NEW_TAGGED = _STORED_OR_NEW.format(tag=_NEW_CONTACT_TAG)


def _stored_or_new_in_one(channel: Channel, scoped_id: str, name: str | None, username: str | None,
                          tag_id: int | None, created: list[Contact]) -> Identity:
    now = now_ms()
    contact_name = name or username or ""
    params: tuple = (channel.id, scoped_id, contact_name, now, now, channel.id, channel.platform, scoped_id, name,
                     username, now, now)
    if tag_id is None:
        cursor = db.execute_sql(prepared("socialdesk_identity", _STORED_OR_NEW_UNTAGGED), params)
    else:
        cursor = db.execute_sql(prepared("socialdesk_identity_tagged", _STORED_OR_NEW_TAGGED), (*params, tag_id, now))
    values = dict(zip([column[0] for column in cursor.description], cursor.fetchone(), strict=True))
    contact_id, is_new = values.pop("new_contact"), values.pop("created")
    if values["id"] is None:  # lost a race to a concurrent insert: keep the winner's contact
        Contact.delete().where(Contact.id == contact_id).execute()
        return Identity.get((Identity.channel == channel) & (Identity.scoped_id == scoped_id))
    if is_new:
        created.append(Contact(id=contact_id, name=contact_name, created_at=now, updated_at=now))
    return Identity(**values)


def _fill_names(identity: Identity, name: str | None, username: str | None) -> None:
    Identity.update(name=identity.name or name, username=identity.username or username).where(
        Identity.id == identity.id).execute()
    if name:
        Contact.update(name=name, updated_at=now_ms()).where(
            (Contact.id == identity.contact_id) & (Contact.name == "")).execute()


def tag_contact(contact_id: int, tag_name: str) -> None:
    """Attach a tag (created on first use); adding it twice changes nothing."""
    tag_id = _tag_id(tag_name)
    statements.insert(ContactTag, {"contact": contact_id, "tag": tag_id, "created_at": now_ms()}, ignore_conflict=True)


def _tag_id(tag_name: str) -> int:
    """The tag's id, the tag created on first use."""
    # Only a committed tag is kept in the process's copy (one created here may yet be rolled back).
    tag_id = cache.cached("tag", tag_name, lambda: Tag.select(Tag.id).where(Tag.name == tag_name).scalar())
    if tag_id is None:
        tag_id = Tag.get_or_create(name=tag_name)[0].id
    return tag_id


def untag_contact(contact_id: int, tag_name: str) -> None:
    tag = Tag.get_or_none(Tag.name == tag_name)
    if tag is not None:
        ContactTag.delete().where((ContactTag.contact == contact_id) & (ContactTag.tag == tag)).execute()


def tags_of(contact_id: int) -> list[str]:
    return [t.name for t in Tag.select().join(ContactTag).where(ContactTag.contact == contact_id).order_by(Tag.name)]


def profile_due(identity: Identity, ahead_ms: int = 0) -> bool:
    """Whether the profile is due (within `ahead_ms`: the retrying job's look)."""
    return identity.profile_due_at is not None and identity.profile_due_at <= now_ms() + ahead_ms


def refresh_profile(identity_id: int, known: Identity | None = None, *, ahead_ms: int = 0) -> None:
    """Fetch the person's profile from the Graph API and cache it. A refusal is recorded and
    retried a day later; Meta not reached, a minute later for messages (`PROFILE_RETRY_SOON_MS`)
    and by the caller's job (the error is raised). It never blocks anything else (messages are
    already stored). `known`: the row as the committed event that asked for the fetch left it, so
    it is not read back (at worst a concurrent fetch of the same person fetches it twice: a read,
    written the same way)."""
    identity = known if known is not None else Identity.get_or_none(Identity.id == identity_id)
    if identity is None or not profile_due(identity, ahead_ms):
        return
    channel = channel_by_id(identity.channel_id)
    try:
        profile = runtime.graph(channel.login).get_profile(channel.platform, identity.scoped_id, page_token(channel))
    except GraphError as exc:
        _profile_failed(identity.id, exc)
        if exc.retryable:
            raise
        return
    now = now_ms()
    statements.update_both((Identity, {
        "name": profile.name or identity.name, "username": profile.username or identity.username,
        "picture_url": profile.picture_url, "follower_count": profile.follower_count, "profile_fetched_at": now,
        "profile_due_at": now + PROFILE_REFRESH_MS, "profile_error": None}, {"id": identity.id}), (Contact, {
        "name": profile.name or identity.name or "", "first_name": profile.first_name,
        "last_name": profile.last_name, "picture_url": profile.picture_url, "updated_at": now},
        {"id": identity.contact_id}))


def _profile_failed(identity_id: int, exc: GraphError) -> None:
    later = PROFILE_RETRY_SOON_MS if exc.retryable else PROFILE_RETRY_MS
    statements.update(Identity, {"profile_error": exc.describe(), "profile_due_at": now_ms() + later},
                      {"id": identity_id})
