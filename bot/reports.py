"""Reports for admins, computed from stored facts only: messages (who wrote what, when) and the
conversations' status changes (`StatusChange`, written when staff close or reopen). No counter
is kept on the side, so a report of any past range can be recomputed and checked.

Definitions (times in ms since the epoch; days are UTC days):
- A conversation is *opened* by the first customer message after it was last closed (or ever),
  or by staff reopening it by hand.
- *First response time*: from the customer message that opened it to the first staff reply after
  that (bot, campaign and automatic messages are not responses). Counted in the range of the reply.
- *Resolution time*: from the opening to the close that followed. Counted in the range of the close.
- *Per channel per day*: messages in and out (refused or failed sends are not messages anyone
  got) and the distinct conversations they belong to.
- *Per agent*: staff replies written, first responses given (and their average), closes made.

CSV exports stream every contact or conversation; a cell a spreadsheet would run as a formula
(starting with = + - @) is prefixed with `'`, since names and texts come from customers.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import msgspec
from peewee import fn

from bot.core.errors import Invalid
from bot.platform.db import connection
from bot.platform.models import (
    AttributeDefinition,
    Channel,
    Contact,
    ContactAttribute,
    ContactTag,
    Conversation,
    Identity,
    Message,
    StatusChange,
    Tag,
    User,
)

DAY_MS = 86_400_000
MAX_RANGE_DAYS = 366
NOT_DELIVERED = ("failed", "refused")  # a send that never reached the customer is not a reply


class Durations(msgspec.Struct):
    """How long something took, over `count` cases (seconds; None when there was none)."""

    count: int
    average_seconds: float | None
    median_seconds: float | None


class ChannelDay(msgspec.Struct):
    day: str  # YYYY-MM-DD (UTC)
    channel_id: int
    channel: str
    conversations: int
    messages_in: int
    messages_out: int


class AgentRow(msgspec.Struct):
    user_id: int
    name: str
    replies: int
    first_responses: int
    average_first_response_seconds: float | None
    conversations_closed: int


class Report(msgspec.Struct):
    since: int
    until: int
    first_response: Durations
    resolution: Durations
    per_channel_day: list[ChannelDay]
    per_agent: list[AgentRow]


def checked_range(since: int, until: int) -> tuple[int, int]:
    """A range [since, until) of at most a year: bounded work for any request."""
    if until <= since:
        raise Invalid("until", "must be after since")
    if until - since > MAX_RANGE_DAYS * DAY_MS:
        raise Invalid("until", f"a report covers at most {MAX_RANGE_DAYS} days")
    return since, until


def report(since: int, until: int) -> Report:
    since, until = checked_range(since, until)
    timings = _timings(since, until)
    return Report(since=since, until=until, first_response=_durations(timings.first_responses),
                  resolution=_durations(timings.resolutions), per_channel_day=per_channel_day(since, until),
                  per_agent=per_agent(since, until, timings))


# --- response and resolution times (a walk over each touched conversation's facts) -------------------


@dataclass
class Timings:
    first_responses: list[int] = field(default_factory=list)  # ms
    resolutions: list[int] = field(default_factory=list)
    responders: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class _Walk:
    """One conversation's state while its facts are replayed in time order."""

    opened_at: int | None = None
    waiting_since: int | None = None  # the opening customer message not yet answered


def _timings(since: int, until: int) -> Timings:
    timings = Timings()
    for facts in _facts_by_conversation(since, until):
        walk = _Walk()
        for at, kind, user_id in facts:
            _step(walk, at, kind, user_id, since <= at < until, timings)
    return timings


def _step(walk: _Walk, at: int, kind: str, user_id: int | None, inside: bool, timings: Timings) -> None:
    if kind == "customer" and walk.opened_at is None:
        walk.opened_at = walk.waiting_since = at
    elif kind == "reopen" and walk.opened_at is None:
        walk.opened_at = at
    elif kind == "staff" and walk.waiting_since is not None:
        if inside:
            timings.first_responses.append(at - walk.waiting_since)
            if user_id is not None:
                timings.responders[user_id].append(at - walk.waiting_since)
        walk.waiting_since = None
    elif kind == "close" and walk.opened_at is not None:
        if inside:
            timings.resolutions.append(at - walk.opened_at)
        walk.opened_at = walk.waiting_since = None


