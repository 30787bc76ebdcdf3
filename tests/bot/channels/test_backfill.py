"""Backfill against the sandbox over real HTTP: what the sandbox recorded while deliveries were not
made is read back once, through the webhook ingest path; a backfilled comment on a watched post
gets exactly one private reply; running it again, or the webhook arriving afterwards, changes
nothing; what Meta cannot give back is reported."""

from __future__ import annotations

import time

import httpx

from bot import commands, jobs
from bot.channels import health
from bot.core import events as ev
from bot.meta.parse import parse_delivery
from bot.platform import runtime
from bot.platform.db import connection, now_ms
from bot.platform.models import BackfillRun, CampaignRun, Channel, Delivery, InboundEvent, Message
from bot.staff import auth
from tests.bot.automation.test_campaigns import make_campaign, new_post, private_replies, settled
from tests.servers import Stack


def channel_id(stack: Stack, instagram: bool = False) -> int:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    with connection():
        return Channel.get(Channel.account_id == account).id


def customer(stack: Stack, name: str, instagram: bool = False) -> str:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    return stack.control("customers", account_id=account, name=name)["user_id"]


def dm(stack: Stack, user: str, text: str, instagram: bool = False, **extra: object) -> str:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    return stack.control("dm", account_id=account, user_id=user, text=text, **extra)["mid"]


def comment_on(stack: Stack, post: str, user: str, text: str = "I want it", instagram: bool = False,
               **extra: object) -> str:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    return stack.control("comment", account_id=account, post_id=post, user_id=user, text=text,
                         **extra)["comment_id"]


def request_and_wait(stack: Stack, channel: int, since: int) -> BackfillRun:
    with connection():
        run_id = commands.request_backfill(channel, since, None, requested_by=None).id
    return wait_run(stack, run_id)


def wait_run(stack: Stack, run_id: int) -> BackfillRun:
    return stack.wait(lambda: (r := BackfillRun.get_by_id(run_id)).status in ("done", "failed") and r,
                      timeout=60, what=f"backfill {run_id}")


def counts() -> tuple[int, int, int]:
    with connection():
        return Message.select().count(), InboundEvent.select().count(), CampaignRun.select().count()


def stored_once(mids: list[str], comment_ids: list[str]) -> None:
    with connection():
        for mid in mids:
            assert Message.select().where(Message.mid == mid).count() == 1, mid
        for comment_id in comment_ids:
            assert Message.select().where(Message.comment_id == comment_id).count() == 1, comment_id


# ------------------------------------------------------------------ after an unsubscription


def missed_while_unsubscribed_flow(stack: Stack) -> None:
    post = new_post(stack)
    make_campaign(stack, post)
    page, ig = channel_id(stack), channel_id(stack, instagram=True)
    for account in (stack.page["page_id"], stack.page["instagram_id"]):  # Meta gave up on us
        stack.control("subscriptions/unsubscribe", account_id=account)
    fb_user, ig_user, fan = customer(stack, "Fay Lost"), customer(stack, "Ivo Lost", True), customer(stack, "Cole C")
    mids = [dm(stack, fb_user, "anyone there?"), dm(stack, fb_user, "hello?"), dm(stack, ig_user, "hi", True)]
    comment_id = comment_on(stack, post, fan)
    assert counts()[0] == 0  # nothing was delivered

    with connection():
        result = jobs.follow_check(health.check_channel(page))
    assert result is not None and result.resubscribed and len(result.backfill_run_ids) == 2
    runs = [wait_run(stack, run_id) for run_id in result.backfill_run_ids]
    stack.wait(lambda: len(private_replies(stack)) == 1, what="the private reply")
    settled(stack)
    assert {r.channel_id: (r.status, r.messages_stored) for r in runs} == {page: ("done", 2), ig: ("done", 1)}
    assert sum(r.comments_stored for r in runs) == 1
    stored_once(mids, [comment_id])
    with connection():
        keys = [f"msg:{m}" for m in mids] + [f"comment:{comment_id}:add"]
        assert {e.source for e in InboundEvent.select().where(InboundEvent.event_key.in_(keys))} == {"backfill"}
        [run] = CampaignRun.select().where(CampaignRun.comment_id == comment_id)
        assert (run.matched, run.source) == (True, "backfill")
    [reply] = private_replies(stack)
    assert reply["body"]["recipient"] == {"comment_id": comment_id}

    before = counts()
    again = [request_and_wait(stack, channel, now_ms() - 3_600_000) for channel in (page, ig)]
    settled(stack)
    assert [(r.status, r.messages_stored, r.comments_stored) for r in again] == [("done", 0, 0)] * 2
    assert sum(r.messages_found for r in again) == 4  # with our private reply, found in its thread
    assert sum(r.comments_found for r in again) == 2  # with the campaign's public reply
    assert counts() == before and len(private_replies(stack)) == 1


