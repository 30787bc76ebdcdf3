"""The queue in both modes (in-process and Redis), and what survives a worker killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest

from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.core.compose import MessageContent
from bot.platform import queue
from bot.platform.db import connection
from bot.platform.models import Channel, InboundEvent, Message
from tests.bot.meta import payloads as p
from tests.conftest import make_env
from tests.servers import LiveServer, Stack, reset_postgres, reset_redis, wait_until

ROOT = Path(__file__).resolve().parents[3]


def test_key_lock_excludes_and_frees(broker_url: str | None) -> None:
    queue.setup_broker(broker_url)
    with queue.key_lock("conv:1") as first:
        assert first
        with queue.key_lock("conv:1") as second:
            assert not second
        with queue.key_lock("conv:2") as other:
            assert other
    with queue.key_lock("conv:1") as again:
        assert again


def test_a_knock_on_a_held_key_is_told_to_its_holder_once(broker_url: str | None) -> None:
    """One who finds the key taken may knock (`knock=True`); the holder learns it at release, and
    the knock is gone after that."""
    queue.setup_broker(broker_url)
    with queue.key_lock("conv:k") as holder:
        with queue.key_lock("conv:k") as plain:
            assert not plain
    assert holder and not holder.knocked  # taken without knocking: nothing to tell
    with queue.key_lock("conv:k") as holder:
        with queue.key_lock("conv:k", knock=True) as knocker:
            assert not knocker
        assert not knocker.knocked and not holder.knocked  # told at release, not before
    assert holder.knocked
    with queue.key_lock("conv:k") as next_holder:
        assert next_holder
    assert not next_holder.knocked


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_consumers_of_delayed_messages_look_at_redis_every_second(broker_url: str) -> None:
    """Delayed messages (retries after a backoff, deferred events) wait half a second or more by
    design: their idle consumers poll Redis every DELAY_POLL_MS, the queue's every IDLE_POLL_MS."""
    import bot.jobs  # noqa: F401  (declares the jobs, and so the queue the worker consumes)

    worker = dramatiq.Worker(queue.setup_broker(broker_url), worker_threads=1)
    worker.start()
    try:
        wait_until(lambda: all(thread.consumer for thread in worker.consumers.values()), 5, what="the consumers")
        polls = {name: thread.consumer.timeout for name, thread in worker.consumers.items()}
        assert polls == {queue.QUEUE: queue.IDLE_POLL_MS, f"{queue.QUEUE}.DQ": queue.DELAY_POLL_MS}
    finally:
        worker.stop()


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_an_idle_consumer_waits_on_its_bell_and_an_enqueue_wakes_it(broker_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a fetch finds the queue empty the consumer blocks on the queue's bell instead of
    polling Redis 5, 10, 20 ... ms apart; a message enqueued rings it. The wait is made far longer
    than the test's bound (and redis-py's socket timeout, 5 s by default, with it), so only the bell
    can end it in time."""
    import bot.jobs as jobs

    monkeypatch.setattr(queue, "BELL_WAIT_MS", 60_000)
    broker = queue.setup_broker(f"{broker_url}?socket_timeout=120")
    fetches = _counted_fetches(broker, monkeypatch)
    consumer = broker.consume(queue.QUEUE, prefetch=4, timeout=queue.IDLE_POLL_MS)
    woken: list[object] = []
    waiting = threading.Thread(target=lambda: woken.append(next(consumer)), daemon=True)
    waiting.start()
    wait_until(lambda: broker.client.info("clients")["blocked_clients"] == 1, 10, what="the consumer on its bell")
    assert fetches == [0]  # it looked once, found nothing, and waits

    jobs.drain_conversations.send([])
    wait_until(lambda: woken, 10, what="the bell to wake the consumer")
    message = next(consumer)
    assert message is not None and message.actor_name == "drain_conversations"
    assert fetches == [0, 1]  # one look per wake-up, none in between
    consumer.ack(message)


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_a_bell_rung_before_the_consumer_waits_is_not_lost(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message enqueued between the consumer's empty fetch and its wait leaves its bell, so the
    wait ends at once and the next look finds it; delayed messages ring no bell."""
    import bot.jobs as jobs

    monkeypatch.setattr(queue, "BELL_WAIT_MS", 60_000)
    broker = queue.setup_broker(f"{broker_url}?socket_timeout=120")
    bell = queue.bell_key(broker.namespace, queue.QUEUE)
    jobs.drain_conversations.send([], delay_ms=60_000)
    assert broker.client.llen(bell) == 0
    jobs.drain_conversations.send([])
    jobs.drain_conversations.send([])
    assert broker.client.llen(bell) == 1  # one bell waits, however many messages
    consumer = broker.consume(queue.QUEUE, prefetch=1, timeout=queue.IDLE_POLL_MS)
    first = next(consumer)  # room for one: the queue may hold more, so no wait yet
    consumer.ack(first)
    second = next(consumer)
    assert first is not None and second is not None
    consumer.ack(second)
    fetches = _counted_fetches(broker, monkeypatch)
    done: list[object] = []
    looking = threading.Thread(target=lambda: done.append(next(consumer)), daemon=True)
    looking.start()  # the queue is empty now: the bell the messages above left ends the wait at once
    wait_until(lambda: done, 10, what="the leftover bell to end the wait")
    assert done == [None] and fetches == [0] and broker.client.llen(bell) == 0


