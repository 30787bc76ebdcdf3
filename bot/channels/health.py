"""Channel health: Meta fails silently, so socialdesk looks for itself.

After an hour of failed deliveries Meta unsubscribes the app from a Page or Instagram account
(meta-platform.md §1), and a page token dies when an admin changes their password or removes
the app (§7, code 190). Nothing tells us. So each channel is checked periodically: one
`GET /{id}/subscribed_apps` with the page token answers both "does the token still work?" (a 190
means it does not) and "are we still subscribed to every field we need?" (§10). A missing
subscription is repaired at once (`POST .../subscribed_apps`) and the gap is read back
(`bot.channels.backfill`); what cannot be repaired (a dead token) is shown and told to staff.

The status is one stored word per channel (`Channel.health_status`), with a history of what
changed, when and why (`ChannelHealthEvent`). The send path reports what it learns through the
same door (`record`, called by the send job with the sender's finding), so staff get one notification per change
(and one e-mail where e-mails are on), never one per check or per failed send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec

from bot.automation import notifications
from bot.channels import backfill
from bot.core.errors import GraphError, NotFound
from bot.platform import runtime
from bot.platform.db import now_ms, transaction
from bot.platform.mailer import MailError, send_mail
from bot.platform.models import Channel, ChannelCheck, ChannelHealthEvent, User
from bot.platform.registry import INSTAGRAM_FIELDS, PAGE_FIELDS, page_token, subscription_node

log = logging.getLogger(__name__)

HEALTHY = "healthy"
UNKNOWN = "unknown"
TOKEN_EXPIRING = "token_expiring"
NEEDS_RECONNECTING = "needs_reconnecting"
UNSUBSCRIBED = "unsubscribed"
RESTRICTED = "restricted"
MESSAGES_DISABLED = "messages_disabled"

LABELS = {
    HEALTHY: "healthy",
    UNKNOWN: "not checked yet",
    TOKEN_EXPIRING: "token expiring soon",
    NEEDS_RECONNECTING: "needs reconnecting",
    UNSUBSCRIBED: "webhooks unsubscribed",
    RESTRICTED: "restricted from sending messages",
    MESSAGES_DISABLED: "messages disabled on the page",
}
GOOD = frozenset({HEALTHY, UNKNOWN})
# While in these, webhooks may have been lost: recovering from them reads the gap back.
LOSES_WEBHOOKS = frozenset({NEEDS_RECONNECTING, UNSUBSCRIBED})
# Found by the send path only; a check cannot see them end, a later successful send can.
SEND_FINDINGS = frozenset({RESTRICTED, MESSAGES_DISABLED})

MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
EXPIRY_WARNING_MS = 7 * DAY_MS
TOKEN_RECHECK_MS = DAY_MS
# Meta unsubscribes after an hour of failed deliveries (§1): when we learn of an unsubscription,
# deliveries may have been failing for that hour before it.
META_FAILURE_WINDOW_MS = 60 * MINUTE_MS
OVERDUE_CHECKS = 3  # this many intervals without a check means socialdesk was not running
MAX_GAP_MS = 7 * DAY_MS  # what is worth reading back (private replies: 7 days, §6)
HISTORY_LIMIT = 50
NO_APP_ID = "The page token's expiry is not checked: set META_APP_ID to your Meta app's id."
EMAIL_GIVE_UP_MS = DAY_MS


# ------------------------------------------------------------------ the status and its history


@dataclass(frozen=True)
class Recorded:
    """A status change that was stored: the history row, the gap backfill it opened (if any) and
    whether staff get an e-mail about it. The caller enqueues both (`bot.jobs.follow_health`)."""

    event_id: int
    previous: str
    status: str
    backfill_run_id: int | None = None
    email: bool = False


def record(channel_id: int, status: str, reason: str | None, *, source: str,
           read_back: bool = True) -> Recorded | None:
    """Set a channel's status. Only a change is recorded, notified (staff, and an e-mail where
    e-mails are on) and, when the channel recovers from a state that loses webhooks, followed
    by a backfill of the gap (unless `read_back` is False: the caller opened one). None when
    nothing changed (the same finding again)."""
    with transaction():
        channel = Channel.get_or_none(Channel.id == channel_id)
        if channel is None:
            return None
        previous = channel.health_status
        if previous == status:
            if reason != channel.health_reason:
                Channel.update(health_reason=reason).where(Channel.id == channel_id).execute()
            return None
        recovers = previous in LOSES_WEBHOOKS and status in GOOD | {TOKEN_EXPIRING}
        gap_since = _gap_start(channel) if recovers and read_back else None
        changed = Channel.update(health_status=status, health_reason=reason).where(
            (Channel.id == channel_id) & (Channel.health_status == previous)).execute()
        if not changed:  # a concurrent finding got there first and told staff
            return None
        notify = not (previous == UNKNOWN and status in GOOD)
        email = bool(notify and channel.emails and runtime.settings().smtp_url)
        event_id = ChannelHealthEvent.insert(
            channel=channel_id, kind="status", status=status, previous_status=previous, reason=reason, source=source,
            email_status="pending" if email else None, created_at=now_ms()).execute()
        if notify:
            notifications.notify_channel_change(channel, change_text(channel, previous, status, reason))
    run_id = None
    if gap_since is not None:
        run_id = backfill.open_run(channel_id, gap_since, now_ms(), trigger="gap",
                                   reason=f"recovered from '{LABELS.get(previous, previous)}'")
    return Recorded(event_id, previous, status, run_id, email)


def on_connected(channel_id: int) -> Recorded | None:
    """A page connected (again) with a working token: a channel that needed reconnecting
    recovers (and its gap is read back); the new token's expiry is asked on the next check.
    A restriction found by sending is the page's, not the token's: it stays."""
    ChannelCheck.update(token_checked_at=None, token_expires_at=None).where(
        ChannelCheck.channel == channel_id).execute()
    channel = Channel.get_by_id(channel_id)
    if channel.health_status in SEND_FINDINGS:
        return None
    return record(channel_id, HEALTHY, None, source="connect")


def note(channel_id: int, kind: str, reason: str, *, source: str = "check") -> int:
    """A history entry that is not a status change (a repair, a detected gap)."""
    status = Channel.get_by_id(channel_id).health_status
    return ChannelHealthEvent.insert(channel=channel_id, kind=kind, status=status, reason=reason, source=source,
                                     created_at=now_ms()).execute()


def change_text(channel: Channel, previous: str, status: str, reason: str | None) -> str:
    """One line for staff: which channel, what it is now, and why."""
    where = f"{channel.name or channel.account_id} ({'Instagram' if channel.platform == 'instagram' else 'Facebook'})"
    if status in GOOD and previous not in GOOD:
        text = f"{where} is healthy again (was: {LABELS.get(previous, previous)})."
    else:
        text = f"{where}: {LABELS.get(status, status)}."
    return f"{text} {reason}" if reason else text


def _gap_start(channel: Channel) -> int:
    """Where webhooks may have started going missing, from the history: the last time a check
    saw the channel fine, or the moment it went bad, whichever is earlier, less Meta's hour of
    failed deliveries; never before the channel existed or beyond MAX_GAP_MS."""
    went_bad = None
    if channel.health_status not in GOOD:
        went_bad = (ChannelHealthEvent.select(ChannelHealthEvent.created_at)
                    .where((ChannelHealthEvent.channel == channel.id) & (ChannelHealthEvent.kind == "status")
                           & (ChannelHealthEvent.status == channel.health_status))
                    .order_by(ChannelHealthEvent.id.desc()).first())
    state = ChannelCheck.get_or_none(ChannelCheck.channel == channel.id)
    candidates = [t for t in (went_bad and went_bad.created_at, state and state.last_ok_at) if t]
    start = min(candidates) if candidates else channel.created_at
    return max(start - META_FAILURE_WINDOW_MS, channel.created_at, now_ms() - MAX_GAP_MS)


# ------------------------------------------------------------------ the periodic check


def required_fields(channel: Channel) -> tuple[str, ...]:
    return INSTAGRAM_FIELDS if channel.platform == "instagram" else PAGE_FIELDS


def interval_ms() -> int:
    return runtime.settings().health_check_minutes * MINUTE_MS


def check_state(channel_id: int) -> ChannelCheck:
    """The channel's check row, created on first use (first check one interval after connecting:
    connecting has just subscribed)."""
    state = ChannelCheck.get_or_none(ChannelCheck.channel == channel_id)
    if state is None:
        ChannelCheck.insert(channel=channel_id, next_check_at=now_ms() + interval_ms()).on_conflict_ignore().execute()
        state = ChannelCheck.get(ChannelCheck.channel == channel_id)
    return state


def claim_due_checks(limit: int = 100) -> list[int]:
    """For the clock: claim each active channel whose check is due (moving its next check one
    interval on, so a check is enqueued once per interval whatever the number of clocks).
    Returns the channel ids claimed, for the clock to enqueue."""
    now = now_ms()
    # Read to the end before writing: on SQLite a SELECT still being stepped keeps its read
    # snapshot open, and an INSERT on the same connection after another connection committed
    # fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT: no busy timeout helps).
    missing = list(Channel.select(Channel.id).where(
        Channel.is_active & Channel.id.not_in(ChannelCheck.select(ChannelCheck.channel))))
    for channel in missing:
        check_state(channel.id)
    due = list(ChannelCheck.select().join(Channel).where(Channel.is_active & (ChannelCheck.next_check_at <= now))
               .order_by(ChannelCheck.next_check_at).limit(limit))
    claimed_ids = []
    for state in due:
        claimed = ChannelCheck.update(next_check_at=now + interval_ms()).where(
            (ChannelCheck.id == state.id) & (ChannelCheck.next_check_at == state.next_check_at)).execute()
        if claimed:
            claimed_ids.append(state.channel_id)
    return claimed_ids


def check_soon(channel_id: int) -> None:
    """Make the channel's next check due now (the clock picks it up on its next round)."""
    check_state(channel_id)
    ChannelCheck.update(next_check_at=now_ms()).where(ChannelCheck.channel == channel_id).execute()