def test_missed_messages_and_comments_are_backfilled_once(stack: Stack) -> None:
    missed_while_unsubscribed_flow(stack)


def test_missed_messages_and_comments_are_backfilled_once_redis(stack_redis: Stack) -> None:
    missed_while_unsubscribed_flow(stack_redis)


# ------------------------------------------------------------------ the webhook arrives after its copy


def webhook_after_backfill_flow(stack: Stack) -> None:
    post, ig_post = new_post(stack), new_post(stack, instagram=True)
    make_campaign(stack, post)
    stack.control("deliveries/hold", hold=True)  # Meta is late
    fb_user, ig_user = customer(stack, "Lee Late"), customer(stack, "Ina Late", True)
    mids = [dm(stack, fb_user, "late one"), dm(stack, ig_user, "late two", True)]
    comments = [comment_on(stack, post, fb_user), comment_on(stack, ig_post, ig_user, instagram=True)]
    since = now_ms() - 60_000
    runs = [request_and_wait(stack, channel_id(stack, ig), since) for ig in (False, True)]
    stack.wait(lambda: len(private_replies(stack)) == 1, what="the private reply")
    settled(stack)
    assert [(r.messages_stored, r.comments_stored) for r in runs] == [(1, 1), (1, 1)]
    before = counts()
    with connection():
        backfilled = {e.event_key for e in InboundEvent.select().where(InboundEvent.source == "backfill")}
        last_event = InboundEvent.select().order_by(InboundEvent.id.desc()).get().id

    stack.control("deliveries/hold", hold=False)
    flushed = stack.control("deliveries/flush")["deliveries"]
    assert flushed and all(d["status"] == 200 for d in flushed)
    stack.wait(lambda: Delivery.select().where(Delivery.status == "processed").count() >= len(flushed),
               what="webhooks processed")
    settled(stack)
    assert (counts()[0], counts()[2]) == (before[0], before[2]) and len(private_replies(stack)) == 1
    stored_once(mids, comments)
    with connection():  # new rows are only the held copies of our own replies (echo, our public comment)
        added = [ev.decode(bytes(e.payload)) for e in InboundEvent.select().where(InboundEvent.id > last_event)]
    assert all(isinstance(e, ev.MessageEcho) or getattr(e, "by_account", False) for e in added), added
    with connection():  # the webhook's events have the keys of the backfilled copies
        webhook_keys = {e.event_key for d in Delivery.select() for e in parse_delivery(bytes(d.body)).events}
        assert {f"msg:{m}" for m in mids} | {f"comment:{c}:add" for c in comments} <= webhook_keys & backfilled


def test_webhook_after_its_backfilled_copy_changes_nothing(stack: Stack) -> None:
    webhook_after_backfill_flow(stack)


def test_webhook_after_its_backfilled_copy_changes_nothing_redis(stack_redis: Stack) -> None:
    webhook_after_backfill_flow(stack_redis)


def test_backfill_after_the_webhook_adds_nothing_and_reads_the_same_keys(stack: Stack) -> None:
    post, ig_post = new_post(stack), new_post(stack, instagram=True)
    fb_user, ig_user = customer(stack, "Web First"), customer(stack, "Web First IG", True)
    mids = {False: dm(stack, fb_user, "on time"), True: dm(stack, ig_user, "on time", True)}
    comments = {False: comment_on(stack, post, fb_user), True: comment_on(stack, ig_post, ig_user, instagram=True)}
    stack.wait(lambda: Message.select().where(Message.direction == "in").count() == 4, what="webhooks applied")
    settled(stack)
    graph, token = runtime.graph(), stack.page["page_token"]
    with connection():
        stored = {e.event_key for e in InboundEvent.select()}
    for instagram, account in ((False, stack.page["page_id"]), (True, stack.page["instagram_id"])):
        platform = "instagram" if instagram else "facebook"
        message = graph.get_message(platform, account, mids[instagram], token)
        [read] = graph.get_post_comments(platform, account, ig_post if instagram else post, token).comments
        assert message.event_key in stored and read.event_key in stored
        assert (message.conversation_key, read.comment_id) == (
            f"dm:{platform}:{account}:{ig_user if instagram else fb_user}", comments[instagram])
    before = counts()
    runs = [request_and_wait(stack, channel_id(stack, ig), now_ms() - 60_000) for ig in (False, True)]
    settled(stack)
    assert [(r.messages_found, r.messages_stored, r.comments_found, r.comments_stored) for r in runs] == [
        (1, 0, 1, 0), (1, 0, 1, 0)]
    assert counts() == before