def _facts_by_conversation(since: int, until: int) -> Iterator[list[tuple[int, str, int | None]]]:
    """For each conversation with a reply or a close in the range, its facts up to `until`,
    oldest first (a status change before a message at the same millisecond). Two queries with the
    touched conversations as a subquery, read from the raw cursor: converting each row through
    the model costs more than the query at a few hundred thousand facts (bench/reports.py)."""
    touched = (Message.select(Message.conversation).where(_staff_replies(since, until))
               | StatusChange.select(StatusChange.conversation).where(
                   (StatusChange.at >= since) & (StatusChange.at < until)))
    facts: dict[int, list[tuple[int, int, str, int | None]]] = defaultdict(list)
    messages = (Message.select(Message.conversation, Message.occurred_at, Message.author, Message.author_user)
                .where(Message.conversation.in_(touched) & (Message.occurred_at < until) & _counted()))
    for conversation_id, occurred_at, author, user_id in _raw(messages):
        facts[conversation_id].append((occurred_at, 1, author, user_id))
    changes = (StatusChange.select(StatusChange.conversation, StatusChange.at, StatusChange.status, StatusChange.user)
               .where(StatusChange.conversation.in_(touched) & (StatusChange.at < until)))
    for conversation_id, at, status, user_id in _raw(changes):
        facts[conversation_id].append((at, 0, "close" if status == "closed" else "reopen", user_id))
    for rows in facts.values():
        yield [(at, kind, user) for at, _, kind, user in sorted(rows, key=lambda f: f[:2])]


def _raw(query) -> Iterator[tuple]:  # noqa: ANN001 - a peewee select of plain columns
    cursor = query.model._meta.database.execute(query)
    while batch := cursor.fetchmany(5000):
        yield from batch


def _counted():  # noqa: ANN202 - a peewee expression
    """Customer messages, and staff replies that were not refused or failed."""
    return ((Message.direction == "in") & (Message.author == "customer")) | (
        (Message.direction == "out") & (Message.author == "staff") & Message.status.not_in(NOT_DELIVERED))


def _staff_replies(since: int, until: int):  # noqa: ANN202 - a peewee expression
    return ((Message.direction == "out") & (Message.author == "staff") & Message.status.not_in(NOT_DELIVERED)
            & (Message.occurred_at >= since) & (Message.occurred_at < until))


def _durations(values_ms: list[int]) -> Durations:
    if not values_ms:
        return Durations(count=0, average_seconds=None, median_seconds=None)
    return Durations(count=len(values_ms), average_seconds=round(statistics.fmean(values_ms) / 1000, 3),
                     median_seconds=round(statistics.median(values_ms) / 1000, 3))


# --- volumes ----------------------------------------------------------------------------------------------


def per_channel_day(since: int, until: int) -> list[ChannelDay]:
    """Messages and conversations per channel per UTC day (integer division groups the days
    alike on SQLite and PostgreSQL)."""
    day = (Message.occurred_at / DAY_MS).alias("day")
    rows = (Message.select(Message.channel, day, Message.direction, fn.COUNT(Message.id).alias("n"),
                           fn.COUNT(Message.conversation.distinct()).alias("c"))
            .where((Message.occurred_at >= since) & (Message.occurred_at < until)
                   & Message.status.not_in(NOT_DELIVERED))
            .group_by(Message.channel, day, Message.direction).tuples())
    names = {c.id: c.name for c in Channel.select(Channel.id, Channel.name)}
    cells: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
    for channel_id, day_number, direction, count, _ in rows:
        cells[(int(day_number), channel_id)][direction] = count
    conversations = _conversations_per_channel_day(since, until)
    return [ChannelDay(day=_day(d), channel_id=ch, channel=names.get(ch, ""), conversations=conversations[(d, ch)],
                       messages_in=v["in"], messages_out=v["out"]) for (d, ch), v in sorted(cells.items())]


def _conversations_per_channel_day(since: int, until: int) -> dict[tuple[int, int], int]:
    day = (Message.occurred_at / DAY_MS).alias("day")
    rows = (Message.select(Message.channel, day, fn.COUNT(Message.conversation.distinct()))
            .where((Message.occurred_at >= since) & (Message.occurred_at < until)
                   & Message.status.not_in(NOT_DELIVERED))
            .group_by(Message.channel, day).tuples())
    return {(int(d), ch): n for ch, d, n in rows}


def _day(day_number: int) -> str:
    return datetime.datetime.fromtimestamp(day_number * 86_400, datetime.UTC).date().isoformat()


def per_agent(since: int, until: int, timings: Timings) -> list[AgentRow]:
    replies = dict(Message.select(Message.author_user, fn.COUNT(Message.id))
                   .where(_staff_replies(since, until) & Message.author_user.is_null(False))
                   .group_by(Message.author_user).tuples())
    closes = dict(StatusChange.select(StatusChange.user, fn.COUNT(StatusChange.id))
                  .where((StatusChange.status == "closed") & (StatusChange.at >= since) & (StatusChange.at < until)
                         & StatusChange.user.is_null(False)).group_by(StatusChange.user).tuples())
    ids = set(replies) | set(closes) | set(timings.responders)
    users = {u.id: u for u in User.select().where(User.id.in_(list(ids)))} if ids else {}
    rows = [AgentRow(user_id=i, name=users[i].name or users[i].email, replies=replies.get(i, 0),
                     first_responses=len(timings.responders.get(i, [])),
                     average_first_response_seconds=_durations(timings.responders.get(i, [])).average_seconds,
                     conversations_closed=closes.get(i, 0)) for i in ids if i in users]
    return sorted(rows, key=lambda r: (-r.replies, r.name))


