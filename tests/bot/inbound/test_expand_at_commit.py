"""PostgreSQL: the webhook writer expands small deliveries in the statement that commits them (no
expander job), and leaves a delivery to the expander whenever that could change an outcome: the
configuration moved since its channel copies were taken, a delivery already waits for the
expander (Meta's order), or a part of it would be ignored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import peewee
import pytest

from bot.inbound import ingest
from bot.platform.models import Channel, Delivery, IgnoredItem, InboundEvent, Message
from tests.bot.inbound import test_echo_at_expansion as echo_tests
from tests.bot.meta import payloads as p
from tests.servers import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


class Writer:
    """The endpoint's writer with what it hands over after commits."""

    def __init__(self) -> None:
        self.raw: list[int] = []
        self.drained: list[str] = []
        self.writer = ingest.DeliveryWriter(self.raw.extend, drain=self.drained.extend)

    def answer(self, body: bytes) -> int:
        """What the endpoint awaits before its 200 (bounded)."""
        async def submit() -> int:
            return await asyncio.wait_for(self.writer.submit_async(body), timeout=10)

        return asyncio.run(submit())


@pytest.fixture
def writer(db: peewee.Database) -> Iterator[Writer]:
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    yield Writer()


def comment(n: int) -> bytes:
    return p.encode(p.feed_comment("1", f"1_{n}", "1_post"))


def warm(writer: Writer) -> None:
    """A process's first batch has no configuration version to trust yet: it goes to the expander
    (the emptied test database may have no version row until the first batch puts one back)."""
    for _ in range(3):
        first = writer.answer(comment(0))
        if Delivery.get_by_id(first).status == "processed":
            return
        ingest.expand_deliveries([first])
    raise AssertionError("the writer never expanded at commit")


def test_a_small_delivery_is_stored_with_its_pending_event_in_one_statement(writer: Writer) -> None:
    warm(writer)
    delivery_id = writer.answer(comment(1))
    stored = Delivery.get_by_id(delivery_id)
    assert (stored.status, stored.events, stored.processed_at is not None) == ("processed", 1, True)
    event = InboundEvent.get(InboundEvent.event_key == "comment:1_1:add")
    assert (event.status, event.delivery_id, event.seq, event.kind) == ("pending", delivery_id, 0, "CommentAdded")
    assert ingest.unprocessed_deliveries(older_than_ms=0) == []
    wait_until(lambda: event.conversation_key in writer.drained, 10, what="the hand-over after the commit")
    assert delivery_id not in writer.raw


def test_a_configuration_change_sends_the_batch_to_the_expander(writer: Writer) -> None:
    warm(writer)
    Channel.update(receive_comments=False).where(Channel.account_id == "1").execute()  # the version moves
    delivery_id = writer.answer(comment(2))
    assert Delivery.get_by_id(delivery_id).status == "received"
    assert not InboundEvent.select().where(InboundEvent.event_key == "comment:1_2:add").exists()
    ingest.expand_deliveries([delivery_id])  # (while it waits, later deliveries would queue behind it)
    assert Delivery.get_by_id(writer.answer(comment(3))).status == "processed"  # copies follow the new version


def test_a_delivery_waiting_for_the_expander_keeps_later_ones_behind_it(writer: Writer) -> None:
    warm(writer)
    Delivery.insert(received_at=0, body=comment(4), status="received").execute()
    assert Delivery.get_by_id(writer.answer(comment(5))).status == "received"


def test_an_ignored_part_or_an_unknown_page_goes_to_the_expander_which_records_it(writer: Writer) -> None:
    warm(writer)
    unknown = writer.answer(p.encode(p.feed_comment("999", "999_1", "999_post")))
    assert Delivery.get_by_id(unknown).status == "received"
    ingest.expand_deliveries([unknown])
    assert IgnoredItem.select().where(IgnoredItem.delivery == unknown).count() == 1


def sent_row(status: str, mid: str | None) -> int:
    return echo_tests.sent_row(Channel.get(Channel.account_id == "1"), status, mid)