@dataclass(frozen=True)
class CheckResult:
    """What one check found: the status, whether it re-subscribed, and a gap backfill if any."""

    status: str
    reason: str | None = None
    resubscribed: bool = False
    backfill_run_ids: tuple[int, ...] = ()
    error: str | None = None
    email_event_ids: tuple[int, ...] = ()


def check_channel(channel_id: int) -> CheckResult | None:
    """Check one channel: token, subscription, token expiry. Runs in a worker (never in ingest or
    the send path); normally one Graph call, plus a repair when needed and `debug_token` once a
    day. A Meta outage (5xx, rate limit) changes nothing but `last_error`."""
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None or not channel.is_active:
        return None
    state = check_state(channel_id)
    now = now_ms()
    runs = list(_overdue_gap(channel, state, now))
    try:
        token = page_token(channel)
    except NotFound:
        return _bad(channel, NEEDS_RECONNECTING, "No page token is stored: connect the page again.", runs)
    graph = runtime.graph(channel.login)
    try:
        fields = graph.subscribed_fields(subscription_node(channel.login, channel.account_id), token,
                                         app_id=_our_app_id(channel))
    except GraphError as exc:
        return _graph_failure(channel, exc, runs)
    missing = [f for f in required_fields(channel) if f not in (fields or [])]
    resubscribed = False
    if missing:
        try:
            fields = _resubscribe(channel, token, fields, missing)
        except GraphError as exc:
            if _is_token_problem(exc):
                return _graph_failure(channel, exc, runs)
            reason = f"Meta dropped the webhook subscription and re-subscribing failed: {exc.describe()}"
            return _bad(channel, UNSUBSCRIBED, reason, runs)
        resubscribed = True
        runs += _read_back_after_resubscribing(channel)
    status, reason = _token_status(channel, state, token, now)
    if status == HEALTHY and channel.health_status in SEND_FINDINGS and not _sent_since_finding(channel):
        status, reason = channel.health_status, channel.health_reason
    runs, emails = _follow_ups(record(channel_id, status, reason, source="check", read_back=not resubscribed), runs)
    fine = status not in LOSES_WEBHOOKS  # the token works and webhooks flow
    ChannelCheck.update(last_checked_at=now_ms(), last_error=None if fine else reason, subscribed_fields=fields or [],
                        **({"last_ok_at": now_ms()} if fine else {})).where(
        ChannelCheck.channel == channel_id).execute()
    return CheckResult(status, reason, resubscribed, tuple(runs), email_event_ids=emails)


