"""From a raw webhook delivery to stored, ordered, idempotent events.

`store_deliveries` runs in the API before it answers 200: the raw bytes are committed, so once
Meta has its 200 nothing can be lost. Under load the API goes through `DeliveryWriter`, which
commits the deliveries of concurrent requests together (one transaction, one enqueue per batch):
a commit per request (~0.5 ms on PostgreSQL) and an enqueue per request (~0.25 ms) would cap
ingest far below what the web stack can take (shared/stack-notes.md §1).

On the embedded SQLite default the main file has one writer at a time, and the workers hold it
while they apply events: the writer waits at most `DIRECT_WAIT_MS` for it, then commits the
batch to the delivery journal beside the database instead (bot/platform/journal.py), answers,
and its mover thread moves the journal into `delivery`, oldest first, exactly once, when the
database lets it. While the journal holds anything, new deliveries go behind it (Meta's order).

`expand_delivery` runs in a worker: it parses the body once, writes one `InboundEvent` per event
(unique by event key, so redeliveries add nothing) and returns the conversation keys to drain.
Parts we do not handle are recorded with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import takewhile

import peewee

from bot.core import events as ev
from bot.meta.parse import MalformedBody, parse_delivery
from bot.platform import cache, pressure
from bot.platform.db import (
    connection,
    db,
    delivery_journal,
    insert_new,
    is_sqlite,
    locked,
    now_ms,
    prepared,
    storable,
    storable_text,
    transaction,
)
from bot.platform.journal import DeliveryJournal
from bot.platform.models import Channel, Delivery, DeliveryJournalMark, IgnoredItem, InboundEvent, Message
from bot.platform.registry import channel_for, touch

log = logging.getLogger(__name__)

_INBOX_ONLY = (ev.MessageReceived, ev.MessageEcho, ev.MessageDeleted, ev.MessageEdited, ev.ReactionChanged,
               ev.Referred, ev.Postback)


def store_deliveries(bodies: list[bytes]) -> list[int]:
    """Commit several raw deliveries at once (all or none); their ids, in the order given."""
    now = now_ms()
    if is_sqlite():  # no multi-row RETURNING through peewee here; the commit is what costs
        with transaction():
            return [_insert_sqlite(now, body) for body in bodies]
    from psycopg2 import Binary

    # One statement with the bodies as one array parameter: building a VALUES list through the
    # ORM cost more CPU than PostgreSQL spent storing the rows (ids come back in array order).
    # One statement commits on its own, all rows or none: no BEGIN and COMMIT round trips.
    cursor = db.execute_sql(_INSERT_DELIVERIES, (now, [Binary(body) for body in bodies]))
    return [row[0] for row in cursor.fetchall()]


_INSERT_DELIVERIES = ("INSERT INTO delivery (received_at, body, status, events, ignored, attempts) "
                      "SELECT %s, body, 'received', 0, 0, 0 FROM unnest(%s::bytea[]) WITH ORDINALITY AS t(body, n) "
                      "ORDER BY n RETURNING id")


@dataclass
class Stored:
    """One commit of webhook deliveries: every id in the order given (the requests' answers), the
    ones stored unexpanded (for the expander), and the conversations that got pending events
    because their deliveries were expanded in the same statement (to drain)."""

    ids: list[int]
    raw: list[int] = field(default_factory=list)
    drain: list[str] = field(default_factory=list)


# A delivery is expanded at commit only when it is small and every part of it is plainly ours: a
# big batch, anything ignored or refused, or a body the parser cannot read goes to the expander,
# which records ignored parts, retries and quarantines (issue 17) exactly as before.
EXPAND_AT_COMMIT_BYTES = 64 * 1024
EXPAND_AT_COMMIT_EVENTS = 50
# A writer batch bigger than this means requests queue up faster than commits go (at 100 webhooks/s
# a batch holds one or two): the API is the bottleneck, so the batch is stored as it came, in the
# cheapest statement, and the workers (at a lower priority, `SOCIALDESK_WORKER_NICE`) expand it
# when the CPU is free. Expanding at commit costs the API the parse and PostgreSQL the events: at
# the API's full rate with a worker draining, 174 -> 121 µs of API CPU per webhook (issue 18).
# Later batches stay behind it until the expander has taken it (the `go` check below: Meta's order).
EXPAND_AT_COMMIT_BATCH = 8
# A writer batch this big means a flood: that many requests arrived while one commit ran (thousands
# a second, far beyond what the workers could apply meanwhile), so they are told to rest between
# transactions (`bot.platform.pressure`) and the acknowledgements get the cores. A smaller mark
# also caught a machine merely busy with its own backlog (200 comments/s offered on 2 cores, the
# commits slowed by the workers): resting then left cores idle, 146-156 -> 117 replies/s.
PRESSURE_BATCH = 32


def plan_expansion(body: bytes, received_at: int) -> list[ev.Event] | None:
    """The events of a delivery that can be expanded at commit, or None (the expander's). Reads
    channels from the process's copies (`bot.platform.cache`): the statement that commits checks
    the configuration version they were taken under, and stores the delivery unexpanded if it
    moved."""
    if len(body) > EXPAND_AT_COMMIT_BYTES:
        return None
    try:
        parsed = parse_delivery(body, received_at)
    except Exception:  # noqa: BLE001 - malformed or a parser defect: the expander records it
        return None
    if parsed.ignored or not parsed.events or len(parsed.events) > EXPAND_AT_COMMIT_EVENTS:
        return None
    channels = _ChannelCache()
    if any(_refusal(event, channels) for event in parsed.events):
        return None
    return parsed.events


def plan_batch(bodies: list[bytes], received_at: int) -> list[list[ev.Event] | None]:
    """`plan_expansion` for a batch in arrival order, stopping at the first delivery left to the
    expander: a later one expanded now could be applied before the earlier one's events (of the
    same conversation, say) became pending."""
    plans: list[list[ev.Event] | None] = []
    for body in bodies:
        plans.append(plan_expansion(body, received_at) if not plans or plans[-1] is not None else None)
    return plans


def store_and_expand(bodies: list[bytes], plans: list[list[ev.Event] | None],
                     version: str) -> tuple[Stored, str | None]:
    """Commit deliveries in one statement (PostgreSQL), expanding the planned ones into pending
    events in that same statement, so the normal path costs one statement per webhook batch and no
    expander job. The expansion happens only if the configuration version is still `version`
    (the copies the plans were made with) and no delivery waits for the expander (whose order
    comes first); otherwise every delivery is stored for the expander. Returns what was stored and
    the configuration version now (for the next batch's plans)."""
    from psycopg2 import Binary

    now = now_ms()
    events = _event_rows(plans)
    counts = [-1 if plan is None else len(plan) for plan in plans]
    cursor = db.execute_sql(prepared(_STORE_AND_EXPAND_NAME, _STORE_AND_EXPAND), (
        version, now, now, [Binary(body) for body in bodies], counts,
        *([row[i] for row in events] for i in range(6)), [Binary(row[6]) for row in events],
        [row[7] for row in events], [row[8] for row in events], ECHO_OF_OURS, now, now))
    return _stored(cursor.fetchall())


def _event_rows(plans: list[list[ev.Event] | None]) -> list[tuple]:
    """(delivery's position, event key, conversation key, seq, kind, occurred at, payload, echo's
    mid, echo's metadata) per planned event, each event key once per batch (Meta's duplicates)."""
    rows: list[tuple] = []
    pairs = [(position, event) for position, plan in enumerate(plans, start=1) for event in plan or ()]
    for position, seq, event in _numbered(pairs):
        echo = event if isinstance(event, ev.MessageEcho) else None
        rows.append((position, event.event_key, event.conversation_key, seq, type(event).__name__,
                     event.timestamp, ev.encode(event), echo and echo.mid, echo and echo.metadata))
    return rows


def _numbered(pairs: list[tuple[object, ev.Event]]) -> Iterator[tuple[object, int, ev.Event]]:
    """(delivery, its seq, event) per (delivery, event) in order, each event key once (Meta's
    duplicates within a batch), seq counting the delivery's events kept."""
    seen: set[str] = set()
    seq_of: dict[object, int] = {}
    for delivery, event in pairs:
        if event.event_key in seen:
            continue
        seen.add(event.event_key)
        seq_of[delivery] = seq_of.get(delivery, -1) + 1
        yield delivery, seq_of[delivery], event


def _stored(rows: list[tuple]) -> tuple[Stored, str | None]:
    stored, version = Stored(ids=[]), None
    for part, _position, value, status in sorted(rows, key=lambda row: (row[0], row[1])):
        if part == 0:
            stored.ids.append(int(value))
            if status == "received":
                stored.raw.append(int(value))
        elif part == 1 and status == "pending" and value not in stored.drain:
            stored.drain.append(value)
        elif part == 2:
            version = value
    return stored, version


# One statement: whether expanding now is safe (`go`), the deliveries (expanded ones as processed,
# ids in array order), their events, and the configuration version for the next batch. An echo of
# a message we sent (found by its Meta id, or by the idempotency key we put in `metadata`) is
# stored applied, and when our row does not hold the send yet it is marked sent here: the SQL twin
# of `inbox._echo`'s first branch (the echo usually arrives before the Send API's answer). The
# rows to fill are named by `id = ANY(ARRAY(...))`, an index condition: the generic plan made in a
# new install for a join on `m.id = x.ours_id` walked the whole message table per echo (its
# primary key's index with the status as a filter; 530 rows, 1.25 ms, at bench.e2e's 300th reply),
# and kept it where nothing analyzed the table (`db.prepared` now replaces such plans). Without an
# echo to fill (most webhooks) the `EXISTS` stops the update before it looks at the table.
_STORE_AND_EXPAND_NAME = "socialdesk_store_and_expand"  # prepared once per connection: planning it cost more
_STORE_AND_EXPAND = """
WITH go AS (
  SELECT COALESCE((SELECT epoch || ':' || CAST(version AS TEXT) FROM config_version WHERE id = 1), '') = %s::text
         AND NOT EXISTS (SELECT 1 FROM delivery WHERE status = 'received') AS ok),
d AS (
  INSERT INTO delivery (received_at, body, status, events, ignored, attempts, processed_at)
  SELECT %s::bigint, t.body, CASE WHEN go.ok AND t.events >= 0 THEN 'processed' ELSE 'received' END,
         CASE WHEN go.ok AND t.events >= 0 THEN t.events ELSE 0 END, 0, 0,
         CASE WHEN go.ok AND t.events >= 0 THEN %s::bigint END
  FROM unnest(%s::bytea[], %s::int[]) WITH ORDINALITY AS t(body, events, n) CROSS JOIN go
  ORDER BY t.n
  RETURNING id, status),
dn AS (SELECT id, status, row_number() OVER (ORDER BY id) AS n FROM d),
x AS (
  SELECT x.*, dn.id AS delivery_id, ours.id AS ours_id, ours.unrecorded
  FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::text[], %s::bigint[], %s::bytea[], %s::text[],
              %s::text[]) AS x(n, event_key, conversation_key, seq, kind, occurred_at, payload, echo_mid, echo_key)
  JOIN dn ON dn.n = x.n AND dn.status = 'processed'
  LEFT JOIN LATERAL (
    SELECT m.id, m.status IN ('sending', 'pending') OR m.mid IS NULL AS unrecorded, 0 AS pref FROM message m
    WHERE x.echo_mid IS NOT NULL AND m.mid = x.echo_mid
    UNION ALL
    SELECT m.id, m.status IN ('sending', 'pending') OR m.mid IS NULL, 1 FROM message m
    WHERE x.echo_mid IS NOT NULL AND m.idempotency_key = x.echo_key
    ORDER BY pref LIMIT 1) ours ON TRUE),
e AS (
  INSERT INTO inbound_event (event_key, conversation_key, delivery_id, seq, kind, occurred_at, payload, status,
                             reason, attempts, source, created_at, applied_at)
  SELECT event_key, conversation_key, delivery_id, seq, kind, occurred_at, payload,
         CASE WHEN ours_id IS NOT NULL THEN 'applied' ELSE 'pending' END,
         CASE WHEN ours_id IS NOT NULL THEN %s::text END, 0, 'webhook', %s::bigint,
         CASE WHEN ours_id IS NOT NULL THEN %s::bigint END
  FROM x ORDER BY n, seq
  ON CONFLICT (event_key) DO NOTHING
  RETURNING event_key, conversation_key, status),
fill AS (SELECT x.ours_id, x.echo_mid, x.occurred_at FROM x JOIN e ON e.event_key = x.event_key WHERE x.unrecorded),
filled AS (
  UPDATE message m SET mid = fill.echo_mid, status = 'sent', sent_at = COALESCE(m.sent_at, fill.occurred_at),
                       error_kind = NULL, status_reason = NULL
  FROM fill
  WHERE EXISTS (SELECT 1 FROM fill) AND m.id = ANY (ARRAY(SELECT ours_id FROM fill)) AND m.id = fill.ours_id
    AND (m.status IN ('sending', 'pending') OR m.mid IS NULL)
  RETURNING m.id)
SELECT 0, n, CAST(id AS TEXT), status FROM dn
UNION ALL SELECT 1, 0, conversation_key, status FROM e
UNION ALL SELECT 2, 0, (SELECT epoch || ':' || CAST(version AS TEXT) FROM config_version WHERE id = 1), NULL
"""  # (`filled`, like every data-modifying WITH part, runs whether or not the result reads it)


def _insert_sqlite(received_at: int, body: bytes) -> int:
    return Delivery.insert(received_at=received_at, body=body, status="received").execute()


JOURNAL_MOVE_ROWS = 256
JOURNAL_MOVE_BYTES = 8 * 1024 * 1024
JOURNAL_MOVE_ROUNDS = 50


def move_journaled(*, older_than_ms: int = 0) -> list[int]:
    """Move journaled deliveries (embedded SQLite, see the module's docstring) into `delivery`,
    oldest first, in chunks of one short transaction each; their new ids. Only when the oldest
    waited `older_than_ms` (the clock's sweep: normally the API's mover does it at once). Safe
    from several threads and processes at once: the mark read inside the write transaction
    tells each what is left."""
    journal = delivery_journal()
    if journal is None or not journal.waiting():
        return []
    oldest = journal.oldest_received_at()
    if older_than_ms and (oldest is None or oldest > now_ms() - older_than_ms):
        return []
    moved: list[int] = []
    for _ in range(JOURNAL_MOVE_ROUNDS):
        with transaction():
            ids, mark = _move_chunk(journal)
        journal.forget_through(mark)
        if not ids:
            break
        moved += ids
    return moved


def _move_chunk(journal: DeliveryJournal) -> tuple[list[int], int]:
    """Inside a write transaction: copy the rows above this journal's mark and raise the mark;
    (the new delivery ids, the mark)."""
    found = DeliveryJournalMark.get_or_none(DeliveryJournalMark.generation == journal.generation)
    mark = found.moved_through if found else 0
    rows = journal.after(mark, max_rows=JOURNAL_MOVE_ROWS, max_bytes=JOURNAL_MOVE_BYTES)
    if not rows:
        return [], mark
    ids = [_insert_sqlite(received_at, body) for _, received_at, body in rows]
    mark = rows[-1][0]
    (DeliveryJournalMark.insert(generation=journal.generation, moved_through=mark)
     .on_conflict(conflict_target=[DeliveryJournalMark.generation], update={DeliveryJournalMark.moved_through: mark})
     .execute())
    return ids, mark


# One enqueue costs the API ~0.6 ms of CPU (Dramatiq message, Redis script) and the worker a job
# that mostly finds the expander already at work: at 0.01 s that was up to 100 enqueues per second
# per API process, about half of the API's CPU per webhook at 250 webhooks/s (issue 18). After a
# quiet spell the first commit is still enqueued at once; under load the expander is running and
# takes new deliveries itself, so the wait costs no latency there. (Session 14 measured a 10 ms
# rest after rounds of one conversation: p99 comment -> reply 170 -> 115 ms at 50 comments/s, but
# twice the drain messages and no CPU saved; real pages' comments mostly come after quiet spells,
# which are enqueued at once either way, so the rest stays.)
ENQUEUE_EVERY_S = 0.05
DIRECT_WAIT_MS = 100  # on SQLite, how long a webhook batch waits for the database before the journal
MOVER_PAUSE_S = 0.05
Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[int]"]


class DeliveryWriter:
    """Group commit for the webhook endpoint: requests hand their body to one writer thread per
    process and wait; the thread commits everything that queued up while the previous commit ran,
    then resolves each request's future with its delivery id. The 200 still goes out only after
    the commit of that very delivery.

    Two costs are paid once per batch, not per request: waking the event loop (one
    `call_soon_threadsafe` resolves every request of the batch waiting in that loop), and
    `after_commit` (the enqueue). The enqueue runs in its own thread, coalescing: while one is in
    flight, newer commits only raise the id the next one carries, so a Redis round trip never
    delays the next commit, and the last commit is always followed by an enqueue. If it fails the
    rows are safe in the database and the clock re-enqueues them."""

    def __init__(self, after_commit: Callable[[list[int]], None], *, max_batch: int = 256,
                 max_bytes: int = 8 * 1024 * 1024, drain: Callable[[list[str]], None] | None = None) -> None:
        self._after_commit = after_commit
        self._drain = drain  # given: small deliveries are expanded at commit on PostgreSQL
        self._version: str | None = None  # the configuration version this thread's copies follow
        self._to_drain: list[str] = []
        self._max_batch = max_batch
        self._max_bytes = max_bytes
        self._queue: queue.SimpleQueue[tuple[bytes, Waiter]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._database: peewee.Database | None = None
        self._committed: list[int] = []
        self._committed_ready = threading.Condition()
        self._mover_wake = threading.Event()

    def submit_async(self, body: bytes) -> asyncio.Future[int]:
        """Queue one delivery for the next commit; the future, in the caller's event loop, holds
        its id (its journal id when it was journaled; see `_store`), or the error."""
        self._ensure_thread()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._queue.put((body, (loop, future)))
        return future

    def _ensure_thread(self) -> None:
        """Started lazily so that it is created in each server process after the fork (a forked
        child inherits `_pid` from its parent, so the comparison fails there and starts one)."""
        if self._pid == _process_id() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != _process_id() or not self._thread.is_alive():
                self._pid = _process_id()
                self._committed = []
                self._thread = threading.Thread(target=self._run, name="delivery-writer", daemon=True)
                self._thread.start()
                threading.Thread(target=self._run_after_commit, name="delivery-enqueue", daemon=True).start()
                self._mover_wake.set()
                threading.Thread(target=self._run_mover, name="delivery-mover", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._write(self._next_batch())

    def _run_after_commit(self) -> None:
        """Enqueue after commits, at most every ENQUEUE_EVERY_S: one expander job takes every
        waiting delivery, so more enqueues under load would only be jobs finding nothing to do."""
        while True:
            time.sleep(ENQUEUE_EVERY_S)
            with self._committed_ready:
                while not self._committed and not self._to_drain:
                    self._committed_ready.wait()
                ids, self._committed = self._committed, []
                keys, self._to_drain = self._to_drain, []
            try:
                if ids:
                    self._after_commit(ids)
                if keys and self._drain is not None:
                    self._drain(keys)
            except Exception:
                log.warning("enqueueing after a commit failed (%d deliveries, %d conversations); the clock will "
                            "pick them up", len(ids), len(keys), exc_info=True)
            pressure.publish()  # here, not on the commit path (see `_write`)

    def _next_batch(self) -> list[tuple[bytes, Waiter]]:
        batch = [self._queue.get()]
        size = len(batch[0][0])
        while len(batch) < self._max_batch and size < self._max_bytes:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            size += len(item[0])
        return batch

    def _write(self, batch: list[tuple[bytes, Waiter]]) -> None:
        if len(batch) >= PRESSURE_BATCH:
            pressure.note()
        try:
            self._connect()
            ids = self._store([body for body, _ in batch])
        except Exception as exc:  # answered as a 500: Meta delivers again
            log.exception("committing %d deliveries failed", len(batch))
            self._disconnect()
            _resolve([waiter for _, waiter in batch], exc)
            return
        _resolve([waiter for _, waiter in batch], ids)

    def _store(self, bodies: list[bytes]) -> list[int]:
        """Commit to `delivery` (then enqueue), or on SQLite, when the journal is not empty or the
        database stayed busy for `DIRECT_WAIT_MS`, to the journal (then wake the mover); the
        delivery ids, or the journal's ids."""
        if self._drain is not None and not is_sqlite():
            return self._store_expanding(bodies)
        journal = delivery_journal()
        if journal is None or not journal.waiting():
            try:
                ids = store_deliveries(bodies)
            except peewee.OperationalError as exc:
                if journal is None or not locked(exc):
                    raise
            else:
                self._hand_over(ids)
                return ids
        ids = journal.append(now_ms(), bodies)
        self._mover_wake.set()
        return ids

    def _store_expanding(self, bodies: list[bytes]) -> list[int]:
        """PostgreSQL: commit and expand in one statement (`store_and_expand`); the first batch of
        a process, with no configuration version seen yet, goes to the expander whole."""
        if len(bodies) > EXPAND_AT_COMMIT_BATCH:
            return self._store_for_expander(bodies)
        received = now_ms()
        version = self._version
        plans = plan_batch(bodies, received) if version else [None] * len(bodies)
        try:
            stored, self._version = store_and_expand(bodies, plans, version or "")
        except (peewee.DatabaseError, ValueError):  # a value it cannot take (NUL): the expander's, as before
            log.warning("expanding %d deliveries at commit failed; stored for the expander", len(bodies),
                        exc_info=True)
            return self._store_for_expander(bodies)
        cache.observe(self._version)  # no version row (an emptied database): observe puts one back
        self._hand_over(stored.raw, stored.drain)
        _touch_planned(plans, received)
        return stored.ids

    def _store_for_expander(self, bodies: list[bytes]) -> list[int]:
        """Commit the deliveries as they came (the cheapest statement), for the expander."""
        self._hand_over(ids := store_deliveries(bodies))
        return ids

    def _hand_over(self, ids: list[int], drain: list[str] = ()) -> None:
        """Committed deliveries (and conversations to drain), for the enqueuing thread (not woken
        for nothing: an echo of our own reply is stored applied and hands over neither)."""
        if not ids and not drain:
            return
        with self._committed_ready:
            self._committed += ids
            self._to_drain += [key for key in drain if key not in self._to_drain]
            self._committed_ready.notify()

    def _run_mover(self) -> None:
        """Move the journal into `delivery` whenever the writer journaled something (and once at
        start: a journal left by a killed process). It waits for the database as long as it takes;
        the webhooks it holds were answered already."""
        while True:
            self._mover_wake.wait()
            self._mover_wake.clear()
            try:
                with connection():
                    ids = move_journaled()
            except Exception as exc:
                level = logging.DEBUG if locked(exc) else logging.WARNING
                log.log(level, "moving journaled deliveries failed; trying again", exc_info=True)
                time.sleep(MOVER_PAUSE_S)
                self._mover_wake.set()
                continue
            if ids:
                self._hand_over(ids)
                self._mover_wake.set()  # look again: more may have come in meanwhile

    def _connect(self) -> None:
        """Keep one connection open in this thread; follow the proxy if the process re-booted
        onto another database (tests do). On SQLite this connection waits only `DIRECT_WAIT_MS`
        for the write lock: past that the journal takes the deliveries."""
        database = db.obj
        if database is not self._database:
            self._disconnect()
            self._database = database
        if database.is_closed():
            database.connect()
            if is_sqlite():
                database.execute_sql(f"PRAGMA busy_timeout = {DIRECT_WAIT_MS}")

    def _disconnect(self) -> None:
        if self._database is not None and not self._database.is_closed():
            try:
                self._database.close()
            except Exception:
                log.debug("closing the writer's connection failed", exc_info=True)


_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def _process_id() -> int:
    """os.getpid() without a system call per webhook request."""
    return _pid[0]


def _resolve(waiters: list[Waiter], outcome: list[int] | BaseException) -> None:
    """Hand each waiter its delivery id (or the error), with one wake-up per event loop for the
    whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int | BaseException]]] = {}
    for index, (loop, future) in enumerate(waiters):
        result = outcome if isinstance(outcome, BaseException) else outcome[index]
        by_loop.setdefault(loop, []).append((future, result))
    for loop, results in by_loop.items():
        try:
            loop.call_soon_threadsafe(_set_results, results)
        except RuntimeError:  # that loop has closed: nobody is waiting any more
            continue


def _set_results(results: list[tuple[asyncio.Future[int], int | BaseException]]) -> None:
    for future, result in results:
        if future.done():  # the request was cancelled (client gone)
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def expand_delivery(delivery_id: int, *, source: str = "webhook") -> list[str]:
    """Parse one stored delivery into pending events (see `expand_deliveries`)."""
    return expand_deliveries([delivery_id], source=source)


def expand_deliveries(delivery_ids: list[int], *, source: str = "webhook") -> list[str]:
    """Parse stored deliveries into pending events, in one transaction; returns the conversation
    keys that have new pending events. Idempotent: a delivery already expanded adds nothing.

    One expander runs at a time and takes every waiting delivery, so under load a call covers
    many deliveries: a handful of statements for the whole batch (one SELECT, one multi-row
    INSERT of events, one UPDATE per outcome) instead of five per delivery, which is what kept
    a single expander from keeping up with the webhook endpoint."""
    with transaction():
        rows = list(_claimable(Delivery.select(Delivery.id, Delivery.body, Delivery.received_at)
                               .where(Delivery.id.in_(delivery_ids) & (Delivery.status == "received"))
                               .order_by(Delivery.id)))
        if not rows:
            return []
        channels = _ChannelCache()
        accepted: list[tuple[int | None, ev.Event]] = []
        ignored: list[tuple[int, ev.Ignored]] = []
        outcomes: dict[tuple[str, int, int, str | None], list[int]] = {}
        for delivery in rows:
            taken, skipped, outcome = _expand_one(delivery, channels)
            accepted += [(delivery.id, event) for event in taken]
            ignored += [(delivery.id, item) for item in skipped]
            outcomes.setdefault(outcome, []).append(delivery.id)
        keys = _store_pending(accepted, source=source)
        _record_ignored(ignored)
        _touch_channels([event for _, event in accepted], max(d.received_at for d in rows), channels)
        _finish(outcomes)
        return keys


def _claimable(query: peewee.Select) -> peewee.Select:
    """On PostgreSQL the rows are locked for the transaction, and rows another expander holds are
    skipped: two expanders never work the same delivery, even if the expander lease were lost.
    (SQLite's BEGIN IMMEDIATE already lets one writer in at a time.)"""
    return query if is_sqlite() else query.for_update("FOR UPDATE SKIP LOCKED")


MAX_ATTEMPTS = 3
RETRY_DELAY_MS = 2_000


def expand_next(limit: int = 200) -> list[str] | None:
    """Expand the next waiting deliveries; the conversation keys to drain, or None when nothing
    is waiting. A failure never stops the ones behind: deliveries never tried go together, one
    tried before goes alone (so one poison delivery cannot take others down with it), a failed
    one waits `RETRY_DELAY_MS` times its attempts, and one started `MAX_ATTEMPTS` times is
    quarantined with its reason for an admin (`retry_quarantined`)."""
    rows = list(Delivery.select(Delivery.id, Delivery.attempts, Delivery.reason,
                                cache.VERSION_SQL.alias("config_version")).where(_due()).order_by(Delivery.id)
                .limit(limit))
    if not rows:
        return None
    cache.observe(rows[0].config_version)  # the channels of this batch from the process's copy
    if rows[0].attempts >= MAX_ATTEMPTS:
        _quarantine(rows[0])
        return []
    fresh = [row.id for row in takewhile(lambda row: row.attempts == 0, rows)]
    return _attempt(fresh or [rows[0].id])


def _due() -> peewee.Expression:
    return (Delivery.status == "received") & (Delivery.retry_at.is_null() | (Delivery.retry_at <= now_ms()))


def _attempt(ids: list[int]) -> list[str]:
    """Count the attempt before the work, in its own commit: a worker killed while expanding
    (out of memory, say) has still counted it."""
    Delivery.update(attempts=Delivery.attempts + 1).where(Delivery.id.in_(ids)).execute()
    try:
        return expand_deliveries(ids)
    except Exception as exc:
        log.exception("expanding deliveries %s..%s failed", ids[0], ids[-1])
        _note_failure(ids, f"{type(exc).__name__}: {exc}")
        return []


def _note_failure(ids: list[int], reason: str) -> None:
    """A batch that failed is retried one delivery at a time at once; a lone delivery that
    failed waits a little longer after each attempt, and is quarantined after the last."""
    retry_at = None
    if len(ids) == 1:
        row = Delivery.get_by_id(ids[0])
        if row.attempts >= MAX_ATTEMPTS:
            row.reason = reason
            _quarantine(row)
            return
        retry_at = now_ms() + RETRY_DELAY_MS * row.attempts
    (Delivery.update(reason=storable_text(reason[:1000]), retry_at=retry_at)
     .where(Delivery.id.in_(ids) & (Delivery.status == "received")).execute())


def _quarantine(row: Delivery) -> None:
    last = row.reason or "the worker stopped while expanding it (killed, or out of memory)"
    reason = f"expansion failed {row.attempts} times; last: {last}"
    log.error("delivery %s quarantined: %s", row.id, reason)
    (Delivery.update(status="quarantined", reason=storable_text(reason[:1000]), processed_at=now_ms())
     .where((Delivery.id == row.id) & (Delivery.status == "received")).execute())


def retry_quarantined(delivery_id: int) -> bool:
    """Put a quarantined delivery back in line with a fresh count (after a fix, say); whether
    there was one to put back."""
    return bool(Delivery.update(status="received", attempts=0, retry_at=None, reason=None, processed_at=None)
                .where((Delivery.id == delivery_id) & (Delivery.status == "quarantined")).execute())


def _expand_one(delivery: Delivery, channels: _ChannelCache
                ) -> tuple[list[ev.Event], list[ev.Ignored], tuple[str, int, int, str | None]]:
    """One delivery's accepted events, ignored parts and outcome (status, events, ignored, reason)."""
    try:
        parsed = parse_delivery(bytes(delivery.body))
    except MalformedBody as exc:  # stored by an older version or replayed by hand
        return [], [], ("failed", 0, 0, str(exc))
    ignored = list(parsed.ignored)
    accepted: list[ev.Event] = []
    for event in parsed.events:
        reason = _refusal(event, channels)
        if reason:
            ignored.append(ev.Ignored(reason=reason, object=parsed.object, account_id=event.account_id))
        else:
            accepted.append(event)
    return accepted, ignored, ("processed", len(accepted), len(ignored), None)


class _ChannelCache:
    """Channel lookups within one batch: a batch is nearly always one page's webhooks."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], Channel | None] = {}

    def get(self, platform: str, account_id: str) -> Channel | None:
        key = (platform, account_id)
        if key not in self._known:
            self._known[key] = channel_for(platform, account_id)
        return self._known[key]


def store_events(events: Iterable[ev.Event], *, delivery_id: int | None, source: str) -> list[str]:
    """Insert events as pending (ignoring ones already stored); return keys with new rows.
    Backfill uses this too, so whichever copy arrives first wins and the other adds nothing."""
    return _store_pending([(delivery_id, event) for event in events], source=source)


def _store_pending(events: list[tuple[int | None, ev.Event]], *, source: str) -> list[str]:
    """Insert (delivery id, event) pairs as pending events in the order given, skipping event keys
    already stored (redeliveries, backfill); the conversation keys that got a new pending row (an
    echo of a send we recorded is stored applied: `_recorded_sends`)."""
    now = now_ms()
    rows = []
    ours = _recorded_sends([event.mid for _, event in events if isinstance(event, ev.MessageEcho)])
    for delivery_id, seq, event in _numbered(events):
        rows.append({"event_key": event.event_key, "conversation_key": event.conversation_key,
                     "delivery": delivery_id, "seq": seq, "kind": type(event).__name__,
                     "occurred_at": event.timestamp, "payload": ev.encode(event), "status": "pending",
                     "source": source, "created_at": now, "applied_at": None, "reason": None})
        if isinstance(event, ev.MessageEcho) and event.mid in ours:
            rows[-1].update(status="applied", applied_at=now, reason=ECHO_OF_OURS)
    keys: list[str] = []
    for key, status in _insert_new_events(rows):
        if status == "pending" and key not in keys:
            keys.append(key)
    return keys


ECHO_OF_OURS = "echo of a message sent by socialdesk"


def _recorded_sends(mids: list[str]) -> set[str]:
    """Echoes of our own sends whose Meta id is recorded on a sent row: applying one would
    change nothing (`inbox._echo`), so it is stored as applied and drains nothing. One query for
    the batch; an echo that beat our own record of the send still goes through the drain (it
    fills the id in)."""
    found: set[str] = set()
    for start in range(0, len(mids), INSERT_CHUNK):
        found |= {mid for (mid,) in Message.select(Message.mid).where(
            Message.mid.in_(mids[start:start + INSERT_CHUNK]) & Message.status.not_in(["sending", "pending"])
        ).tuples()}
    return found


INSERT_CHUNK = 500


def _insert_new_events(rows: list[dict]) -> list[tuple[str, str]]:
    """(conversation key, status) of the rows actually inserted, in order. PostgreSQL: one
    multi-row INSERT .. ON CONFLICT DO NOTHING RETURNING per chunk; SQLite (the embedded default,
    local and cheap per statement): one insert each, its row count telling new from known."""
    if is_sqlite():
        return [(row["conversation_key"], row["status"]) for row in rows if insert_new(InboundEvent.insert(**row))]
    inserted: list[tuple[str, str]] = []
    for start in range(0, len(rows), INSERT_CHUNK):
        query = (InboundEvent.insert_many(rows[start:start + INSERT_CHUNK]).on_conflict_ignore()
                 .returning(InboundEvent.conversation_key, InboundEvent.status).tuples())
        inserted += list(query.execute())
    return inserted


def _refusal(event: ev.Event, channels: _ChannelCache) -> str | None:
    """Why an event is not for us (unknown page, channel switched off), or None."""
    channel = channels.get(event.platform, event.account_id)
    if channel is None:
        return f"no connected {event.platform} channel for account {event.account_id}"
    if isinstance(event, _INBOX_ONLY) and not channel.receive_messages:
        return "the channel's 'receive messages' setting is off"
    return None


def _record_ignored(ignored: list[tuple[int, ev.Ignored]]) -> None:
    """In chunks: never one statement of unbounded size (the parser bounds the total)."""
    for start in range(0, len(ignored), INSERT_CHUNK):
        IgnoredItem.insert_many([
            {"delivery": delivery_id, "reason": storable_text(item.reason), "object": storable(item.object),
             "field": storable(item.field), "account_id": storable(item.account_id)}
            for delivery_id, item in ignored[start:start + INSERT_CHUNK]
        ]).execute()


def _touch_channels(accepted: list[ev.Event], received_at: int, channels: _ChannelCache) -> None:
    """Remember when each channel last heard from Meta (channel health); an accepted event's
    channel is always in the batch's cache (unknown channels were refused)."""
    for platform, account_id in {(e.platform, e.account_id) for e in accepted}:
        channel = channels.get(platform, account_id)
        if channel is not None:
            touch(channel, "last_webhook_at", received_at)


def _touch_planned(plans: list[list[ev.Event] | None], received_at: int) -> None:
    """`_touch_channels` for the deliveries expanded at commit (their channels are in this
    process's copies: the plan read them)."""
    accepted = [event for plan in plans for event in plan or ()]
    if accepted:
        _touch_channels(accepted, received_at, _ChannelCache())


def _finish(outcomes: dict[tuple[str, int, int, str | None], list[int]]) -> None:
    """Mark deliveries expanded: one UPDATE per distinct outcome (nearly always one)."""
    now = now_ms()
    for (status, events, ignored, reason), ids in outcomes.items():
        (Delivery.update(status=status, events=events, ignored=ignored, reason=reason, processed_at=now)
         .where(Delivery.id.in_(ids)).execute())


def unprocessed_deliveries(older_than_ms: int, limit: int = 500) -> list[int]:
    """Deliveries committed but not expanded (their queue message was lost): for the clock. On
    SQLite, deliveries journaled that long ago are moved in first (their API process died)."""
    move_journaled(older_than_ms=older_than_ms)
    cutoff = now_ms() - older_than_ms
    return [d.id for d in Delivery.select(Delivery.id)
            .where(_due() & (Delivery.received_at <= cutoff))
            .order_by(Delivery.id).limit(limit)]
