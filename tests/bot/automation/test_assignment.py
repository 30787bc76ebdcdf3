"""Assignment rules: round-robin among available staff under a cap, new conversations assigned in
the decide step (the router), the assignee notified, unavailability hands conversations on; and on
PostgreSQL, conversations arriving at once never push a person over the cap."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from bot.automation import assignment
from bot.automation.router import route
from bot.core import events as ev
from bot.core.errors import Invalid
from bot.inbound import inbox
from bot.platform.db import connection, open_database, transaction
from bot.platform.models import Conversation, Notification
from tests.bot.helpdesk.factories import conversation, staff


def setup_desk(cap: int = 2, available: tuple[bool, ...] = (True, True, False)) -> tuple[int, list[int]]:
    users = [staff(f"s{i}@example.com", name=f"Staff {i}") for i in range(len(available))]
    for user_id, on in zip(users, available, strict=True):
        assignment.set_available(user_id, on)
    channel_id = Conversation.get_by_id(conversation("seed")).channel_id
    Conversation.delete().execute()
    assignment.set_rule(channel_id, enabled=True, cap=cap, members=[])
    return channel_id, users


def arrive(n: int, start: int = 0) -> list[int | None]:
    """n conversations arrive one by one; who each went to."""
    chosen = []
    for i in range(start, start + n):
        talk = conversation(f"dm:facebook:1:{i}")
        with transaction():
            chosen.append(assignment.choose(Conversation.get_by_id(talk).channel_id))
            if chosen[-1] is not None:
                assignment._give(Conversation.get_by_id(talk), chosen[-1], reason="test")
    return chosen


def test_round_robin_among_available_staff_up_to_the_cap(db) -> None:
    _, (a, b, _c) = setup_desk(cap=2)
    assert arrive(5) == [a, b, a, b, None]  # C is not available; A and B are full after two each
    told = Counter(n.user_id for n in Notification.select().where(Notification.kind == "assigned"))
    assert told == {a: 2, b: 2}
    Conversation.update(status="closed").where(Conversation.assignee == a).execute()
    assert arrive(1, start=10) == [a]  # closed ones free a place


def test_a_disabled_rule_or_listed_members_limit_who_gets_work(db) -> None:
    channel_id, (a, b, _c) = setup_desk(cap=5)
    assignment.set_rule(channel_id, enabled=True, cap=5, members=[b])
    assert arrive(2) == [b, b]
    assignment.set_rule(channel_id, enabled=False, cap=5, members=[])
    assert arrive(1, start=5) == [None]


def test_a_customer_message_in_a_new_conversation_is_assigned_by_the_router(db) -> None:
    _, (a, _b, _c) = setup_desk()
    event = ev.MessageReceived(platform="facebook", account_id="1", user_id="psid-9", mid="m1", text="hi",
                               timestamp=1_700_000_000_000)
    with transaction():
        route(inbox.apply(event), emails_enabled=False, coalesce_ms=0)
    talk = Conversation.get(Conversation.thread_key == "dm:facebook:1:psid-9")
    assert talk.assignee_id == a
    note = Notification.get(Notification.kind == "assigned")
    assert (note.user_id, note.conversation_id) == (a, talk.id)


def test_going_unavailable_hands_open_conversations_on_or_leaves_them_unassigned(db) -> None:
    _, (a, b, c) = setup_desk(cap=3, available=(True, False, False))
    arrive(2)
    assignment.set_available(b, True)
    handed = assignment.set_available(a, False)
    assert [to for _, to in handed.moves] == [b, b]
    assert Conversation.select().where(Conversation.assignee == b).count() == 2
    handed = assignment.set_available(b, False)  # nobody left
    assert [to for _, to in handed.moves] == [None, None]
    assert Conversation.select().where(Conversation.assignee.is_null()).count() == 2
    assert not assignment.is_available(b) and not assignment.is_available(c)


def test_bad_rules_name_the_field(db) -> None:
    channel_id, _ = setup_desk()
    with pytest.raises(Invalid, match="cap"):
        assignment.set_rule(channel_id, enabled=True, cap=0, members=[])
    with pytest.raises(Invalid, match=r"members\[1\]"):
        assignment.set_rule(channel_id, enabled=True, cap=3, members=[staff("x@example.com"), 999_999])


# --- PostgreSQL: race safety ------------------------------------------------------------------------


@pytest.fixture
def pg(pg_url: str):  # noqa: ANN201 - the migrated PostgreSQL database
    from bot import migrations
    from tests.servers import reset_postgres

    reset_postgres(pg_url)
    database = open_database(pg_url)
    migrations.upgrade(database)
    with connection():
        yield database


def _arrive_in_thread(key: str, results: dict[str, int | None], chosen: threading.Event | None = None,
                      release: threading.Event | None = None) -> None:
    """Record each arrival's choice under its key: after the first commit both threads finish at once."""
    with connection():
        talk = Conversation.get(Conversation.thread_key == key)
        with transaction():
            who = assignment.choose(talk.channel_id)
            if who is not None:
                assignment._give(talk, who, reason="test")
            if chosen is not None:
                chosen.set()
                assert release is not None and release.wait(10)
        results[key] = who