def test_the_echo_of_our_recorded_send_is_stored_applied_without_a_drain(writer: Writer) -> None:
    warm(writer)
    sent_row("sent", "m_ours")
    writer.answer(p.encode(p.messenger_echo("1", "42", "m_ours", text="Hi")))
    event = InboundEvent.get(InboundEvent.event_key == "echo:m_ours")
    assert (event.status, event.reason) == ("applied", ingest.ECHO_OF_OURS)
    assert "dm:facebook:1:42" not in writer.drained


def test_an_echo_that_beats_our_record_of_the_send_marks_our_row_sent(writer: Writer) -> None:
    """The crash window of the sender (Meta has it, our row does not say so yet): as `inbox._echo`."""
    warm(writer)
    row = sent_row("sending", None)
    writer.answer(p.encode(p.messenger_echo("1", "42", "m_new", text="Hi", metadata="k:0")))
    message = Message.get_by_id(row)
    assert (message.status, message.mid, message.sent_at) == ("sent", "m_new", p.T_MS)
    assert InboundEvent.get(InboundEvent.event_key == "echo:m_new").status == "applied"


def test_an_echo_of_another_tool_is_pending_for_the_drain(writer: Writer) -> None:
    warm(writer)
    writer.answer(p.encode(p.messenger_echo("1", "42", "m_theirs", text="Hello from the Business Suite")))
    assert InboundEvent.get(InboundEvent.event_key == "echo:m_theirs").status == "pending"
    wait_until(lambda: "dm:facebook:1:42" in writer.drained, 10, what="the hand-over after the commit")


def test_a_redelivered_body_adds_no_event_and_no_drain(writer: Writer) -> None:
    warm(writer)
    writer.answer(comment(6))
    wait_until(lambda: len(writer.drained) == 1, 10, what="the hand-over after the commit")
    again = writer.answer(comment(6))
    assert Delivery.get_by_id(again).status == "processed"
    assert InboundEvent.select().where(InboundEvent.event_key == "comment:1_6:add").count() == 1
    writer.answer(comment(7))  # the hand-over after it carries only the new conversation
    wait_until(lambda: len(writer.drained) == 2, 10, what="the hand-over after the commit")


def test_a_batch_is_expanded_only_up_to_its_first_delivery_left_to_the_expander(writer: Writer) -> None:
    """Arrival order: a delivery after one the expander must take waits for the expander too."""
    unknown = p.encode(p.feed_comment("999", "999_1", "999_post"))
    plans = ingest.plan_batch([comment(8), unknown, comment(9)], 0)
    assert plans[0] is not None and plans[1:] == [None, None]


def test_a_batch_of_a_saturated_writer_is_left_to_the_expander_and_later_ones_wait(writer: Writer) -> None:
    """More requests queued than one commit takes at the normal pace: stored as they came (the
    cheapest statement), expanded later by the workers; a small batch after it waits its turn."""
    warm(writer)
    big = writer.writer._store([comment(20 + n) for n in range(ingest.EXPAND_AT_COMMIT_BATCH + 1)])
    assert {Delivery.get_by_id(i).status for i in big} == {"received"}
    assert not InboundEvent.select().where(InboundEvent.event_key.startswith("comment:1_2")).exists()
    wait_until(lambda: set(big) <= set(writer.raw), 10, what="the batch handed to the expander")
    behind = writer.answer(comment(40))
    assert Delivery.get_by_id(behind).status == "received"  # Meta's order: behind the big batch
    ingest.expand_deliveries([*big, behind])
    assert InboundEvent.select().where(InboundEvent.event_key.startswith("comment:1_2")).count() == 9
    assert Delivery.get_by_id(writer.answer(comment(50))).status == "processed"


def test_a_statement_that_fails_leaves_the_batch_to_the_expander(writer: Writer, monkeypatch) -> None:  # noqa: ANN001
    warm(writer)

    def refuse(*_: object) -> None:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")

    monkeypatch.setattr(ingest, "store_and_expand", refuse)
    delivery_id = writer.answer(comment(10))
    assert Delivery.get_by_id(delivery_id).status == "received"  # stored: the 200 is still true
    wait_until(lambda: delivery_id in writer.raw, 10, what="handed to the expander")

