"""The one place that chooses the broker: Dramatiq over Redis when REDIS_URL is set, an
in-process broker with worker threads otherwise. Jobs are declared once with `@job` and bound to
whichever broker `setup_broker` builds, so actors are the same code in both modes.

The database is the record of all work (deliveries, events, outgoing messages, scheduled jobs);
the queue only carries "look at row N now". A lost queue message therefore loses nothing: the
clock (`bot.clock`) re-enqueues rows that stayed unprocessed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import Middleware
from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend, StubBackend
from redis.exceptions import RedisError

from bot.platform import cache
from bot.platform.db import db
from bot.platform.heartbeat import WorkerHeartbeat

log = logging.getLogger(__name__)

QUEUE = "socialdesk"
_REGISTRY: dict[str, Job] = {}
_state: dict[str, Any] = {}


class Job:
    """A function that can run in a worker; `.send(...)` enqueues it on the current broker."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.options = options

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def send(self, *args: Any, delay_ms: int | None = None) -> None:
        if _state.get("detached"):
            _run_detached(self, args, delay_ms)
            return
        actor = current_broker().get_actor(self.name)
        actor.send_with_options(args=args, delay=delay_ms)


def _run_detached(declared: Job, args: tuple, delay_ms: int | None) -> None:
    """A process with the in-process queue but no worker of its own (the dashboard next to
    `socialdesk run`) runs a job at once in a thread; delayed work is left to the clock, which
    finds the row due in the database."""
    if delay_ms:
        return

    def run() -> None:
        try:
            if db.is_closed():
                db.connect()
            declared.fn(*args)
        except Exception:
            log.exception("job %s failed", declared.name)
        finally:
            if not db.is_closed():
                db.close()

    threading.Thread(target=run, name=f"job-{declared.name}", daemon=True).start()


def detach() -> None:
    """Mark this process as having no worker for the in-process queue (see `_run_detached`)."""
    if not is_redis():
        _state["detached"] = True


def job(**options: Any) -> Callable[[Callable[..., Any]], Job]:
    """Declare a job; `options` are Dramatiq actor options (max_retries, time_limit, throws...)."""

    def register(fn: Callable[..., Any]) -> Job:
        declared = Job(fn, options)
        _REGISTRY[declared.name] = declared
        broker = _state.get("broker")
        if broker is not None:  # declared after the broker was set up: bind it now
            _bind(broker, declared)
        return declared

    return register


IDLE_POLL_MS = 100  # the longest an idle worker waits between two looks at its queue


class QuickPoll(Middleware):
    """An idle Redis consumer looks at its queue again after 5, 10, 20 ... ms, up to the worker's
    timeout, which is Dramatiq's default 1,000 ms for the worker `dramatiq`'s own command line
    builds (`socialdesk worker`): the first message after a quiet second then waited 0.5-1 s per
    hop (webhook -> drain), every quiet spell, which most pages have between comments
    (bench.e2e's slowest replies). The consumers start with IDLE_POLL_MS (since session 12 an idle
    consumer of the queue waits on its bell instead, `_BellConsumer`; the timeout is left for a
    consumer whose every prefetched message is being worked on). The worker threads keep
    the worker's own timeout: they wait on an in-process queue that wakes them when a message
    comes, and at 100 ms 64 idle threads woke 640 times a second (4x an idle worker's CPU).
    (The `dramatiq_worker_timeout` environment variable is read once, when dramatiq is first
    imported: too early to set from a command.)"""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._threads_wait_s = worker.worker_timeout / 1000
        worker.worker_timeout = min(worker.worker_timeout, IDLE_POLL_MS)  # read as the consumers start

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        for thread in worker.workers:
            thread.timeout = self._threads_wait_s


DELAY_POLL_MS = 1_000  # the longest an idle consumer of delayed messages waits between two looks
BELL_WAIT_MS = 1_000  # the longest an idle consumer waits on its queue's bell before it looks anyway


