"""Redis restarted (empty, no persistence) in the middle of a run: nothing accepted is lost.

The database is the record: every answered delivery is committed before its 200, and the clock
re-enqueues rows whose queue message vanished with Redis. The test runs its own redis-server on
a free port; the shared Redis is never touched.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from bot.platform.db import connection
from bot.platform.models import Delivery, InboundEvent, Message
from tests.bot.meta import payloads as p
from tests.conftest import make_env
from tests.faults import comment_many, outgoing_summary, watched_post
from tests.servers import LiveServer, Stack, free_port, require, reset_postgres, wait_until


class PrivateRedis:
    """A redis-server of this test's own, which it may kill and start again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, 10, what="private redis-server")

    def kill(self) -> None:
        """SIGKILL: whatever was queued or in flight is gone."""
        assert self._process is not None
        self._process.kill()
        self._process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    require("redis-server", shutil.which("redis-server") is not None, "redis-server is not on the PATH")
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def stack_private_redis(pg_url: str, private_redis: PrivateRedis, sandbox_server: LiveServer) -> Iterator[Stack]:
    reset_postgres(pg_url)
    with Stack.start(make_env(pg_url, private_redis.url), sandbox_server) as running:
        yield running


def post_dms(stack: Stack, first: int, count: int) -> None:
    """Customers' DMs straight from "Meta", 25 per POST; every POST must be accepted."""
    page_id = stack.page["page_id"]
    now = int(time.time() * 1000)
    bodies = [p.messenger_message(page_id, f"93{i % 40:04d}", f"m_redis_{i}", text=str(i), timestamp=now + i)
              for i in range(first, first + count)]
    for start in range(0, count, 25):
        assert stack.post_webhook(p.batch(*bodies[start:start + 25])).status_code == 200


# Dramatiq 2.2.1's consumer thread dies when Redis refuses its delayed-message enqueue (a plain redis
# ConnectionError, not BrokerConnectionError, escapes handle_delayed_messages); the clock re-enqueues
# what that thread held, which is part of what this test proves.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_redis_restart_loses_nothing_accepted(stack_private_redis: Stack, private_redis: PrivateRedis) -> None:
    stack = stack_private_redis
    page_id = stack.page["page_id"]
    post = watched_post(stack, page_id)

    post_dms(stack, 0, 100)
    before = comment_many(stack, page_id, post, 15, "Before")
    private_redis.kill()
    post_dms(stack, 100, 100)  # accepted while Redis is down: stored, enqueue fails, 200 anyway
    during = comment_many(stack, page_id, post, 15, "During")
    private_redis.start()  # empty: every queued and in-flight message is gone
    post_dms(stack, 200, 100)
    after = comment_many(stack, page_id, post, 15, "After")
    comments = before + during + after

    customer = InboundEvent.kind.in_(["MessageReceived", "CommentAdded"])
    try:
        stack.wait(lambda: InboundEvent.select().where(customer & (InboundEvent.status == "applied")).count()
                   == 300 + len(comments), timeout=50, what="every accepted event applied")
        stack.wait(lambda: Message.select().where((Message.send_kind == "private_reply")
                                                  & (Message.status == "sent")).count() == len(comments),
                   timeout=30, what="every private reply sent")
    except AssertionError:
        print("OUTGOING", outgoing_summary())
        raise
    stack.wait(lambda: not Delivery.select().where(Delivery.status == "received").exists(), timeout=30,
               what="every delivery expanded (echoes of our replies included)")
    with connection():
        assert not Delivery.select().where(Delivery.status == "failed").exists()
        assert Message.select().where((Message.direction == "in") & (Message.kind == "message")).count() == 300
        assert Message.select().where((Message.direction == "in") & (Message.kind == "comment")).count() == 45
    sent = [s["body"]["recipient"]["comment_id"] for s in stack.sandbox_get("sent")["sent"] if s["private_reply"]]
    assert sorted(sent) == sorted(comments), "each triggered private reply sent exactly once"
