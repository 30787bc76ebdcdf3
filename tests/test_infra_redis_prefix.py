"""Two installs (staging and production) share one Redis database: SOCIALDESK_REDIS_PREFIX keeps
their queues, locks, leases and rate limits apart, so neither takes the other's jobs.

Real `socialdesk worker` processes for each install, each on its own PostgreSQL database, one
private Redis between them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis

from bot import jobs as tasks
from bot import migrations
from bot.inbound import ingest
from bot.platform import queue
from bot.platform.db import connection, db, open_database
from bot.platform.models import Delivery
from bot.platform.settings import load_settings
from tests.bot.meta import payloads as p
from tests.conftest import make_env
from tests.servers import PG_URL, create_test_database, drop_test_database, reset_postgres, reset_redis, wait_until

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Install:
    """One socialdesk installation: its environment (database, prefix) and its worker process."""

    env: dict[str, str]
    worker: subprocess.Popen | None = None
    database: Any = None

    def __post_init__(self) -> None:
        self.database = open_database(self.env["DATABASE_URL"], max_connections=2)
        migrations.upgrade(self.database)

    @property
    def prefix(self) -> str:
        return load_settings(self.env).redis_prefix

    def use(self) -> None:
        """Point this test process at the install (database and broker), as its API would be."""
        settings = load_settings(self.env)
        db.initialize(self.database)
        queue.setup_broker(settings.redis_url, prefix=settings.redis_prefix)

    def receive(self, mid: str) -> int:
        """A webhook delivery stored and announced as the API does; returns its id."""
        self.use()
        body = json.dumps(p.batch(p.messenger_message("1000001", "2000002", mid, text="hi"))).encode()
        with connection():
            delivery_id = ingest.store_deliveries([body])[0]
        tasks.process_delivery.send(delivery_id)
        return delivery_id

    def status(self, delivery_id: int) -> str:
        db.initialize(self.database)
        with connection():
            return Delivery.get_by_id(delivery_id).status

    def start_worker(self) -> None:
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT), "SOCIALDESK_LOG_LEVEL": "WARNING"}
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--processes", "1", "--threads", "2"], cwd=ROOT, env=env,
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(timeout=10)


@pytest.fixture
def installs(pg_url: str, redis_url: str) -> Iterator[tuple[Install, Install]]:
    """Staging (an explicit prefix) and production (the default prefix: its database's name)."""
    reset_postgres(pg_url)
    reset_redis(redis_url)
    production_url = create_test_database(PG_URL)
    staging = Install(make_env(pg_url, redis_url, SOCIALDESK_REDIS_PREFIX="staging"))
    production = Install(make_env(production_url, redis_url))
    try:
        yield staging, production
    finally:
        for install in (staging, production):
            install.stop_worker()
            install.database.close_all()
        queue.setup_broker(None)
        drop_test_database(PG_URL, production_url)


def waiting_jobs(redis_url: str, prefix: str) -> list[tuple[str, tuple]]:
    """The jobs queued under `prefix` and not yet taken by a worker: (actor, args)."""
    client = redis.Redis.from_url(redis_url)
    messages = [dramatiq.Message.decode(raw) for raw in client.hvals(f"{prefix}:{queue.QUEUE}.msgs")]
    return [(message.actor_name, tuple(message.args)) for message in messages]


def test_two_installs_on_one_redis_never_take_each_others_jobs(installs: tuple[Install, Install],
                                                               redis_url: str) -> None:
    staging, production = installs
    assert production.prefix == production.env["DATABASE_URL"].rsplit("/", 1)[1] != staging.prefix
    staging.start_worker()
    # Production's job is queued first, while only staging has a worker: a shared queue would hand
    # it to staging's worker before staging's own (Redis queues are FIFO).
    production_delivery = production.receive("m_production_1")
    staging_delivery = staging.receive("m_staging_1")
    wait_until(lambda: staging.status(staging_delivery) == "processed", 90, what="staging's own job done")
    assert waiting_jobs(redis_url, production.prefix) == [("process_delivery", (production_delivery,))]
    assert production.status(production_delivery) == "received"

    production.start_worker()
    wait_until(lambda: production.status(production_delivery) == "processed", 90, what="production's job done")
    wait_until(lambda: not waiting_jobs(redis_url, production.prefix), 30, what="production's queue drained")
    client = redis.Redis.from_url(redis_url)
    wait_until(lambda: client.exists(f"{staging.prefix}:lease:clock", f"{production.prefix}:lease:clock") == 2, 30,
               what="each install's clock holding its own lease")
    strays = [key for key in client.scan_iter() if not key.decode().startswith((f"{staging.prefix}:",
                                                                                 f"{production.prefix}:"))]
    assert strays == []


def test_locks_leases_and_rate_limits_live_under_the_prefix(redis_url: str) -> None:
    reset_redis(redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue.setup_broker(redis_url, send_rate=1, prefix="one")
    with queue.key_lock("conv:1") as first:
        assert first and queue.hold_lease("clock", "worker-of-one", 5000)
        assert queue.send_slot("page-1", media=False) == 0
        assert queue.send_slot("page-1", media=False) > 0  # one's budget (1/s) is spent
        queue.setup_broker(redis_url, send_rate=1, prefix="two")
        with queue.key_lock("conv:1") as second:
            assert second  # one holding conv:1 does not block two
        assert queue.hold_lease("clock", "worker-of-two", 5000)  # nor does one's clock lease
        assert queue.send_slot("page-1", media=False) == 0  # nor one's spent send budget
        assert {key.split(":", 1)[0] for key in client.scan_iter()} == {"one", "two"}
    queue.setup_broker(None)


@pytest.mark.parametrize(("env", "prefix"), [
    ({"DATABASE_URL": "postgresql://u@h:5432/desk_staging"}, "desk_staging"),
    ({"DATABASE_URL": "sqlite:////var/lib/socialdesk/production.db"}, "production"),
    ({"DATABASE_URL": "sqlite:///socialdesk.db"}, "socialdesk"),
    ({"DATABASE_URL": "postgresql://u@h:5432/db", "SOCIALDESK_REDIS_PREFIX": "acme-prod"}, "acme-prod"),
])
def test_the_prefix_defaults_to_the_database_name(env: dict[str, str], prefix: str) -> None:
    assert load_settings({"SOCIALDESK_SECRET_KEY": "k" * 40, "META_APP_SECRET": "s", **env}).redis_prefix == prefix


def test_a_bad_prefix_names_the_variable() -> None:
    from bot.core.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        load_settings({"DATABASE_URL": "postgresql://u@h:5432/db", "SOCIALDESK_SECRET_KEY": "k" * 40,
                       "META_APP_SECRET": "s", "SOCIALDESK_REDIS_PREFIX": "a b*"})
    assert error.value.variable == "SOCIALDESK_REDIS_PREFIX"