# --- CSV exports -----------------------------------------------------------------------------------------

BATCH = 1000


def contacts_csv() -> Iterator[str]:
    """Every contact: names, identities, tags and custom attributes (one column each)."""
    keys = [d.key for d in AttributeDefinition.select().order_by(AttributeDefinition.key)]
    yield _line(["id", "name", "first_name", "last_name", "identities", "tags", "created_at",
                 *[f"attributes.{k}" for k in keys]])
    for batch in _batches(Contact.select().order_by(Contact.id)):
        ids = [c.id for c in batch]
        tags, identities, values = _contact_extras(ids)
        for c in batch:
            yield _line([c.id, c.name, c.first_name, c.last_name, "; ".join(identities[c.id]),
                         "; ".join(sorted(tags[c.id])), _iso(c.created_at), *[values[c.id].get(k) for k in keys]])


def _contact_extras(ids: list[int]) -> tuple[dict, dict, dict]:
    tags: dict[int, list[str]] = defaultdict(list)
    for contact_id, name in ContactTag.select(ContactTag.contact, Tag.name).join(Tag).where(
            ContactTag.contact.in_(ids)).tuples():
        tags[contact_id].append(name)
    identities: dict[int, list[str]] = defaultdict(list)
    for i in Identity.select().where(Identity.contact.in_(ids)).order_by(Identity.id):
        identities[i.contact_id].append(f"{i.platform}:{i.username or i.scoped_id}")
    values: dict[int, dict[str, str]] = defaultdict(dict)
    for contact_id, key, value in (ContactAttribute.select(ContactAttribute.contact, AttributeDefinition.key,
                                                           ContactAttribute.value)
                                   .join(AttributeDefinition).where(ContactAttribute.contact.in_(ids)).tuples()):
        values[contact_id][key] = value
    return tags, identities, values


def conversations_csv() -> Iterator[str]:
    """Every conversation: channel, person, status, assignee, times and message counts."""
    yield _line(["id", "kind", "channel", "contact_id", "contact_name", "status", "assignee",
                 "created_at", "last_message_at", "messages_in", "messages_out"])
    names = {c.id: c.name for c in Channel.select(Channel.id, Channel.name)}
    staff = {u.id: u.email for u in User.select(User.id, User.email)}
    for batch in _batches(Conversation.select().order_by(Conversation.id)):
        counts = _message_counts([c.id for c in batch])
        contacts = {c.id: c.name for c in Contact.select(Contact.id, Contact.name).where(
            Contact.id.in_([c.contact_id for c in batch if c.contact_id]))}
        for c in batch:
            yield _line([c.id, c.kind, names.get(c.channel_id, ""), c.contact_id, contacts.get(c.contact_id, ""),
                         c.status, staff.get(c.assignee_id, ""), _iso(c.created_at), _iso(c.last_message_at),
                         counts[(c.id, "in")], counts[(c.id, "out")]])


def _message_counts(ids: list[int]) -> dict[tuple[int, str], int]:
    rows = (Message.select(Message.conversation, Message.direction, fn.COUNT(Message.id))
            .where(Message.conversation.in_(ids)).group_by(Message.conversation, Message.direction).tuples())
    counts: dict[tuple[int, str], int] = defaultdict(int)
    counts.update({(c, d): n for c, d, n in rows})
    return counts


def _batches(query) -> Iterator[list]:  # noqa: ANN001 - any peewee select ordered by id
    """Keyset pages by id, so a large export never holds every row nor rescans with OFFSET."""
    model = query.model
    last = 0
    while True:
        batch = list(query.where(model.id > last).limit(BATCH))
        if not batch:
            return
        yield batch
        last = batch[-1].id


def chunks(lines: Iterator[str], lines_per_chunk: int = BATCH) -> Iterator[bytes]:
    """An export as byte chunks for a streamed download. Each chunk is drawn inside its own
    database connection: the web server pulls the next one later, on any worker thread, after
    the request handler has returned. Memory stays one batch of rows, whatever the table's size."""
    while True:
        with connection():
            chunk = "".join(islice(lines, lines_per_chunk))
        if not chunk:
            return
        yield chunk.encode()


def _line(cells: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_cell(v) for v in cells])
    return out.getvalue()


NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not NUMBER.match(text):
        return "'" + text
    return text


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