def test_a_second_conversation_waits_for_the_first_choice_and_respects_the_cap(pg) -> None:
    _, (a, _b, _c) = setup_desk(cap=1, available=(True, False, False))
    first, second = conversation("dm:facebook:1:r1"), conversation("dm:facebook:1:r2")
    keys = [Conversation.get_by_id(i).thread_key for i in (first, second)]
    results: dict[str, int | None] = {}
    chosen, release = threading.Event(), threading.Event()
    one = threading.Thread(target=_arrive_in_thread, args=(keys[0], results, chosen, release))
    one.start()
    assert chosen.wait(10)
    two = threading.Thread(target=_arrive_in_thread, args=(keys[1], results))
    two.start()
    waited = _wait_for_lock_wait(lambda: not two.is_alive())
    release.set()
    one.join(10), two.join(10)
    assert waited, "the second choice did not wait for the first one's locks"
    assert results == {keys[0]: a, keys[1]: None}
    assert Conversation.select().where(Conversation.assignee == a).count() == 1


def _wait_for_lock_wait(done) -> bool:  # noqa: ANN001 - stop early when the other thread finished
    """Poll (bounded) until a backend waits on a lock: the second transaction blocked."""
    from tests.servers import wait_until

    def blocked() -> bool:
        rows = Conversation._meta.database.execute_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        return rows.fetchone()[0] > 0 or done()
    wait_until(blocked, timeout=10, what="a lock wait or the second choice done")
    return not done()


def test_a_burst_of_conversations_never_exceeds_the_cap(pg) -> None:
    _, (a, b, _c) = setup_desk(cap=2, available=(True, True, False))
    keys = [Conversation.get_by_id(conversation(f"dm:facebook:1:b{i}")).thread_key for i in range(8)]
    results: dict[str, int | None] = {}
    threads = [threading.Thread(target=_arrive_in_thread, args=(k, results)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert Counter(results.values()) == {a: 2, b: 2, None: 4}
    loads = Counter(c.assignee_id for c in Conversation.select() if c.assignee_id)
    assert loads == {a: 2, b: 2}


def test_becoming_available_picks_up_conversations_nobody_could_take(db) -> None:
    _, (a, b, _c) = setup_desk(cap=1, available=(True, False, False))
    assert arrive(3) == [a, None, None]
    waiting = [c.id for c in Conversation.select().where(Conversation.assignee.is_null()).order_by(Conversation.id)]
    handed = assignment.set_available(b, True)
    assert handed.moves == [(waiting[0], b)]  # B's cap is 1: the oldest waiting one
    assert Conversation.get_by_id(waiting[1]).assignee_id is None
    Conversation.update(status="closed").where(Conversation.id == waiting[0]).execute()
    assert assignment.set_available(b, True).moves == [(waiting[1], b)]