def _read_back_after_resubscribing(channel: Channel) -> list[int]:
    """Subscribing a page may also bring back its Instagram account's subscription (the sandbox
    does; Meta's behaviour is unconfirmed), whose own check would then find nothing missing: so
    the gap is read back for every channel served by the page."""
    served = [channel] if channel.platform == "instagram" else list(Channel.select().where(
        (Channel.page_id == channel.page_id) & Channel.is_active))
    return [backfill.open_run(c.id, _gap_start(c), now_ms(), trigger="gap",
                              reason="Meta had dropped the webhook subscription") for c in served]


def _our_app_id(channel: Channel) -> str | None:
    """Meta lists every app subscribed to a Page; ours is picked by its numeric app id. Without
    `META_APP_ID` the first app is taken. With Instagram Login the token is our app's own and the
    app listed may carry the Instagram app id rather than the Meta app id (unconfirmed): we
    take the first entry there."""
    return None if channel.login == "instagram" else runtime.settings().meta_app_id


def _resubscribe(channel: Channel, token: str, current: list[str] | None, missing: list[str]) -> list[str]:
    """Subscribe again with every field we need plus any others that were set. For an Instagram
    account (Facebook Login) this posts to `/{ig-id}/subscribed_apps`, as for a page; that Meta
    accepts it there for a linked account is unconfirmed."""
    wanted = list(dict.fromkeys([*required_fields(channel), *(current or [])]))
    runtime.graph(channel.login).subscribe_app(subscription_node(channel.login, channel.account_id), token, wanted)
    what = "the whole subscription" if not current else "fields " + ", ".join(missing)
    note(channel.id, "resubscribed", f"Meta had dropped {what}; socialdesk subscribed again.")
    return wanted


