"""Meta answering 30 % of sends with rate-limit or server errors: every private reply is
eventually sent exactly once; when the error is permanent (a revoked page token) the message is
failed with Meta's reason and never retried."""

from __future__ import annotations

from bot import commands
from bot.platform.db import connection
from bot.platform.models import Message
from tests.faults import comment_many, outgoing_summary, watched_post
from tests.servers import Stack

FLAKY_COMMENTS = 60
REVOKED_COMMENTS = 8


def test_flaky_meta_sends_each_reply_once_and_permanent_errors_fail_with_reason(stack_redis: Stack) -> None:
    stack = stack_redis
    page_id = stack.page["page_id"]
    broken = stack.control("pages", name="Broken Page")

    with connection():
        commands.connect_page(broken["page_id"], "Broken Page", broken["page_token"])
    flaky_post = watched_post(stack, page_id)
    broken_post = watched_post(stack, broken["page_id"])
    stack.control("tokens/revoke", token=broken["page_token"])
    stack.control("config", error_rate=0.3, error_kinds=["rate_limit", "server"], seed=9)

    stack.control("deliveries/hold", hold=True)
    flaky = comment_many(stack, page_id, flaky_post, FLAKY_COMMENTS, "Flaky")
    revoked = comment_many(stack, broken["page_id"], broken_post, REVOKED_COMMENTS, "Revoked")
    assert all(d["status"] == 200 for d in stack.control("deliveries/flush", batch=True)["deliveries"])
    stack.control("deliveries/hold", hold=False)

    private = Message.send_kind == "private_reply"
    settled = Message.status.in_(["sent", "failed", "refused"])
    try:
        stack.wait(lambda: Message.select().where(private & settled).count() == FLAKY_COMMENTS + REVOKED_COMMENTS,
                   timeout=50, what="every private reply settled")
    except AssertionError:
        print("OUTGOING", outgoing_summary())
        raise

    with connection():
        rows = {m.target_comment_id: m for m in Message.select().where(private)}
    assert {rows[c].status for c in flaky} == {"sent"}
    assert {(rows[c].status, rows[c].error_kind, rows[c].error_code) for c in revoked} == {("failed", "token", 190)}
    assert all(rows[c].status_reason for c in revoked)
    assert max(rows[c].attempts for c in revoked) == 1, "a permanent error is never retried"

    sent = [s for s in stack.sandbox_get("sent")["sent"] if s["private_reply"]]
    targets = [s["body"]["recipient"]["comment_id"] for s in sent]
    assert sorted(targets) == sorted(flaky), "each reply reached Meta exactly once, none for the revoked page"
    attempts = [a for a in stack.sandbox_get("attempts")["attempts"] if a["method"] == "POST"
                and a["path"].endswith("/messages")]
    refused = [a for a in attempts if a["status"] != 200 and a["account_id"] == page_id]
    assert len(refused) >= FLAKY_COMMENTS * 0.15, "the sandbox did inject errors"
    assert sum(rows[c].attempts for c in flaky) == FLAKY_COMMENTS + len(refused)