def _counted_fetches(broker: dramatiq.Broker, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many messages each of the broker's fetches returned, in order."""
    fetched: list[int] = []
    fetch = broker.do_fetch

    def counted(*args: object) -> list[bytes]:
        messages = fetch(*args)
        fetched.append(len(messages))
        return messages

    monkeypatch.setattr(broker, "do_fetch", counted, raising=False)
    return fetched


def test_only_one_clock_holds_the_lease(broker_url: str | None) -> None:
    queue.setup_broker(broker_url)
    assert queue.hold_lease("clock", "a", 5000)
    assert queue.hold_lease("clock", "a", 5000)  # renewal
    assert queue.hold_lease("clock", "b", 5000) is (broker_url is None)  # in-process: one process only


def test_a_worker_built_as_dramatiqs_command_line_does_looks_at_its_queue_every_100_ms(
        broker_url: str | None) -> None:
    """`socialdesk worker` runs Dramatiq's command line, whose workers keep Dramatiq's default idle
    timeout (1,000 ms): an idle consumer then looked at Redis only every 0.5-1 s, and the first
    comment after every quiet second waited that long before anything was done with it."""
    import bot.jobs  # noqa: F401  (declares the jobs, and so the queue the worker consumes)

    broker = queue.setup_broker(broker_url)
    assert dramatiq.worker.WORKER_TIMEOUT > queue.IDLE_POLL_MS  # what such a worker starts with
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        polls = [consumer.worker_timeout for consumer in worker.consumers.values()]
        assert polls and max(polls) <= queue.IDLE_POLL_MS
        # its threads wait on a queue that wakes them: polling it as often would only cost CPU
        assert [thread.timeout for thread in worker.workers] == [dramatiq.worker.WORKER_TIMEOUT / 1000]
    finally:
        worker.stop()


_CLAIMER = """
import sys, time
from bot.platform import queue
queue.setup_broker(sys.argv[1])
with queue.in_flight("send", 7), queue.key_lock("conv:dead") as locked:
    print("claimed" if locked else "not locked", flush=True)
    time.sleep(600)
"""


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_a_killed_process_claims_and_locks_are_free_within_seconds(broker_url: str) -> None:
    """While a process lives its claims are seen and its locks kept (renewed past their TTL);
    killed with SIGKILL, both are gone within one `LIVE_TTL_MS` (the sweep and the next drain
    take over), not after the long timeouts a dead holder once cost."""
    queue.setup_broker(broker_url)
    client, lock = queue.current_broker().client, queue.redis_key("lease", "conv:dead")
    claimer = subprocess.Popen([sys.executable, "-c", _CLAIMER, broker_url], cwd=ROOT, stdout=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True)
    try:
        assert claimer.stdout is not None and claimer.stdout.readline().strip() == "claimed"
        wait_until(lambda: queue.live_claims("send") == {7}, 5, what="the claim published")
        lowest = [client.pttl(lock)]

        def renewed() -> bool:  # the lock's remaining time went up again: its holder renewed it
            remaining = client.pttl(lock)
            lowest[0] = min(lowest[0], remaining)
            return remaining > lowest[0] + 100

        wait_until(renewed, 5, interval=0.01, what="the lock renewed")
        with queue.key_lock("conv:dead") as second:
            assert not second
    finally:
        claimer.kill()
        claimer.wait(timeout=10)
    seconds = queue.LIVE_TTL_MS / 1000 + 2
    wait_until(lambda: queue.live_claims("send") == set(), seconds, what="the dead process's claim gone")
    wait_until(lambda: not client.exists(lock), seconds, what="the dead process's lock gone")
    with queue.key_lock("conv:dead") as after:
        assert after
    with queue.in_flight("send", 8):
        wait_until(lambda: queue.live_claims("send") == {8}, 5, what="this process's claim published")
    wait_until(lambda: queue.live_claims("send") == set(), 5, what="a finished claim withdrawn")


def test_interleaved_conversations_keep_order_over_redis(stack_redis: Stack) -> None:
    """Many conversations, events shuffled across deliveries, 4 worker threads on Redis."""
    page_id = stack_redis.page["page_id"]
    start = int(time.time() * 1000)
    bodies = [p.messenger_message(page_id, f"80{c:02d}", f"m_{c}_{i}", text=str(i), timestamp=start + i)
              for i in range(6) for c in range(10)]
    for chunk in range(0, len(bodies), 7):
        assert stack_redis.post_webhook(p.batch(*bodies[chunk:chunk + 7])).status_code == 200
    stack_redis.wait(lambda: InboundEvent.select().where(InboundEvent.status == "applied").count() == 60,
                     what="60 applied")
    with connection():
        for c in range(10):  # each message is inserted as its event is applied: ids tell the order
            applied = [m.mid for m in Message.select().where(Message.mid.startswith(f"m_{c}_")).order_by(Message.id)]
            assert applied == [f"m_{c}_{i}" for i in range(6)]


@pytest.fixture
def api_without_workers(pg_url: str, redis_url: str, sandbox_server: LiveServer) -> Iterator[Stack]:
    reset_postgres(pg_url)
    reset_redis(redis_url)
    with Stack.start(make_env(pg_url, redis_url), sandbox_server, workers=False) as stack:
        yield stack


def start_worker(stack: Stack) -> subprocess.Popen:
    env = {**os.environ, **stack.env, "PYTHONPATH": str(ROOT), "SOCIALDESK_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--processes", "1", "--threads", "4"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(api_without_workers: Stack) -> None:
    """The killed worker held conversation locks and rows it was sending (Meta answers slowly
    here, so some are mid-call): the restarted worker takes both back within seconds (not the
    two minutes of the "stuck" timeout), and each row claimed by the dead one is settled as an
    ambiguous send (Meta's 10900 tells when the first call went through)."""
    stack = api_without_workers
    page_id = stack.page["page_id"]
    post = stack.control("posts", account_id=page_id, message="Giveaway")["post_id"]
    with connection():
        channel = Channel.get(Channel.account_id == page_id).id
        campaigns.save(CampaignSpec(name="Giveaway", channel_id=channel, is_active=True,
                                    trigger=TriggerSpec(all_posts=False, post_ids=[post]),
                                    actions=[ActionSpec(kind="send_message",
                                                        message=MessageContent(text="You're in!"))]))
    now = int(time.time())
    stack.control("deliveries/hold", hold=True)  # the sandbox plays 300 commenters, delivered in batches
    for i in range(300):
        user = stack.control("customers", account_id=page_id, name=f"P {i}")["user_id"]
        stack.control("comment", account_id=page_id, post_id=post, user_id=user, text="me")
    flushed = stack.control("deliveries/flush", batch=True)["deliveries"]
    assert all(d["status"] == 200 for d in flushed)
    stack.control("deliveries/hold", hold=False)
    messages = [p.messenger_message(page_id, f"91{i % 50:04d}", f"m_kill_{i}", text=str(i),
                                    timestamp=now * 1000 + i) for i in range(700)]
    for chunk in range(0, 700, 100):
        assert stack.post_webhook(p.batch(*messages[chunk:chunk + 100])).status_code == 200
    stack.control("config", latency_ms=200)  # sends take a while: the kill lands in the middle of some
    worker = start_worker(stack)
    stack.wait(lambda: InboundEvent.select().where(InboundEvent.status == "applied").count() > 100, timeout=60,
               what="worker busy")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    stack.control("config", latency_ms=0)
    with connection():
        applied_at_kill = InboundEvent.select().where(InboundEvent.status == "applied").count()
        sending_at_kill = Message.select().where(Message.status == "sending").count()
    assert applied_at_kill < 1000, "the kill must land in the middle of the batch"
    assert sending_at_kill > 0, "the kill must land in the middle of a send"
    worker = start_worker(stack)
    try:
        customer_events = InboundEvent.kind.in_(["CommentAdded", "MessageReceived"])
        stack.wait(lambda: InboundEvent.select().where(customer_events & (InboundEvent.status == "applied"))
                   .count() == 1000, timeout=180, what="every event applied after the restart")
        # Well under the two minutes after which a row left `sending` was once taken back.
        stack.wait(lambda: Message.select().where(Message.send_kind == "private_reply", Message.status == "sent")
                   .count() == 300, timeout=90, what="300 private replies")
        stack.wait(lambda: not InboundEvent.select().where(InboundEvent.status == "pending").exists(), timeout=60,
                   what="echoes applied")
    except AssertionError:
        with connection():
            from peewee import fn
            rows = (Message.select(Message.send_kind, Message.status, Message.status_reason, fn.COUNT(Message.id))
                    .where(Message.direction == "out").group_by(Message.send_kind, Message.status,
                                                                 Message.status_reason).tuples())
            print("OUTGOING", list(rows))
        raise
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    with connection():
        assert [e.reason for e in InboundEvent.select().where(InboundEvent.status != "applied")] == []
        assert Message.select().where(Message.direction == "in", Message.kind == "message").count() == 700
        assert Message.select().where(Message.kind == "comment", Message.direction == "in").count() == 300
        assert Message.select().where(Message.direction == "out", Message.error_kind.is_null(False)).count() == 0
    sent = [s for s in stack.sandbox_get("sent")["sent"] if s["private_reply"]]
    assert len(sent) == 300
    assert len({s["body"]["recipient"]["comment_id"] for s in sent}) == 300
