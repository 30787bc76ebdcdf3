"""The drain job: a conversation's events applied in order under its lock, by whoever holds it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import peewee
import psycopg2
import pytest

from bot import jobs
from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.core import events as ev
from bot.core.compose import MessageContent
from bot.inbound import inbox, ingest
from bot.outbound import sender
from bot.platform import cache, pressure, queue, runtime
from bot.platform.db import connection, transaction
from bot.platform.models import Channel, ConfigVersion, InboundEvent, Message
from bot.platform.settings import load_settings
from tests.bot.meta import payloads as p
from tests.conftest import make_env
from tests.servers import wait_until


def _message(mid: str, timestamp: int) -> ev.MessageReceived:
    return ev.MessageReceived(platform=ev.Platform.FACEBOOK, account_id="1", timestamp=timestamp, user_id="42",
                              mid=mid, text=f"message {mid}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL: the next test
def test_a_drain_that_finds_the_conversation_locked_knocks_and_the_holder_applies_its_event(
        db: peewee.Database, broker_url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second message of a burst is stored while the first one's drain holds the thread: the
    drain handed out for it knocks and leaves, and the holder applies it before it returns (it
    used to come back 150 ms later through the queue's delayed messages): the holder's first
    look saw nothing behind the first message."""
    queue.setup_broker(broker_url)
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 1)], delivery_id=None, source="webhook")
    sent: list[tuple] = []
    monkeypatch.setattr(jobs.drain_conversation, "send", lambda *args, **options: sent.append((args, options)))
    take = inbox.take_next

    def burst(conversation: str, **options: bool) -> tuple[InboundEvent | None, bool]:
        taken = take(conversation, **options)
        if not sent:  # after the first look of the holder: the second message comes, and its drain
            ingest.store_events([_message("m2", 2)], delivery_id=None, source="webhook")
            jobs._drain(conversation, jobs.FollowUps())
        return taken

    monkeypatch.setattr(inbox, "take_next", burst)
    monkeypatch.setattr(jobs, "_apply_taken", lambda row: jobs.FollowUps())  # what applying does is not this test's
    jobs._drain(key, jobs.FollowUps())
    assert sent == [((key,), {"delay_ms": jobs.HOLDER_GONE_MS})]  # the knocker's own look, should the holder die
    assert [row.status for row in InboundEvent.select().order_by(InboundEvent.occurred_at)] == ["applied", "applied"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite: the test before
def test_a_drain_that_finds_the_conversation_being_applied_waits_and_applies_what_came_behind(
        db: peewee.Database, broker_url: str | None, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second message of a burst is stored while the first one's transaction is applying it
    (its take saw nothing behind): the drain handed out for the second waits for that
    transaction, on the conversation's key in PostgreSQL, then applies it. No Redis lease."""
    queue.setup_broker(broker_url)
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 1)], delivery_id=None, source="webhook")
    inside, go, seen = threading.Event(), threading.Event(), []

    def apply(row: InboundEvent) -> jobs.FollowUps:
        seen.append(ev.decode(bytes(row.payload)).mid)
        if len(seen) == 1:
            inside.set()
            assert go.wait(10)
        return jobs.FollowUps()

    monkeypatch.setattr(jobs, "_apply_taken", apply)
    monkeypatch.setattr(jobs, "key_lock", None)  # PostgreSQL's drains take no lease
    first = threading.Thread(target=_drain_in_another_connection, args=(key,))
    first.start()
    assert inside.wait(10)
    ingest.store_events([_message("m2", 2)], delivery_id=None, source="webhook")
    second = threading.Thread(target=_drain_in_another_connection, args=(key,))
    second.start()
    wait_until(lambda: _waiting_on_a_key(pg_url, db.database), timeout=10, what="the second drain waits on the key")
    assert seen == ["m1"]
    go.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert seen == ["m1", "m2"]
    assert [row.status for row in InboundEvent.select()] == ["applied", "applied"]


def _waiting_on_a_key(pg_url: str, database: str) -> bool:
    with psycopg2.connect(pg_url) as other, other.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event = 'advisory'",
                       (database,))
        return cursor.fetchone()[0] == 1


def test_a_failure_recorded_after_another_drain_applied_the_event_leaves_it_applied(db: peewee.Database) -> None:
    """A failed apply's attempt is written after its transaction (and its hold on the key) ended:
    another drain may have applied the event since."""
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 1)], delivery_id=None, source="webhook")
    row = InboundEvent.get()
    with transaction():
        inbox.take_next(key)
    assert jobs._record_failure(row, RuntimeError("the database went away")) is False
    assert InboundEvent.get().status == "applied"


def test_a_drain_applies_each_event_in_metas_order_and_takes_it_first(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m2", 20), _message("m1", 10), _message("m3", 30)], delivery_id=None,
                                source="webhook")
    seen: list[tuple[str, str]] = []

    def apply(row: InboundEvent) -> jobs.FollowUps:  # inside the transaction that took the row
        seen.append((ev.decode(bytes(row.payload)).mid, InboundEvent.get_by_id(row.id).status))
        return jobs.FollowUps()

    monkeypatch.setattr(jobs, "_apply_taken", apply)
    jobs._drain(key, jobs.FollowUps())
    assert seen == [("m1", "applied"), ("m2", "applied"), ("m3", "applied")]
    assert {row.status for row in InboundEvent.select()} == {"applied"}