def _token_status(channel: Channel, state: ChannelCheck, token: str, now: int) -> tuple[str, str | None]:
    """Healthy, or the token expires soon (with the date). `debug_token` is asked at most once a
    day: an expiry date does not move by itself."""
    expires_at = state.token_expires_at
    settings = runtime.settings()
    due = state.token_checked_at is None or now - state.token_checked_at >= TOKEN_RECHECK_MS
    if due and channel.login == "instagram":
        expires_at = _refresh_instagram_token(channel, token, now) or expires_at
        ChannelCheck.update(token_checked_at=now, token_expires_at=expires_at).where(
            ChannelCheck.channel == channel.id).execute()
    elif due and settings.meta_app_id is not None:
        try:  # an app token is "{app-id}|{app-secret}"
            info = runtime.graph().debug_token(token, f"{settings.meta_app_id}|{settings.meta_app_secret}")
        except GraphError as exc:  # the check itself succeeded; the expiry stays unknown until tomorrow
            log.info("debug_token for channel %s failed: %s", channel.id, exc.describe())
            info = None
        if info is not None and not info.is_valid:
            return NEEDS_RECONNECTING, "Meta says the page token is no longer valid: connect the page again."
        expires_at = info.expires_at if info is not None else expires_at
        ChannelCheck.update(token_checked_at=now, token_expires_at=expires_at).where(
            ChannelCheck.channel == channel.id).execute()
    if expires_at is not None and expires_at - now < EXPIRY_WARNING_MS:
        return TOKEN_EXPIRING, f"The page token expires on {_date(expires_at)}: connect the page again before then."
    return HEALTHY, NO_APP_ID if settings.meta_app_id is None and channel.login != "instagram" else None


