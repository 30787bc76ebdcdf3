"""Storing a comment: a page reply stored before the customer's comment joins its conversation
(the comment's INSERT says so on PostgreSQL), and a new commenter's identity and contact are made
once and found again (one statement on PostgreSQL)."""

from __future__ import annotations

from bot.core import events as ev
from bot.inbound import inbox, ingest
from bot.platform import cache
from bot.platform.db import transaction
from bot.platform.models import Channel, Contact, Conversation, Identity, InboundEvent, Message
from tests.bot.meta import payloads as p


def apply_all(body: bytes) -> list[inbox.Applied]:
    ingest.expand_deliveries(ingest.store_deliveries([body]))
    applied = []
    for row in InboundEvent.select().where(InboundEvent.status == "pending").order_by(InboundEvent.id):
        with transaction(), cache.unit():
            applied.append(inbox.apply(ev.decode(bytes(row.payload))))
            inbox.mark_applied(row.id, None)
    return applied


def test_a_page_reply_stored_first_joins_the_comment_and_the_commenter_is_made_once(db) -> None:
    Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    post = "1_9"
    apply_all(p.encode(p.feed_comment("1", "9_2", post, message="Thanks!", from_id="1", from_name="Acme",
                                      parent_id="9_1", created_time=1_700_000_001)))
    first = apply_all(p.encode(p.feed_comment("1", "9_1", post, message="Price?", from_id="77", from_name="Ada",
                                              created_time=1_700_000_000)))
    thread = Conversation.get(Conversation.kind == "facebook_comments")
    texts = [m.text for m in Message.select().where(Message.conversation == thread).order_by(Message.occurred_at)]
    assert texts == ["Price?", "Thanks!"]
    assert first[0].identity is not None and not first[0].fetch_profile  # new here, but no profile access (§9)
    again = apply_all(p.encode(p.feed_comment("1", "9_3", post, message="And?", from_id="77", from_name="Ada",
                                              created_time=1_700_000_002)))
    assert again[0].identity.id == first[0].identity.id and not again[0].fetch_profile
    identity = Identity.get()
    assert (identity.scoped_id, identity.name, Contact.get_by_id(identity.contact_id).name) == ("77", "Ada", "Ada")
    assert Contact.select().count() == 1
