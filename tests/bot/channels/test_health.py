"""Channel health against the sandbox over real HTTP: a revoked token is caught by one check and
told to staff once; an unsubscribed channel is re-subscribed and recorded; the check runs from
the clock on a schedule kept in the database; the send path's findings share the same status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import commands, jobs
from bot.channels import health
from bot.meta.graph import GraphClient
from bot.platform import registry as channels
from bot.platform import runtime
from bot.platform.db import connection, now_ms
from bot.platform.models import BackfillRun, Channel, ChannelCheck, ChannelHealthEvent, Notification
from bot.staff.auth import add_user
from tests.bot.automation.test_notifications import Inbox, mail_server
from tests.conftest import make_env
from tests.servers import LiveServer, Stack, free_port


def channel_id(stack: Stack, instagram: bool = False) -> int:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    with connection():
        return Channel.get(Channel.account_id == account).id


def add_staff() -> None:
    with connection():
        add_user("ann@example.com", "long enough", "admin")
        add_user("bob@example.com", "long enough", "agent")


def check(channel: int) -> health.CheckResult:
    with connection():
        result = jobs.follow_check(health.check_channel(channel))
    assert result is not None
    return result


def status_changes(channel: int) -> list[tuple[str | None, str, str]]:
    with connection():
        return [(e.previous_status, e.status, e.source) for e in ChannelHealthEvent.select().where(
            (ChannelHealthEvent.channel == channel) & (ChannelHealthEvent.kind == "status")).order_by(
            ChannelHealthEvent.id)]


def channel_notifications(channel: int) -> list[str]:
    with connection():
        return [n.text for n in Notification.select().where(
            (Notification.channel == channel) & (Notification.kind == "channel")).order_by(Notification.id)]


def subscribed_fields(stack: Stack, account_id: str) -> list[str]:
    [account] = [a for a in stack.sandbox_get("state")["accounts"] if a["id"] == account_id]
    return account["subscribed_fields"]


def wait_backfills_done(stack: Stack, channel: int) -> list[BackfillRun]:
    def done() -> list[BackfillRun] | None:
        runs = list(BackfillRun.select().where(BackfillRun.channel == channel))
        return runs if runs and all(r.status in ("done", "failed") for r in runs) else None

    return stack.wait(done, timeout=60, what="backfills finished")


# ------------------------------------------------------------------ token


def revoked_token_flow(stack: Stack) -> None:
    add_staff()
    page = channel_id(stack)
    revoked = stack.control("tokens/revoke", token=stack.page["page_token"], subcode=460)
    with connection():  # the clock runs the check when it is due: make it due now
        health.check_soon(page)
    stack.wait(lambda: Channel.get_by_id(page).health_status == "needs_reconnecting", what="flagged by the clock")
    with connection():
        assert ChannelCheck.get(ChannelCheck.channel == page).next_check_at > now_ms() + 5 * 60_000
        assert "190/460" in (Channel.get_by_id(page).health_reason or "")
    for _ in range(2):  # later checks find the same: no new history, no new notification
        assert check(page).status == "needs_reconnecting"
    assert status_changes(page) == [("unknown", "healthy", "connect"), ("healthy", "needs_reconnecting", "check")]
    texts = channel_notifications(page)
    assert len(texts) == 2 and all("needs reconnecting" in t for t in texts)  # one per staff user, once

    with connection():  # an admin reconnects with the new token: recovery, told once, gap read back
        commands.connect_page(stack.page["page_id"], "Acme Shoes", revoked["replacement"],
                              instagram_id=stack.page["instagram_id"], instagram_username="acme.shoes")
        view = health.view(page)
    assert (view.status, view.healthy) == ("healthy", True)
    assert [h.status for h in view.history][:2] == ["healthy", "needs_reconnecting"]
    assert len(channel_notifications(page)) == 4 and "healthy again" in channel_notifications(page)[-1]
    [run] = wait_backfills_done(stack, page)
    assert (run.trigger, run.status) == ("gap", "done")
    assert check(page).status == "healthy"
    assert len(channel_notifications(page)) == 4


def test_revoked_token_needs_reconnecting_within_one_check(stack: Stack) -> None:
    revoked_token_flow(stack)


def test_revoked_token_needs_reconnecting_within_one_check_redis(stack_redis: Stack) -> None:
    revoked_token_flow(stack_redis)


def test_send_path_findings_share_the_status_and_notify_once(stack: Stack) -> None:
    add_staff()
    page = channel_id(stack)
    with connection():
        for _ in range(3):  # three failed sends, one change
            health.record(page, "restricted", "Page temporarily restricted (10/1893063)", source="send")
    assert status_changes(page)[-1] == ("healthy", "restricted", "send")
    assert len(channel_notifications(page)) == 2
    assert check(page).status == "restricted"  # a check cannot see a restriction end
    with connection():
        Channel.update(last_send_at=now_ms() + 1).where(Channel.id == page).execute()
    assert check(page).status == "healthy"  # a send went through since: it has ended
    assert status_changes(page)[-1] == ("restricted", "healthy", "check")
    with connection():
        assert BackfillRun.select().count() == 0  # webhooks were never affected


def test_token_expiring_soon_shows_the_date(stack: Stack) -> None:
    page = channel_id(stack)
    assert check(page).status == "healthy"
    expires = now_ms() + 2 * health.DAY_MS
    with connection():  # debug_token said so at the last daily ask (the sandbox's tokens never expire)
        ChannelCheck.update(token_expires_at=expires, token_checked_at=now_ms()).where(
            ChannelCheck.channel == page).execute()
    result = check(page)
    assert result.status == "token_expiring"
    assert health._date(expires) in (result.reason or "")


# ------------------------------------------------------------------ subscription


def unsubscribed_flow(stack: Stack) -> None:
    page, ig = channel_id(stack), channel_id(stack, instagram=True)
    stack.control("subscriptions/unsubscribe", account_id=stack.page["page_id"])
    stack.control("subscriptions/unsubscribe", account_id=stack.page["instagram_id"])
    assert subscribed_fields(stack, stack.page["page_id"]) == []
    result = check(ig)  # first: subscribing the page would bring its Instagram account back too
    assert (result.status, result.resubscribed) == ("healthy", True)
    assert set(channels.INSTAGRAM_FIELDS) <= set(subscribed_fields(stack, stack.page["instagram_id"]))
    result = check(page)
    assert (result.status, result.resubscribed) == ("healthy", True)
    assert set(channels.PAGE_FIELDS) <= set(subscribed_fields(stack, stack.page["page_id"]))
    with connection():
        repairs = [e.reason for e in ChannelHealthEvent.select().where(ChannelHealthEvent.kind == "resubscribed")]
        view = health.view(page)
    assert len(repairs) == 2 and all("whole subscription" in r for r in repairs)
    assert view.history[0].kind == "resubscribed" and set(view.subscribed_fields or []) >= set(channels.PAGE_FIELDS)
    assert not check(page).resubscribed  # repaired: the next check finds it complete
    runs = wait_backfills_done(stack, page)
    assert [r.reason for r in runs] == ["Meta had dropped the webhook subscription"]


def test_unsubscribed_channel_is_detected_and_resubscribed(stack: Stack) -> None:
    unsubscribed_flow(stack)


def test_unsubscribed_channel_is_detected_and_resubscribed_redis(stack_redis: Stack) -> None:
    unsubscribed_flow(stack_redis)


def test_missing_fields_are_added_back(stack: Stack) -> None:
    page = channel_id(stack)
    runtime.graph().subscribe_app(stack.page["page_id"], stack.page["page_token"], ["messages"])
    result = check(page)
    assert result.resubscribed
    assert set(channels.PAGE_FIELDS) <= set(subscribed_fields(stack, stack.page["page_id"]))
    with connection():
        [repair] = ChannelHealthEvent.select().where(ChannelHealthEvent.kind == "resubscribed")
    assert "feed" in repair.reason and "messages," not in repair.reason


def test_a_meta_outage_changes_nothing_but_the_last_error(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    page = channel_id(stack)
    unreachable = GraphClient(f"http://127.0.0.1:{free_port()}", "v21.0", timeout=2)  # nothing listens there
    monkeypatch.setattr(health.runtime, "graph", lambda login="facebook": unreachable)
    result = check(page)
    unreachable.close()
    assert result.status == "healthy" and result.error and "network" in result.error
    with connection():
        assert ChannelCheck.get(ChannelCheck.channel == page).last_error == result.error
    assert status_changes(page) == [("unknown", "healthy", "connect")]


def test_no_check_for_a_long_time_reads_the_gap_back(stack: Stack) -> None:
    page = channel_id(stack)
    check(page)
    last = now_ms() - 60 * 60_000  # an hour without checks (every 10 minutes by default)
    with connection():
        ChannelCheck.update(last_checked_at=last).where(ChannelCheck.channel == page).execute()
        Channel.update(created_at=last - 3 * 60 * 60_000).where(Channel.id == page).execute()
    [run_id] = check(page).backfill_run_ids
    with connection():
        run = BackfillRun.get_by_id(run_id)
        gap = ChannelHealthEvent.get(ChannelHealthEvent.kind == "gap")
    assert run.since == last - health.META_FAILURE_WINDOW_MS and "not running" in gap.reason


def test_schedule_survives_a_restart(stack: Stack) -> None:
    page = channel_id(stack)
    stack.control("subscriptions/unsubscribe", account_id=stack.page["page_id"])
    stack.stop_workers()
    with connection():
        health.check_soon(page)
    stack.restart_workers()
    stack.wait(lambda: ChannelHealthEvent.select().where(ChannelHealthEvent.kind == "resubscribed").exists(),
               what="re-subscribed by the scheduled check")
    assert set(channels.PAGE_FIELDS) <= set(subscribed_fields(stack, stack.page["page_id"]))


# ------------------------------------------------------------------ e-mail


@pytest.fixture
def mail_desk(database_url: str, sandbox_server: LiveServer) -> Iterator[tuple[Stack, Inbox]]:
    inbox, port = Inbox(), free_port()
    controller = mail_server(inbox, port)
    controller.start()
    env = make_env(database_url, SMTP_URL=f"smtp://desk:s3cret@127.0.0.1:{port}/?from=desk@example.com")
    try:
        with Stack.start(env, sandbox_server) as stack:
            add_staff()
            with connection():
                commands.update_channel_settings(channel_id(stack), emails=True)
            yield stack, inbox
    finally:
        controller.stop()


def test_staff_get_one_email_when_unhealthy_and_one_when_recovered(mail_desk: tuple[Stack, Inbox]) -> None:
    stack, inbox = mail_desk
    page = channel_id(stack)
    revoked = stack.control("tokens/revoke", token=stack.page["page_token"])
    for _ in range(3):
        check(page)
    stack.wait(lambda: len(inbox.messages) >= 1, what="an e-mail")
    with connection():
        commands.connect_page(stack.page["page_id"], "Acme Shoes", revoked["replacement"])
    stack.wait(lambda: len(inbox.messages) >= 2, what="the recovery e-mail")
    stack.wait(lambda: not ChannelHealthEvent.select().where(ChannelHealthEvent.email_status == "pending").exists(),
               what="e-mails recorded as sent")
    subjects = [m["Subject"] for _, m in inbox.messages]
    assert subjects == ["socialdesk: Acme Shoes: needs reconnecting", "socialdesk: Acme Shoes: healthy"]
    assert sorted(inbox.messages[0][0]) == ["ann@example.com", "bob@example.com"]


def test_due_checks_are_claimed_once(stack: Stack) -> None:
    page = channel_id(stack)
    stack.stop_workers()
    with connection():
        health.check_soon(page)
        first = health.claim_due_checks()
        second = health.claim_due_checks()
    assert page in first and page not in second


# ------------------------------------------------------------------ META_APP_ID


def test_token_expiry_check_needs_the_app_id(database_url: str, sandbox_server: LiveServer) -> None:
    """No made-up app id is sent to Meta: without META_APP_ID the expiry check is skipped and the
    channel's health says why; with it, `debug_token` is asked (the sandbox's app id here)."""
    with Stack.start(make_env(database_url), sandbox_server) as stack:
        page = channel_id(stack)
        result = check(page)
        assert (result.status, result.reason) == ("healthy", health.NO_APP_ID)
        with connection():
            assert ChannelCheck.get(ChannelCheck.channel == page).token_checked_at is None
    with Stack.start(make_env(database_url, META_APP_ID="1234567890123456"), sandbox_server) as stack:
        page = channel_id(stack)
        result = check(page)
        assert (result.status, result.reason) == ("healthy", None)
        with connection():
            assert ChannelCheck.get(ChannelCheck.channel == page).token_checked_at is not None