def _refresh_instagram_token(channel: Channel, token: str, now: int) -> int | None:
    """Instagram Login tokens are renewed rather than inspected (graph.instagram.com documents no
    `debug_token`, unconfirmed): once a day the token is exchanged for a fresh long-lived one
    (§12, `GET /refresh_access_token?grant_type=ig_refresh_token`, which Meta allows once the
    token is 24 hours old), stored encrypted, and its expiry becomes the channel's. A refusal
    (too young, Meta busy) keeps the current token until the next day's try; the expiry then
    stays what it was (unknown right after connecting)."""
    try:
        fresh = runtime.graph("instagram").refresh_instagram_token(token)
    except GraphError as exc:
        log.info("refreshing the Instagram token of channel %s failed: %s", channel.id, exc.describe())
        return None
    Channel.update(token_encrypted=runtime.vault().encrypt(fresh.access_token)).where(
        Channel.id == channel.id).execute()
    return now + fresh.expires_in * 1000


def _date(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _sent_since_finding(channel: Channel) -> bool:
    """A restriction found by the send path ends when a send succeeds again."""
    since = (ChannelHealthEvent.select(ChannelHealthEvent.created_at)
             .where((ChannelHealthEvent.channel == channel.id) & (ChannelHealthEvent.status == channel.health_status))
             .order_by(ChannelHealthEvent.id.desc()).first())
    return bool(since and channel.last_send_at and channel.last_send_at > since.created_at)


def _is_token_problem(exc: GraphError) -> bool:
    """190 (token dead) and missing permissions both need someone to connect the page again (§7)."""
    return exc.invalidates_token or exc.kind == "permission"


def _graph_failure(channel: Channel, exc: GraphError, runs: list[int]) -> CheckResult:
    if _is_token_problem(exc):
        return _bad(channel, NEEDS_RECONNECTING, f"Meta refused the page token: {exc.describe()}", runs)
    ChannelCheck.update(last_checked_at=now_ms(), last_error=exc.describe()).where(
        ChannelCheck.channel == channel.id).execute()
    return CheckResult(channel.health_status, channel.health_reason, backfill_run_ids=tuple(runs),
                       error=exc.describe())


def _bad(channel: Channel, status: str, reason: str, runs: list[int]) -> CheckResult:
    runs, emails = _follow_ups(record(channel.id, status, reason, source="check"), runs)
    ChannelCheck.update(last_checked_at=now_ms(), last_error=reason).where(ChannelCheck.channel == channel.id).execute()
    return CheckResult(status, reason, backfill_run_ids=tuple(runs), email_event_ids=emails)


def _follow_ups(recorded: Recorded | None, runs: list[int]) -> tuple[list[int], tuple[int, ...]]:
    """A check's gap backfills and staff e-mails, with what its status change (if any) added."""
    if recorded is None:
        return runs, ()
    if recorded.backfill_run_id:
        runs = [*runs, recorded.backfill_run_id]
    return runs, (recorded.event_id,) if recorded.email else ()


def _overdue_gap(channel: Channel, state: ChannelCheck, now: int) -> list[int]:
    """No check ran for several intervals: socialdesk was not running, and webhooks Meta sent
    meanwhile may be lost (Meta retries a failed delivery only briefly, §1). Read that time back."""
    last = state.last_checked_at
    if last is None or now - last < OVERDUE_CHECKS * interval_ms():
        return []
    note(channel.id, "gap", f"No health check ran from {_date(last)} to {_date(now)}: socialdesk was not running.")
    since = max(last - META_FAILURE_WINDOW_MS, channel.created_at, now - MAX_GAP_MS)
    return [backfill.open_run(channel.id, since, now, trigger="gap", reason="socialdesk was not running")]


# ------------------------------------------------------------------ staff e-mail


def send_email(event_id: int) -> None:
    """Send the e-mail about one status change (a job; `MailError` makes the queue retry)."""
    event = ChannelHealthEvent.get_or_none(ChannelHealthEvent.id == event_id)
    smtp_url = runtime.settings().smtp_url
    if event is None or event.email_status != "pending" or not smtp_url:
        return
    channel = event.channel
    staff = [u.email for u in User.select(User.email).where(User.is_active)]
    if staff:
        text = change_text(channel, event.previous_status or UNKNOWN, event.status, event.reason)
        subject = f"socialdesk: {channel.name or channel.account_id}: {LABELS.get(event.status, event.status)}"
        body = f"{text}\n\nChannel settings: {runtime.settings().public_url}/dashboard"
        try:
            send_mail(smtp_url, staff, subject, body)
        except MailError:
            if now_ms() - event.created_at < EMAIL_GIVE_UP_MS:
                raise  # the queue retries; the clock re-enqueues a lost one
            ChannelHealthEvent.update(email_status="failed").where(ChannelHealthEvent.id == event_id).execute()
            return
    ChannelHealthEvent.update(email_status="sent").where(ChannelHealthEvent.id == event_id).execute()


def pending_emails(grace_ms: int) -> list[int]:
    """E-mails whose job was lost or failed for now (for the clock)."""
    cutoff = now_ms() - grace_ms
    return [e.id for e in ChannelHealthEvent.select(ChannelHealthEvent.id).where(
        (ChannelHealthEvent.email_status == "pending") & (ChannelHealthEvent.created_at < cutoff)).limit(100)]


# ------------------------------------------------------------------ what the dashboard and API read


class HealthEntry(msgspec.Struct):
    id: int
    kind: str
    status: str
    previous_status: str | None
    reason: str | None
    source: str
    created_at: int


class HealthView(msgspec.Struct):
    """A channel's health as last checked, its history (newest first) and its backfills."""

    channel_id: int
    status: str
    label: str
    healthy: bool
    reason: str | None
    is_active: bool
    last_webhook_at: int | None
    last_send_at: int | None
    last_checked_at: int | None
    next_check_at: int | None
    token_expires_at: int | None
    subscribed_fields: list[str] | None
    last_error: str | None
    history: list[HealthEntry]
    backfills: list[backfill.BackfillView]


def view(channel_id: int) -> HealthView:
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    state = ChannelCheck.get_or_none(ChannelCheck.channel == channel_id)
    history = [HealthEntry(e.id, e.kind, e.status, e.previous_status, e.reason, e.source, e.created_at)
               for e in ChannelHealthEvent.select().where(ChannelHealthEvent.channel == channel_id)
               .order_by(ChannelHealthEvent.id.desc()).limit(HISTORY_LIMIT)]
    return HealthView(
        channel_id=channel.id, status=channel.health_status,
        label=LABELS.get(channel.health_status, channel.health_status),
        healthy=channel.health_status in GOOD, reason=channel.health_reason, is_active=channel.is_active,
        last_webhook_at=channel.last_webhook_at, last_send_at=channel.last_send_at,
        last_checked_at=state.last_checked_at if state else None,
        next_check_at=state.next_check_at if state else None,
        token_expires_at=state.token_expires_at if state else None,
        subscribed_fields=state.subscribed_fields if state else None,
        last_error=state.last_error if state else None,
        history=history, backfills=backfill.runs_of(channel_id))