def test_take_next_says_whether_events_wait_behind(db: peewee.Database) -> None:
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 10), _message("m2", 20)], delivery_id=None, source="webhook")
    looks = []
    for _ in range(3):
        with transaction():
            row, more = inbox.take_next(key)
            looks.append((row and ev.decode(bytes(row.payload)).mid, more))
    assert looks == [("m1", True), ("m2", False), (None, False)]


def test_a_drain_applies_a_burst_in_batches_of_one_transaction_each(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """One commit per APPLY_BATCH events, each event still taken and applied in order."""
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    burst = [_message(f"m{n:02d}", n) for n in range(jobs.APPLY_BATCH + 4)]
    [key] = ingest.store_events(burst, delivery_id=None, source="webhook")
    seen: list[str] = []
    commits: list[int] = []
    transaction = jobs.transaction

    @contextmanager
    def counted() -> Iterator[None]:
        with transaction():
            yield
        commits.append(len(seen))

    monkeypatch.setattr(jobs, "transaction", counted)
    monkeypatch.setattr(jobs, "_apply_taken", lambda row: seen.append(ev.decode(bytes(row.payload)).mid)
                        or jobs.FollowUps())
    jobs._drain(key, jobs.FollowUps())
    assert seen == [event.mid for event in burst]
    assert commits == [jobs.APPLY_BATCH, jobs.APPLY_BATCH + 4]  # events applied when each committed


def test_a_failing_event_in_a_batch_is_pinned_on_itself_and_the_ones_before_it_go_in(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch rolls back; its events are applied again one per transaction: the first goes in,
    the failing one goes back to pending with its attempt, the job fails (its retry comes back)."""
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 10), _message("m2", 20), _message("m3", 30)], delivery_id=None,
                                source="webhook")

    def apply(row: InboundEvent) -> jobs.FollowUps:
        if ev.decode(bytes(row.payload)).mid == "m2":
            raise RuntimeError("m2 is poison")
        return jobs.FollowUps()

    monkeypatch.setattr(jobs, "_apply_taken", apply)
    with pytest.raises(RuntimeError):
        jobs._drain(key, jobs.FollowUps())
    rows = [(row.status, row.attempts, row.reason) for row in InboundEvent.select().order_by(InboundEvent.occurred_at)]
    assert rows == [("applied", 0, None), ("pending", 1, "RuntimeError: m2 is poison"), ("pending", 0, None)]


def test_an_event_whose_apply_fails_goes_back_to_pending_with_its_attempt(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 10), _message("m2", 20)], delivery_id=None, source="webhook")

    def apply(row: InboundEvent) -> jobs.FollowUps:
        InboundEvent.update(reason="half done").where(InboundEvent.id == row.id).execute()  # rolled back too
        raise RuntimeError("the database went away")

    monkeypatch.setattr(jobs, "_apply_taken", apply)
    with pytest.raises(RuntimeError):
        jobs._drain(key, jobs.FollowUps())  # the job fails: its retry comes back for the same event
    rows = [(row.status, row.attempts, row.reason) for row in InboundEvent.select().order_by(InboundEvent.occurred_at)]
    assert rows == [("pending", 1, "RuntimeError: the database went away"), ("pending", 0, None)]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # two writers at once: PostgreSQL's case
def test_a_second_worker_waits_for_the_one_applying_the_event_then_finds_nothing(db: peewee.Database) -> None:
    """Two drains of one conversation (a lost lease): the second one's look waits for the first
    one's transaction on the row, then finds the event applied, and applies nothing twice."""
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message("m1", 10)], delivery_id=None, source="webhook")
    second: list[tuple] = []
    with transaction():
        first, _ = inbox.take_next(key)
        other = threading.Thread(target=lambda: second.append(_look_in_another_connection(key)))
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive(), "the second look waits for this transaction"
    other.join(timeout=10)
    assert first is not None and second == [(None, False)]


def _look_in_another_connection(key: str) -> tuple:
    with connection(), transaction():
        return inbox.take_next(key)


@pytest.fixture
def booted(database_url: str) -> Iterator[None]:
    """This process configured as a worker is (settings, database, in-process queue)."""
    runtime.boot(load_settings(make_env(database_url)), migrate=True)
    cache.end_job()
    with connection():
        yield
    cache.end_job()


def _comment_on_a_watched_post() -> str:
    """A page whose campaign answers every comment on post 1_9 privately, and a comment there,
    stored pending; its conversation key."""
    channel = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    campaigns.save(CampaignSpec(name="Giveaway", channel_id=channel.id, is_active=True,
                                trigger=TriggerSpec(all_posts=False, post_ids=["1_9"]),
                                actions=[ActionSpec(kind="send_message", message=MessageContent(text="You're in!"))]))
    [key] = ingest.expand_deliveries(ingest.store_deliveries([p.encode(p.feed_comment("1", "9_2", "1_9"))]))
    return key


