"""Storing a comment: a page reply stored before the customer's comment joins its conversation
(the comment's INSERT says so on PostgreSQL), and a new commenter's identity and contact are made
once and found again (one statement on PostgreSQL)."""

from __future__ import annotations

import pytest

from bot.core import events as ev
from bot.inbound import inbox, ingest
from bot.platform import cache
from bot.platform.db import transaction
from bot.platform.models import Channel, Comment, Contact, Conversation, Identity, InboundEvent, Message
from tests.bot.meta import payloads as p


def apply_all(body: bytes) -> list[inbox.Applied]:
    ingest.expand_deliveries(ingest.store_deliveries([body]))
    applied = []
    for row in InboundEvent.select().where(InboundEvent.status == "pending").order_by(InboundEvent.id):
        with transaction(), cache.unit():
            applied.append(inbox.apply(ev.decode(bytes(row.payload))))
            inbox.mark_applied(row.id)
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


def _comment_rows_read_sequentially() -> int:
    database = Comment._meta.database
    database.execute_sql("SELECT pg_stat_force_next_flush()")  # this backend's counts, visible now
    cursor = database.execute_sql("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'comment'")
    return cursor.fetchone()[0]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_storing_a_comment_reads_no_other_comment_row_by_row(db) -> None:
    """Whether the page already replied to a new comment is looked up by the comment it answers
    (migration 0029's index), not by reading every stored comment: at 200,000 comments that read
    cost 20 ms per new comment."""
    channel = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0)
    Comment._meta.database.execute_sql(
        "INSERT INTO comment (comment_id, channel_id, post_id, parent_id, by_account, created_at, hidden, source) "
        "SELECT 'old_' || n, %s, '1_9', CASE WHEN n %% 10 = 0 THEN 'old_' || (n - 1) END, n %% 10 = 0, n, false, "
        "'webhook' FROM generate_series(1, 20000) AS n", (channel.id,))
    Comment._meta.database.execute_sql("ANALYZE comment")
    before = _comment_rows_read_sequentially()
    apply_all(p.encode(p.feed_comment("1", "9_1", "1_9", message="Price?", from_id="77", from_name="Ada",
                                      created_time=1_700_000_000)))
    assert _comment_rows_read_sequentially() - before < 1_000  # (a scan would read the 20,000)
    assert Comment.get(Comment.comment_id == "9_1").text == "Price?"
