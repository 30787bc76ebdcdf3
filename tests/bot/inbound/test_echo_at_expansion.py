"""An echo of a send we already recorded changes nothing when applied: the expander stores it as
applied, and no drain is needed. An echo that beat our record of the send is left pending: the
drain fills the Meta id in (the crash window of the sender)."""

from __future__ import annotations

from bot.inbound import ingest
from bot.platform.models import Channel, Contact, Conversation, InboundEvent, Message
from tests.bot.meta import payloads as p


def sent_row(channel: Channel, status: str, mid: str | None) -> int:
    contact = Contact.create(name="Dana", created_at=0, updated_at=0)
    thread = Conversation.create(thread_key="dm:facebook:1:42", kind="messenger", channel=channel, contact=contact,
                                 created_at=0)
    return Message.create(channel=channel, conversation=thread, direction="out", author="campaign", kind="message",
                          text="Hi", status=status, mid=mid, recipient_id="42", idempotency_key="k:0",
                          send_kind="direct", occurred_at=0, created_at=0).id


def expand(body: bytes) -> list[str]:
    return ingest.expand_deliveries(ingest.store_deliveries([body]))


def test_the_echo_of_a_recorded_send_is_applied_without_a_drain(db) -> None:
    channel = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    sent_row(channel, "sent", "m_ours")
    keys = expand(p.encode(p.messenger_echo("1", "42", "m_ours", text="Hi")))
    assert keys == []
    event = InboundEvent.get(InboundEvent.event_key == "echo:m_ours")
    assert (event.status, event.reason) == ("applied", "echo of a message sent by socialdesk")


def test_an_echo_before_our_record_of_the_send_is_drained(db) -> None:
    channel = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    sent_row(channel, "sending", None)
    keys = expand(p.encode(p.messenger_echo("1", "42", "m_new", text="Hi", metadata="k:0")))
    assert keys == ["dm:facebook:1:42"]
    assert InboundEvent.get(InboundEvent.event_key == "echo:m_new").status == "pending"