def test_a_drain_inserts_its_private_reply_claimed_for_its_own_sender(booted: None) -> None:
    """No claim statement and no second row version before the send: the row goes in `sending`,
    for this job only (the queue's sender finds nothing to take), with the answered comment."""
    key = _comment_on_a_watched_post()
    follow = jobs.FollowUps()
    jobs._drain(key, follow)
    reply = Message.get(Message.send_kind == "private_reply")
    assert (reply.status, reply.attempts, reply.send_started_at is not None) == ("sending", 1, True)
    assert follow.send == [reply.id] and follow.claimed[reply.id].target_comment.comment_id == "9_2"
    assert follow.claimed[reply.id].text == "You're in!" and follow.claimed[reply.id].conversation_id is not None
    assert sender.send_one(reply.id) == sender.Outcome()  # another sender: nothing to claim, nothing sent
    assert Message.get_by_id(reply.id).status == "sending"


def test_a_reply_added_outside_a_drain_waits_pending_for_any_sender(booted: None) -> None:
    key = _comment_on_a_watched_post()
    follow = jobs.apply_event(InboundEvent.get(InboundEvent.conversation_key == key))
    reply = Message.get(Message.send_kind == "private_reply")
    assert (reply.status, reply.attempts, follow.claimed) == ("pending", 0, {})


@pytest.mark.parametrize("pressed", [False, True])
def test_under_ingest_pressure_a_drain_rests_after_each_transaction(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch, pressed: bool) -> None:
    """While the webhook endpoint is saturated (`pressure`), each transaction applying a batch is
    followed by a rest; otherwise none. Every event is applied either way."""
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    [key] = ingest.store_events([_message(f"m{n:02d}", n) for n in range(jobs.APPLY_BATCH + 4)],
                                delivery_id=None, source="webhook")
    monkeypatch.setattr(jobs, "_apply_taken", lambda row: jobs.FollowUps())
    rests = _rests_around(lambda: jobs._drain(key, jobs.FollowUps()), pressed, monkeypatch)
    assert len(rests) == (2 if pressed else 0)  # two transactions: APPLY_BATCH events, then 4
    assert {row.status for row in InboundEvent.select()} == {"applied"}


@pytest.mark.parametrize("pressed", [False, True])
def test_under_ingest_pressure_the_expander_rests_after_each_round(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch, pressed: bool) -> None:
    """The expander's rounds are paced like the drains' transactions (a round that found nothing
    included: it still read the deliveries)."""
    rounds = iter([["dm:a"], ["dm:b"], None])
    monkeypatch.setattr(ingest, "expand_next", lambda: next(rounds))
    drained: list[list[str]] = []
    monkeypatch.setattr(jobs, "drain_conversations", drained.append)
    monkeypatch.setattr(jobs, "hand_out", lambda keys: drained.append(keys) if keys else None)
    rests = _rests_around(jobs._expand_and_drain, pressed, monkeypatch)
    assert len(rests) == (3 if pressed else 0)
    assert drained == [["dm:a"], ["dm:b"]]


def _rests_around(work: Callable[[], object], pressed: bool, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rests `pressure.paced` asked for while `work` ran, with ingest pressure noted or not."""
    rests: list[float] = []
    monkeypatch.setattr(pressure, "time", SimpleNamespace(monotonic=time.monotonic, sleep=rests.append))
    queue.setup_broker(None)
    pressure.forget()
    if pressed:
        pressure.note()
    try:
        work()
    finally:
        pressure.forget()
    return rests


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # two writers at once: PostgreSQL's case
@pytest.mark.parametrize("places", [1, 2])
def test_a_process_applies_at_most_its_apply_concurrency_at_once(
        db: peewee.Database, monkeypatch: pytest.MonkeyPatch, places: int) -> None:
    """Two threads drain two conversations: with one place to apply in, the second waits for the
    first one's transaction (it never sees the first one applying); with two, they overlap."""
    monkeypatch.setattr(jobs, "_apply_concurrency", lambda: places)
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    ConfigVersion.insert(id=1, epoch="e", version=0).on_conflict_ignore().execute()  # as a migrated database has
    keys = [ingest.store_events([ev.MessageReceived(platform=ev.Platform.FACEBOOK, account_id="1", timestamp=10,
                                                    user_id=user, mid=f"m{user}", text="hi")],
                                delivery_id=None, source="webhook")[0] for user in ("41", "42")]
    active, peak, lock, both = [0], [0], threading.Lock(), threading.Event()

    def apply(row: InboundEvent) -> jobs.FollowUps:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            if active[0] == 2:
                both.set()
        both.wait(timeout=0.5)  # give the other thread the chance to be applying at the same time
        with lock:
            active[0] -= 1
        return jobs.FollowUps()

    monkeypatch.setattr(jobs, "_apply_taken", apply)
    threads = [threading.Thread(target=_drain_in_another_connection, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert peak == [places]
    assert {row.status for row in InboundEvent.select()} == {"applied"}


def _drain_in_another_connection(key: str) -> None:
    with connection():
        jobs._drain(key, jobs.FollowUps())
