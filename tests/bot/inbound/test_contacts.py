"""Profile fetches (bot/inbound/contacts.py) while the Graph API cannot be reached: a fetch that
failed is not asked again by each of the person's next messages (every attempt holds a drain's
thread for the client's connect retries), and the job that retries it still makes the attempt;
a drain asks once per person, however many of their messages it applies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import jobs
from bot.core.errors import GraphError
from bot.inbound import contacts, ingest
from bot.platform import cache, runtime
from bot.platform.db import connection, now_ms
from bot.platform.models import Channel, Identity, Message
from bot.platform.settings import load_settings
from tests.bot.meta import payloads as p
from tests.conftest import make_env
from tests.servers import free_port


@pytest.fixture
def unreachable(database_url: str) -> Iterator[None]:
    """A worker whose Graph API address refuses connections (nothing listens there)."""
    env = make_env(database_url, GRAPH_API_URL=f"http://127.0.0.1:{free_port()}")
    runtime.boot(load_settings(env), migrate=True)
    cache.end_job()
    with connection():
        yield
    cache.end_job()


def _new_customer() -> Identity:
    channel = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0,
                             token_encrypted=runtime.vault().encrypt("page-token"))
    identity, _ = contacts.identity_for(channel, "5001")
    return identity


def test_a_fetch_meta_did_not_answer_is_not_repeated_by_each_message_but_by_its_job(unreachable: None) -> None:
    identity = _new_customer()
    assert contacts.profile_due(identity)
    with pytest.raises(GraphError) as failed:
        contacts.refresh_profile(identity.id)
    assert failed.value.retryable
    after = Identity.get_by_id(identity.id)
    assert after.profile_error and after.profile_fetched_at is None
    assert not contacts.profile_due(after)  # the person's next message does not fetch again
    assert after.profile_due_at <= now_ms() + contacts.PROFILE_RETRY_SOON_MS
    with pytest.raises(GraphError):  # the retrying job still tries (and fails: Meta is still away)
        jobs.refresh_profile.fn(identity.id)
    assert contacts.profile_due(Identity.get_by_id(identity.id), contacts.PROFILE_RETRY_SOON_MS)


def test_a_new_customers_messages_drained_together_ask_for_one_fetch(unreachable: None) -> None:
    channel = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0,
                             token_encrypted=runtime.vault().encrypt("page-token"))
    bodies = [p.encode(p.messenger_message("1", "5002", f"m_{n}", text=f"hello {n}")) for n in range(3)]
    [key] = ingest.expand_deliveries(ingest.store_deliveries(bodies))
    follow = jobs.FollowUps()
    jobs._drain(key, follow)
    identity = Identity.get((Identity.channel == channel) & (Identity.scoped_id == "5002"))
    assert follow.profiles == [identity.id]
    assert Message.select().where(Message.mid.startswith("m_")).count() == 3