# ------------------------------------------------------------------ limits and reporting


def test_what_meta_cannot_give_back_is_reported(stack: Stack) -> None:
    stack.control("subscriptions/unsubscribe", account_id=stack.page["page_id"])
    user = customer(stack, "Chatty Cathy")
    start = now_ms() - 30 * 60_000
    mids = [dm(stack, user, f"message {i}", timestamp_ms=start + i * 1000) for i in range(23)]
    run = request_and_wait(stack, channel_id(stack), start - 60_000)
    settled(stack)
    assert (run.status, run.messages_found, run.messages_stored) == ("done", 20, 20)
    assert any("20 most recent" in line for line in run.unrecovered)
    with connection():
        assert [Message.select().where(Message.mid == m).exists() for m in mids] == [False] * 3 + [True] * 20
    ig_run = request_and_wait(stack, channel_id(stack, instagram=True), start)
    assert any("Replies under Instagram comments" in line for line in ig_run.unrecovered)


def test_old_backfilled_comment_gets_no_private_reply_outside_the_window(stack: Stack) -> None:
    post = new_post(stack)
    make_campaign(stack, post)
    stack.control("subscriptions/unsubscribe", account_id=stack.page["page_id"])
    eight_days_ago = int(time.time()) - 8 * 24 * 3600
    comment_id = comment_on(stack, post, customer(stack, "Old Timer"), created_time=eight_days_ago)
    run = request_and_wait(stack, channel_id(stack), (eight_days_ago - 3600) * 1000)
    settled(stack)
    assert run.comments_stored == 1
    with connection():
        [ledger] = CampaignRun.select().where(CampaignRun.comment_id == comment_id)
        assert ledger.source == "backfill"
        private = Message.get((Message.target_comment_id == comment_id) & (Message.send_kind == "private_reply"))
        assert private.status == "refused"
    assert private_replies(stack) == []


def test_a_dead_token_stops_the_run_and_says_so(stack: Stack) -> None:
    stack.control("tokens/revoke", token=stack.page["page_token"])
    run = request_and_wait(stack, channel_id(stack), now_ms() - 60_000)
    assert run.status == "failed" and "190" in (run.error or "")
    assert run.unrecovered and "not read back" in run.unrecovered[-1]


# ------------------------------------------------------------------ the admin's button, over the REST API


def test_admins_request_a_backfill_over_the_api(stack: Stack) -> None:
    with connection():
        auth.add_user("admin@example.com", "long enough", "admin")
        auth.add_user("agent@example.com", "long enough", "agent")
        admin = auth.create_api_token("admin@example.com")
        agent = auth.create_api_token("agent@example.com")
    page = channel_id(stack)
    url = f"{stack.api.url}/api/v1/channels/{page}"

    def call(method: str, path: str, token: str, **kwargs: object) -> httpx.Response:
        return stack.http.request(method, url + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    since = now_ms() - 3_600_000
    assert call("POST", "/backfill", agent, json={"since": since}).status_code == 403
    assert call("POST", "/backfill", admin, json={"since": now_ms() + 60_000}).status_code == 422
    answer = call("POST", "/backfill", admin, json={"since": since})
    assert answer.status_code == 202, answer.text
    assert (answer.json()["trigger"], answer.json()["since"]) == ("admin", since)
    wait_run(stack, answer.json()["id"])
    view = call("GET", "/health", agent).json()
    assert (view["status"], view["backfills"][0]["status"]) == ("healthy", "done")
    assert view["history"][0]["status"] == "healthy"
    assert [b["id"] for b in call("GET", "/backfills", agent).json()] == [answer.json()["id"]]
    assert call("POST", "/backfill", admin, json={"since": since, "extra": 1}).status_code in (400, 422)