class _Broker(RedisBroker):
    """Dramatiq's Redis broker with two changes to how idle consumers wait.

    A consumer of the queue waits on a *bell* (`_BellConsumer`): every message enqueued without
    a delay rings it. Dramatiq's consumer polls instead, 5, 10, 20 ... ms apart up to the idle
    timeout, after every message: at 50 comments/s those polls were 18 % of a worker's
    interpreter time (py-spy), a message came up to IDLE_POLL_MS late, and an idle stack spent
    twice the CPU it does with bells (bench.e2e: 36 -> 18 ms/s).

    The consumers of delayed messages (the `.DQ` queues: retries after a backoff, a deferred
    event, a flow's busy lock) look at Redis every DELAY_POLL_MS when idle: a delayed message
    waits half a second or more by design, and polling them as often was a third of an idle
    worker's CPU (two processes: 29 -> 20.5 ms/s, Redis 8 -> 6.5 ms/s). A drain finding its
    conversation busy waits for it in PostgreSQL, or knocks on SQLite (`key_lock`), so no reply
    waits on this poll."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> dramatiq.Consumer:
        if dq_name(queue_name) == queue_name:
            return super().consume(queue_name, prefetch, max(timeout, DELAY_POLL_MS))
        return _BellConsumer(self, queue_name, prefetch, timeout)

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        enqueued = super().enqueue(message, delay=delay)
        if delay is None:
            self.ring(message.queue_name)
        return enqueued

    def ring(self, queue_name: str) -> None:
        """One bell at most waits (a consumer woken fetches every message there is). A bell that
        could not be rung costs a delay, never a message: idle consumers look every BELL_WAIT_MS."""
        key = bell_key(self.namespace, queue_name)
        try:
            self.client.pipeline(transaction=False).lpush(key, 1).ltrim(key, 0, 0).execute()
        except RedisError:
            log.warning("could not ring the bell of queue %s", queue_name)


def bell_key(namespace: str, queue_name: str) -> str:
    return f"{namespace}:{queue_name}.bell"


class _BellConsumer(_RedisConsumer):
    """Fetches while its queue may hold more; once a fetch found fewer messages than it had room
    for, the queue was empty, and it waits on the queue's bell (BLPOP) until one is enqueued.

    No wake-up is lost: a message is enqueued before its bell is rung, so a bell rung after
    this consumer's last fetch is still there when it waits, and a bell taken is followed by a
    fetch. A bell left by a message another consumer fetched costs one fetch that finds nothing.
    Acks need no wake-up (Dramatiq's worker threads ack themselves)."""

    def __init__(self, broker: _Broker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self._drained = False  # the last fetch found the queue empty: wait for its bell

    def __next__(self) -> dramatiq.MessageProxy | None:
        try:
            while not self.message_cache:
                if self._drained:
                    return self._wait_for_bell()
                if not self._fetch():
                    return self._wait_for_room()
            return self._take_cached()
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None

    def _fetch(self) -> bool:
        """Fetch what there is room for; False when there is no room (every prefetched message
        still being worked on)."""
        room = self.prefetch - self.outstanding_message_count
        if room <= 0:
            return False
        self.message_cache = self.broker.do_fetch(self.queue_name, room) or []
        self._drained = len(self.message_cache) < room
        return True

    def _take_cached(self) -> dramatiq.MessageProxy | None:
        data = self.message_cache.pop(0)
        if data is None:  # Dramatiq guards against this too (its issue 266)
            return None
        message = dramatiq.Message.decode(data)
        self.queued_message_ids.add(message.message_id)
        return dramatiq.MessageProxy(message)

    def _wait_for_bell(self) -> None:
        self._drained = False
        try:
            self.broker.client.blpop([bell_key(self.broker.namespace, self.queue_name)], BELL_WAIT_MS / 1000)
        except redis.TimeoutError:  # a socket timeout shorter than the wait: look again
            pass

    def _wait_for_room(self) -> None:
        """Every prefetched message is being worked on: a bell would not let this consumer fetch,
        so leave bells to the others and look again shortly, as Dramatiq does."""
        time.sleep(self.timeout / 1000)


class DatabaseConnection(Middleware):
    """A database connection per job, returned to the pool when the job ends (peewee connections
    are per thread; Dramatiq runs jobs in threads)."""

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        if db.is_closed():
            db.connect()

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        cache.end_job()
        if not db.is_closed():
            db.close()

    after_skip_message = after_process_message


def setup_broker(redis_url: str | None, *, send_rate: int = 250, media_send_rate: int = 10,
                 prefix: str = "socialdesk") -> dramatiq.Broker:
    """Build the broker for this process, bind every declared job to it and make it current.
    Every Redis key lives under `prefix` (SOCIALDESK_REDIS_PREFIX): the broker's queues, acks and
    heartbeats as its namespace, locks, leases and rate limits through `redis_key`."""
    if redis_url:
        # Fast recovery of a killed worker's in-flight messages (see shared/stack-notes.md §3).
        broker: dramatiq.Broker = _Broker(url=redis_url, namespace=prefix, heartbeat_timeout=5000,
                                              maintenance_chance=100000, dead_message_ttl=7 * 86400 * 1000)
        backend: Any = RedisBackend(url=redis_url)
    else:
        broker = StubBroker()
        backend = StubBackend()
    broker.add_middleware(QuickPoll())
    broker.add_middleware(DatabaseConnection())
    broker.add_middleware(WorkerHeartbeat())  # /health: is anything consuming? (bot.platform.heartbeat)
    _bind_jobs(broker)
    dramatiq.set_broker(broker)
    _state.update(broker=broker, backend=backend, redis_url=redis_url, detached=False, send_rate=send_rate,
                  media_send_rate=media_send_rate, prefix=prefix)
    return broker


def redis_key(*parts: str) -> str:
    """A Redis key of this install: `<prefix>:<part>:<part>...`. Every key socialdesk makes
    outside the broker goes through here, so two installs on one Redis never meet."""
    return ":".join((_state.get("prefix", "socialdesk"), *parts))


def _bind_jobs(broker: dramatiq.Broker) -> None:
    """Bind every job declared so far (`bot.jobs` declares them; whatever enqueues or consumes
    imports it, so its jobs are declared before the first send in every process)."""
    for declared in _REGISTRY.values():
        _bind(broker, declared)


def _bind(broker: dramatiq.Broker, declared: Job) -> None:
    options = {"max_retries": 5, "min_backoff": 500, "max_backoff": 60_000, **declared.options}
    dramatiq.actor(declared.fn, actor_name=declared.name, queue_name=QUEUE, broker=broker, **options)


def current_broker() -> dramatiq.Broker:
    broker = _state.get("broker")
    if broker is None:
        raise RuntimeError("setup_broker() was not called in this process")
    return broker


def is_redis() -> bool:
    return bool(_state.get("redis_url"))


LIVE_TTL_MS = 5_000  # a dead process's locks and in-flight claims are free again within this


class Hold:
    """What `key_lock` yields: true when the lock was acquired; `held` turns False when a Redis
    lease was lost meanwhile (Redis flushed, a stall longer than its TTL), so long work can stop
    instead of going on beside the lock's next holder."""

    def __init__(self, acquired: bool, lease: Lease | None = None) -> None:
        self.acquired, self.lease = acquired, lease
        self.knocked = False  # set at release: another caller asked for the key meanwhile (`key_lock`)

    def __bool__(self) -> bool:
        return self.acquired

    @property
    def held(self) -> bool:
        return self.acquired and (self.lease is None or self.lease.held)


@contextmanager
def key_lock(key: str, ttl_ms: int = LIVE_TTL_MS, *, knock: bool = False) -> Iterator[Hold]:
    """A mutex over all processes (Redis) or threads (in-process) for one key; yields a `Hold`,
    true when it was acquired. Over Redis it is a `Lease`: renewed while its holder lives, however
    long the work takes, and free again within `ttl_ms` of a holder killed mid-work (a restarted
    worker resumes a killed one's conversations in seconds).

    With `knock`, a caller that finds the key taken leaves a knock on it, in the same atomic step
    (so no release falls between the two), and the holder learns at release (`Hold.knocked`, set
    when the block ends) that someone asked for the key meanwhile: a conversation's drain then
    looks again at once, instead of the one that knocked coming back later through the queue."""
    lease = Lease(key, ttl_ms)
    hold = Hold(lease.acquire(knock=knock), lease)
    try:
        yield hold
    finally:
        if hold.acquired:
            hold.knocked = lease.release()


class Lease:
    """A mutex held only while its holder is alive: the process's renewer thread renews it every
    third of its TTL, so a long piece of work keeps it however long it takes, and a dead process
    loses it within one TTL. `held` turns False if a renewal finds the lease gone (Redis flushed,
    a pause longer than the TTL): the holder stops at its next check instead of working beside a
    successor."""

    _local_held: set[str] = set()  # in-process: the keys held now (so nothing piles up)...
    _local_knocks: set[str] = set()  # ...and those knocked on while held
    _local_guard = threading.Lock()

    def __init__(self, key: str, ttl_ms: int) -> None:
        self.key, self.ttl_ms = redis_key("lease", key), ttl_ms
        self.knock_key = redis_key("knock", key)
        self.owner = f"{threading.get_ident()}:{id(self)}:{time.monotonic_ns()}"
        self.held = False
        self.renew_at = 0.0  # monotonic seconds: when the renewer next extends it
        self._stop = threading.Event()  # set: nothing renews it any more (released, or its holder is gone)

    def acquire(self, *, knock: bool = False) -> bool:
        """Take the lease; with `knock`, leave a knock on it when it is taken (one atomic step)."""
        self.held = self._take_in_redis(knock) if is_redis() else self._take_here(knock)
        return self.held

    def release(self) -> bool:
        """Let go; true when someone knocked while it was held (the knock is cleared)."""
        self._stop.set()
        _renewer.discard(self)
        if not self.held:
            return False
        self.held = False
        return self._give_in_redis() if is_redis() else self._give_here()

    def _take_in_redis(self, knock: bool) -> bool:
        client = current_broker().client
        if knock:
            taken = bool(client.eval(_ACQUIRE_OR_KNOCK, 2, self.key, self.knock_key, self.owner, self.ttl_ms,
                                     KNOCK_TTL_MS))
        else:
            taken = bool(client.set(self.key, self.owner, nx=True, px=self.ttl_ms))
        if taken:
            _renewer.add(self)
        return taken

    def _give_in_redis(self) -> bool:
        return current_broker().client.eval(_RELEASE, 2, self.key, self.knock_key, self.owner) == 2

    def _take_here(self, knock: bool) -> bool:
        """In-process (one process, no TTL needed: a job's thread always reaches its `finally`)."""
        with self._local_guard:
            if self.key not in self._local_held:
                self._local_held.add(self.key)
                return True
            if knock:
                self._local_knocks.add(self.key)
            return False

    def _give_here(self) -> bool:
        with self._local_guard:
            self._local_held.discard(self.key)
            knocked = self.key in self._local_knocks
            self._local_knocks.discard(self.key)
        return knocked

    def renew(self) -> None:
        """Extend the TTL (the renewer thread calls this); a failed call is tried again soon."""
        if self._stop.is_set():
            _renewer.discard(self)
            return
        try:
            renewed = current_broker().client.eval(_RENEW, 1, self.key, self.owner, self.ttl_ms)
        except Exception:
            log.warning("renewing lease %s failed", self.key, exc_info=True)
            self.renew_at = time.monotonic() + self.ttl_ms / 10000  # soon: two thirds of its TTL are left
            return
        self.renew_at = time.monotonic() + self.ttl_ms / 3000
        if not renewed and self.held:
            log.error("lease %s was lost while held", self.key)
            self.held = False
            _renewer.discard(self)


KNOCK_TTL_MS = 60_000  # a knock its holder never read (it died) does not outlive this
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
# 0: not ours (any more); 1: released; 2: released, and someone knocked meanwhile (the knock is cleared)
_RELEASE = ("if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end redis.call('del', KEYS[1]) "
            "return 1 + redis.call('del', KEYS[2])")
_ACQUIRE_OR_KNOCK = ("if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end "
                     "redis.call('set', KEYS[2], '1', 'PX', ARGV[3]) return 0")


@contextmanager
def live_lock(key: str, ttl_ms: int = LIVE_TTL_MS) -> Iterator[Lease | None]:
    """A `Lease` on `key` for the block (None when another holder has it): `key_lock`'s own."""
    with key_lock(key, ttl_ms) as hold:
        yield hold.lease if hold else None


class _Renewer:
    """One thread per process keeps the process alive in Redis's eyes: it renews every `Lease`
    held here when a third of its TTL has passed, and publishes the rows this process is working
    on (`in_flight`). It starts with the first lease or claim (after a fork, the child starts
    its own)."""

    def __init__(self) -> None:
        self._leases: set[Lease] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._deadline = 0.0
        self._pid: int | None = None

    def add(self, lease: Lease) -> None:
        lease.renew_at = time.monotonic() + lease.ttl_ms / 3000
        with self._lock:
            self._leases.add(lease)
        self.start()
        if lease.renew_at < self._deadline:  # sooner than the thread means to wake
            self._wake.set()

    def discard(self, lease: Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        threading.Thread(target=self._run, name="socialdesk-leases", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._deadline = self._next_round()
            self._wake.wait(None if self._deadline == float("inf") else max(0.0, self._deadline - time.monotonic()))
            self._wake.clear()
            try:
                self._round()
            except Exception:  # the thread must outlive a Redis hiccup
                log.warning("renewing leases failed", exc_info=True)

    def _next_round(self) -> float:
        with self._lock:
            soonest = min((lease.renew_at for lease in self._leases), default=float("inf"))
        return min(soonest, _claims.publish_at)

    def _round(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [lease for lease in self._leases if lease.renew_at <= now]
        for lease in due:
            lease.renew()
        if _claims.publish_at <= now:
            _claims.publish()


class _Claims:
    """The rows each kind of work (`"send"`) has claimed in this process, published to Redis
    every third of `LIVE_TTL_MS` under a key that lives one `LIVE_TTL_MS`: a row claimed by a
    process that is gone is known as such within seconds (`live_claims`). A claim is published
    within a third of `LIVE_TTL_MS`; whoever takes rows back waits longer than that."""

    def __init__(self) -> None:
        self.rows: dict[str, set[int]] = {}
        self.lock = threading.Lock()
        self.publish_at = 0.0  # monotonic seconds: the renewer's next publication
        self.process = ""
        self._published: set[str] = set()  # kinds this process has a key for

    def add(self, kind: str, row_id: int) -> None:
        with self.lock:
            self._own()
            self.rows.setdefault(kind, set()).add(row_id)

    def discard(self, kind: str, row_id: int) -> None:
        with self.lock:
            self.rows.get(kind, set()).discard(row_id)

    def _own(self) -> None:
        """A forked child is its own process: its own name, none of its parent's rows."""
        if self.process.partition("-")[0] != str(os.getpid()):
            self.process, self.rows, self._published = f"{os.getpid()}-{uuid.uuid4().hex[:8]}", {}, set()

    def publish(self) -> None:
        self.publish_at = time.monotonic() + LIVE_TTL_MS / 3000
        with self.lock:
            self._own()
            rows = {kind: sorted(ids) for kind, ids in self.rows.items() if ids}
        if not rows and not self._published:
            return  # idle: nothing to say
        pipe = current_broker().client.pipeline()
        for kind in self._published - rows.keys():
            pipe.delete(redis_key("claims", kind, self.process))
        for kind, ids in rows.items():
            key = redis_key("claims", kind, self.process)
            pipe.delete(key).sadd(key, *ids).pexpire(key, LIVE_TTL_MS).sadd(redis_key("claims", kind), self.process)
        pipe.execute()
        self._published = set(rows)


_renewer = _Renewer()
_claims = _Claims()


@contextmanager
def in_flight(kind: str, row_id: int) -> Iterator[None]:
    """Mark a claimed row as being worked on by this live process for the block (Redis only: the
    embedded queue has no other process to tell). The clock's sweep takes back a row whose
    claimer is gone (`live_claims`) without waiting for a long "stuck" timeout."""
    if not is_redis():
        yield
        return
    _claims.add(kind, row_id)
    _renewer.start()
    try:
        yield
    finally:
        _claims.discard(kind, row_id)


def live_claims(kind: str) -> set[int] | None:
    """The rows of `kind` that live processes (this one included) have claimed right now, or
    None when that cannot be known (the embedded queue, Redis unreachable): then only a long
    timeout tells a dead claimer."""
    if not is_redis():
        return None
    client = current_broker().client
    try:
        processes = [p.decode() for p in client.smembers(redis_key("claims", kind))]
        pipe = client.pipeline()
        for process in processes:
            pipe.smembers(redis_key("claims", kind, process))
        sets = pipe.execute()
        gone = [p for p, ids in zip(processes, sets, strict=True) if not ids]
        if gone:
            client.srem(redis_key("claims", kind), *gone)
    except RedisError:
        log.warning("could not read the claims of live processes", exc_info=True)
        return None
    return {int(row_id) for ids in sets for row_id in ids}


SEND_CHUNK = 10  # most slots a worker process takes from a page's shared per-second budget at once
_reserved: dict[str, int] = {}  # "<budget key>@<second>" -> slots this process still holds then
_reserved_lock = threading.Lock()


def send_slot(page_id: str, *, media: bool) -> int:
    """Take a slot in the page's Send API budget (meta-platform.md §8: 300 calls/s for text, 10/s
    for audio/video; we stay below). Returns 0 when taken, else how long to wait (ms). Counted in
    Redis across all workers, or in-process in the embedded default. With Redis a process takes
    up to `SEND_CHUNK` slots of the current second at once (a 25th of the budget: 10 of 250 text
    calls, 1 of 10 media calls) and spends them itself: one round trip per ten sends. Slots it
    does not spend in that second are lost to everyone (the budget is never exceeded; it may be
    under-used by a few calls per process)."""
    limit = _state["media_send_rate"] if media else _state["send_rate"]
    kind = "media" if media else "text"
    if not is_redis():
        limiter = WindowRateLimiter(_state["backend"], redis_key("send", page_id, kind), limit=limit, window=1)
        with limiter.acquire(raise_on_failure=False) as acquired:
            return 0 if acquired else 200
    second = int(time.time())
    key = f"{redis_key('send', page_id, kind)}@{second}"
    if _spend(key, second, 0):
        return 0
    try:
        granted = _reserve(key, limit)
    except RedisError:  # the budget cannot be counted now: hold the send back (nothing sent yet)
        log.warning("the Send API budget's Redis is unreachable; holding sends back")
        return BUDGET_UNKNOWN_WAIT_MS
    return 0 if _spend(key, second, granted) else 200


BUDGET_UNKNOWN_WAIT_MS = 1_000


def _spend(key: str, second: int, granted: int) -> bool:
    """Add `granted` slots to this process's share of the second and take one, if any is left."""
    with _reserved_lock:
        for stale in [k for k in _reserved if int(k.rpartition("@")[2]) < second]:
            del _reserved[stale]
        left = _reserved.get(key, 0) + granted
        _reserved[key] = max(0, left - 1)
        return left > 0


def _reserve(key: str, limit: int) -> int:
    """Take up to `SEND_CHUNK` of the second's slots in Redis; how many were still free."""
    chunk = max(1, min(SEND_CHUNK, limit // 25))  # at most 4 % of the budget idle per process
    pipe = current_broker().client.pipeline()
    pipe.incrby(key, chunk)
    pipe.pexpire(key, 2000)
    total, _ = pipe.execute()
    return max(0, min(chunk, limit - (total - chunk)))


def start_inprocess_worker(threads: int) -> dramatiq.Worker:
    """Run jobs in threads of this process (the embedded default and tests)."""
    broker = current_broker()
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=IDLE_POLL_MS)
    worker.start()
    return worker


def queue_ping() -> str:
    """'ok' when the broker answers (Redis PING), 'in-process' for the embedded queue."""
    broker = current_broker()
    if isinstance(broker, RedisBroker):
        broker.client.ping()
        return "ok"
    return "in-process"


def hold_lease(name: str, owner: str, ttl_ms: int) -> bool:
    """Whether `owner` holds (or just took, or renewed) the lease `name`. With several worker
    processes this elects the one that runs the clock; in-process there is only one."""
    if not is_redis():
        return True
    client = current_broker().client
    key = redis_key("lease", name)
    if client.set(key, owner, nx=True, px=ttl_ms):
        return True
    if client.get(key) == owner.encode():
        client.pexpire(key, ttl_ms)
        return True
    return False
