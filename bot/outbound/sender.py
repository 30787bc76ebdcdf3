"""Sending one outgoing row to Meta, at most once.

1. Claim the row (pending -> sending, one winner) and skip it if Meta's id is already recorded.
2. Ask the one send policy (`sendpolicy.decide`) with facts from the database; a refusal is
   stored with its reason and Meta is never called.
3. Compose Meta's body, call the Graph API, record Meta's id (or the error) at once.

The only window for a duplicate is a crash between Meta's answer and step 3's commit; the echo
webhook carries our idempotency key in `metadata`, which closes that window for DMs when the
echo arrives (`inbox._echo`). Retryable errors come back to the caller as a delay; permanent
ones mark the row failed with Meta's code and reason and are never retried. An ambiguous
answer (lost after the request left) is settled, never left failed (`sendcheck`): a private
reply is tried again (10900 then means the first went through), a DM or a public reply is sent
again only when neither its webhook nor a read-back from Meta shows it arrived.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import peewee

from bot.core.errors import GraphError, Refused
from bot.meta import graph_shapes as shapes
from bot.outbound import attachments
from bot.outbound.outbox import part_content, promote_next
from bot.outbound.sendcheck import AMBIGUOUS, ECHO_WAIT_MS, delivered_mid, published_reply_id
from bot.outbound.sendpolicy import Allowed, Author, Facts, SendKind, decide
from bot.platform import cache, metrics, runtime, statements
from bot.platform.db import db, is_sqlite, now_ms, prepared, transaction
from bot.platform.models import Channel, Comment, Conversation, Message
from bot.platform.queue import in_flight, send_slot
from bot.platform.registry import channel_by_id, page_token, touch

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STUCK_MS = 120_000
# Ambiguous sends Meta does not refuse twice: look for them before sending again (sendcheck).
LOOK_BEFORE_RESENDING = (SendKind.DIRECT, SendKind.COMMENT_REPLY)
HEALTH_BY_KIND = {"token": "needs_reconnecting", "restricted": "restricted", "messages_disabled": "messages_disabled"}


@dataclass
class Outcome:
    """What the job does next: try this row again in `retry_in` ms, and/or send `next_id` (the
    following part of the same message, which waited for this one), and record `finding` (a
    channel health status and Meta's reason) when Meta's answer says something about the page."""

    retry_in: int | None = None
    next_id: int | None = None
    finding: tuple[str, str] | None = None
    channel_id: int | None = None


def send_one(message_id: int, taken: Message | None = None) -> Outcome:
    """Send the row if it is due; `taken`: the row as inserted already claimed by this job
    (`outbox.sent_here`), sent without claiming it again."""
    message = taken if taken is not None else _claim(message_id)
    if message is None:
        return Outcome()
    with in_flight("send", message.id):  # a row we die holding is taken back well before 2 min (sendcheck)
        outcome = _send(message)
    if outcome.retry_in is None and message.send_kind == SendKind.DIRECT:
        # Only a DM's parts wait "queued" for the one before (a private reply's later parts are
        # "held" until the person answers; a public reply is one part): nothing to look up otherwise.
        outcome.next_id = promote_next(message)
    return outcome


def _send(message: Message) -> Outcome:
    channel: Channel = channel_by_id(message.channel_id)
    if message.error_kind == AMBIGUOUS and message.send_kind in LOOK_BEFORE_RESENDING:
        # An earlier attempt may have arrived and its echo not (yet): look before sending again,
        # and before the policy (a window that closed since must not refuse a message that went).
        try:
            meta_id = _arrived(message, channel)
        except GraphError as exc:
            return _failed(message, channel, exc)
        if meta_id is not None:
            return _sent(message, channel, meta_id, message.recipient_id)
        vars(message).pop("target_comment", None)  # read again: a Graph call went by since the claim
    decision = decide(facts_for(message, channel))
    if not isinstance(decision, Allowed):
        _record(message, status="refused", reason=decision.reason, kind=decision.code)
        return Outcome()
    wait = _pace(channel.page_id) or send_slot(channel.page_id, media=bool(message.attachments))
    if wait:
        _release(message, wait)
        return Outcome(retry_in=wait)
    _last_call[channel.page_id] = time.monotonic()
    try:
        meta_id, recipient = _call_meta(message, channel, decision)
    except GraphError as exc:
        return _failed(message, channel, exc)
    except Refused as exc:  # an attached file that is no longer stored: nothing to send
        _record(message, status="refused", reason=exc.reason, kind="file")
        return Outcome()
    return _sent(message, channel, meta_id, recipient)


def _sent(message: Message, channel: Channel, meta_id: str | None, recipient: str | None) -> Outcome:
    """Meta has it: record it (`meta_id` None when only Meta's 10900 told us; the echo fills it in)."""
    _record(message, status="sent", mid=meta_id, recipient=recipient)
    # While the channel has a health finding, every success is written: it is what ends one.
    touch(channel, "last_send_at", now_ms(), always=channel.health_status not in ("healthy", "unknown"))
    return Outcome()


def _arrived(message: Message, channel: Channel) -> str | None:
    """Meta's id of an ambiguous DM or public reply when Meta shows it arrived (sendcheck)."""
    if message.send_kind == SendKind.COMMENT_REPLY:
        return published_reply_id(message, channel, page_token(channel))
    return delivered_mid(message, channel, page_token(channel))


def _claim(message_id: int) -> Message | None:
    """Take the row for sending: only a pending row (or one stuck in `sending` after a crash)
    whose Meta id is not recorded. On PostgreSQL one statement: the UPDATE returns the row and
    the configuration version (`bot.platform.cache`); nothing claimed, the row is looked at."""
    now = now_ms()
    if not is_sqlite():
        return _claim_returning(message_id, now)
    with transaction():
        message = Message.get_or_none(Message.id == message_id)
        if message is None or message.mid or message.sent_at:
            if message is not None and message.error_kind == AMBIGUOUS:
                _settled_by_echo(message)
            return None
        claimable = (Message.status == "pending") | (
            (Message.status == "sending") & (Message.send_started_at < now - STUCK_MS))
        claimed = Message.update(status="sending", send_started_at=now, attempts=Message.attempts + 1).where(
            (Message.id == message_id) & claimable).execute()
    return Message.get_by_id(message_id) if claimed else None


def _claim_returning(message_id: int, now: int) -> Message | None:
    cursor = db.execute_sql(prepared("socialdesk_claim", _CLAIM_SQL),
                            ("sending", now, message_id, "pending", "sending", now - STUCK_MS))
    row = cursor.fetchone()
    if row is not None:
        message = statements.model_row(Message, cursor.description, row)
        cache.observe(message.config_version)
        return _with_target(message)
    message = Message.get_or_none(Message.id == message_id)
    if message is not None and (message.mid or message.sent_at) and message.error_kind == AMBIGUOUS:
        _settled_by_echo(message)
    return None


# The answered comment's facts the send policy reads, returned by the claim itself (one statement).
_TARGET_FIELDS = ("id", "created_at", "by_account", "deleted_at", "hidden")
_TARGET_COLUMNS = ", ".join(f'(SELECT "{name}" FROM "comment" WHERE "comment"."comment_id" = '
                            f'"message"."target_comment_id") AS "target_{name}"' for name in _TARGET_FIELDS)
# The claim (PostgreSQL): a pending row, or one stuck in `sending`, whose Meta id is not recorded;
# it returns the row, the configuration version and the target's facts. Text written once.
_CLAIM_SQL = (
    'UPDATE "message" SET "status" = %s, "send_started_at" = %s, "attempts" = ("message"."attempts" + 1) '
    'WHERE "message"."id" = %s AND ("message"."status" = %s OR ("message"."status" = %s AND '
    '"message"."send_started_at" < %s)) AND "message"."mid" IS NULL AND "message"."sent_at" IS NULL RETURNING '
    + ", ".join(f'"message"."{field.column_name}"' for field in Message._meta.sorted_fields)
    + f', {cache.VERSION_SQL.sql} AS "config_version", {_TARGET_COLUMNS}')


def _with_target(message: Message) -> Message:
    """Keep the comment the claim read as `message.target_comment` (None: not stored) for `facts_for`."""
    found = getattr(message, "target_id", None) is not None
    message.target_comment = Comment(comment_id=message.target_comment_id, **{
        name: getattr(message, f"target_{name}") for name in _TARGET_FIELDS}) if found else None
    return message


def _target_comment(message: Message) -> Comment | None:
    """The comment the row answers: as the claim read it (PostgreSQL), else read now."""
    if "target_comment" in vars(message):
        return message.target_comment
    return Comment.get_or_none(Comment.comment_id == message.target_comment_id)


def _settled_by_echo(message: Message) -> None:
    """The echo of an ambiguous send arrived and marked the row sent: the doubt is gone."""
    Message.update(error_kind=None, status_reason=None, error_code=None, error_subcode=None).where(
        (Message.id == message.id) & (Message.error_kind == AMBIGUOUS)).execute()


def facts_for(message: Message, channel: Channel, *, author: Author | None = None) -> Facts:
    """Gather what the send policy looks at, from stored facts only."""
    kind = SendKind(message.send_kind)
    comment = None
    if message.target_comment_id and kind != SendKind.DIRECT:  # the comment rules look at it
        comment = _target_comment(message)
    # Only a DM's rules look at the 24 h window (`sendpolicy.decide`): no read for the others.
    last_customer = last_customer_message(channel, message.recipient_id) if kind == SendKind.DIRECT else None
    return Facts(
        kind=kind,
        author=author or (Author.STAFF if message.author == "staff" else Author.AUTOMATION),
        platform=channel.platform,
        now_ms=now_ms(),
        last_customer_message_ms=last_customer,
        comment_created_ms=comment.created_at if comment else None,
        comment_by_account=bool(comment and comment.by_account),
        comment_deleted=bool(comment and comment.deleted_at),
        comment_hidden=bool(comment and comment.hidden),
        private_reply_used=False,  # the unique private_reply_to column already decided this row is the one
        human_agent_enabled=channel.human_agent,
        has_media=bool(message.attachments),
    )


def last_customer_message(channel: Channel, user_id: str | None) -> int | None:
    """When the person last wrote in their DM thread on this channel (opens the 24 h window)."""
    if not user_id:
        return None
    key = f"dm:{channel.platform}:{channel.account_id}:{user_id}"
    thread = Conversation.get_or_none(Conversation.thread_key == key)
    return thread.last_customer_message_at if thread else None


def _call_meta(message: Message, channel: Channel, decision: Allowed) -> tuple[str, str | None]:
    graph = runtime.graph(channel.login)
    token = page_token(channel)
    if message.send_kind == SendKind.COMMENT_REPLY:
        new_id = graph.reply_to_comment(channel.platform, message.target_comment_id, token, message.text or "")
        return new_id, None
    if message.send_kind == SendKind.PRIVATE_REPLY:
        recipient = shapes.comment_recipient(message.target_comment_id)
    else:
        recipient = shapes.user_recipient(message.recipient_id)
    content = attachments.with_meta_ids(part_content(message), channel)  # stored files -> Meta's ids
    body = shapes.send_body(recipient, shapes.message_body(content, channel.platform),
                            decision.messaging_type, decision.tag, message.idempotency_key)
    result = graph.send_message(channel.account_id, token, body)
    return result.message_id, result.recipient_id


def _record(message: Message, *, status: str, mid: str | None = None, recipient: str | None = None,
            reason: str | None = None, kind: str | None = None, error: GraphError | None = None) -> None:
    fields: dict = {"status": status, "status_reason": reason, "error_kind": kind}
    metrics.send(status, error.code if error is not None else None)
    if status == "sent":
        fields.update(sent_at=now_ms(), status_reason=None, error_kind=None, error_code=None, error_subcode=None)
        if message.send_kind == SendKind.COMMENT_REPLY:
            fields["comment_id"] = mid
        else:
            fields["mid"] = mid
        if recipient:
            fields["recipient_id"] = recipient
    if error is not None:
        fields.update(error_code=error.code, error_subcode=error.subcode)
    try:
        _write(message, fields)  # one statement in autocommit: nothing to roll back if it fails
    except peewee.IntegrityError:
        # Meta's echo of this very send (or, for a public reply, the feed webhook of our new
        # comment) arrived first and was stored on its own: fold it into our row.
        same = (Message.mid == mid) | (Message.comment_id == mid)
        with transaction():
            Message.delete().where(same & (Message.author == "page") & (Message.id != message.id)).execute()
            _write(message, fields)


def _write(message: Message, fields: dict) -> None:
    """Record the outcome. When the echo of this send got here first it already marked the row
    sent, and receipts may have moved it on (delivered, read): keep that status."""
    still_ours = {"status": ("sending", "pending")}
    if fields["status"] != "sent":  # never over an echo that marked the row sent meanwhile
        statements.update(Message, fields, {"id": message.id, **still_ours})
        return
    # Meta's ids are written either way (one statement: the echo now usually gets here first).
    ids_fields = ("mid", "comment_id", "recipient_id")
    ids = {k: v for k, v in fields.items() if k in ids_fields and v is not None}  # never erase the echo's
    rest = {k: v for k, v in fields.items() if k not in ids_fields}
    statements.update_guarded(Message, rest, ids, {"id": message.id}, still_ours)


def _release(message: Message, delay_ms: int) -> None:
    """Give the row back without counting an attempt (our own rate limit, not Meta's answer)."""
    Message.update(status="pending", attempts=Message.attempts - 1, next_attempt_at=now_ms() + delay_ms).where(
        Message.id == message.id).execute()


def _failed(message: Message, channel: Channel, exc: GraphError) -> Outcome:
    suspect = message.error_kind == AMBIGUOUS  # an earlier attempt of this row may have arrived
    if exc.kind == "already_replied" and suspect and message.send_kind == SendKind.PRIVATE_REPLY:
        return _sent(message, channel, None, None)  # Meta's one reply per comment is the earlier one
    health = HEALTH_BY_KIND.get(exc.kind)
    finding = (health, exc.describe()) if health else None
    if _retryable(message, exc) and message.attempts < MAX_ATTEMPTS:
        delay = _retry_delay(message, exc)
        metrics.send("retrying", exc.code)
        # "ambiguous" sticks until the row is settled: every later attempt must check first.
        kind = AMBIGUOUS if suspect or exc.kind == AMBIGUOUS else exc.kind
        # Only while still ours to settle: the echo of a send whose answer was lost may already
        # have marked the row sent.
        still_sending = Message.update(status="pending", next_attempt_at=now_ms() + delay,
                                       status_reason=exc.describe(), error_kind=kind, error_code=exc.code,
                                       error_subcode=exc.subcode).where(
            (Message.id == message.id) & (Message.status == "sending")).execute()
        return Outcome(retry_in=delay if still_sending else None, finding=finding, channel_id=channel.id)
    status = "failed"
    _record(message, status=status, reason=exc.describe(), kind=exc.kind, error=exc)
    log.info("message %s failed: %s", message.id, exc.describe())
    return Outcome(finding=finding, channel_id=channel.id)


def _retryable(message: Message, exc: GraphError) -> bool:
    """Meta's retryable errors, and an ambiguous send that can be settled (sendcheck): a private
    reply (a second one is refused by Meta), a DM or a public reply (looked for first)."""
    if exc.kind == AMBIGUOUS:
        return message.send_kind in (SendKind.PRIVATE_REPLY, *LOOK_BEFORE_RESENDING)
    return exc.retryable


def _retry_delay(message: Message, exc: GraphError) -> int:
    if exc.kind == AMBIGUOUS and message.send_kind in LOOK_BEFORE_RESENDING:
        return ECHO_WAIT_MS + random.randint(0, ECHO_WAIT_MS // 2)  # give the echo time to arrive
    return backoff_ms(message.attempts, exc.retry_after)


_last_call: dict[str, float] = {}  # page id -> when this process last called Meta for it


def _pace(page_id: str) -> int:
    """How long to hold back a send because Meta's usage headers say we are close to the limit:
    the gap between calls grows with the usage seen on the last answer."""
    gap_ms = usage_delay_ms(runtime.graph().last_usage)
    if not gap_ms:
        return 0
    elapsed_ms = (time.monotonic() - _last_call.get(page_id, 0.0)) * 1000
    return max(0, int(gap_ms - elapsed_ms))


def usage_delay_ms(usage_percent: float) -> int:
    """Slow down as Meta's usage headers approach their limit (meta-platform.md §8): nothing below
    75 %, then up to 2 s between sends at 100 %, so we never hit the wall of a rate-limit error."""
    if usage_percent < 75:
        return 0
    return int(min(usage_percent, 100) - 75) * 80


def backoff_ms(attempt: int, retry_after_s: float | None = None) -> int:
    """Exponential backoff with full jitter (0.5 s, 1 s, 2 s ... capped at 5 min), never less than
    Meta's own estimate of when access comes back."""
    ceiling = min(300_000, 500 * 2 ** max(0, attempt - 1))
    delay = random.randint(ceiling // 2, ceiling)
    if retry_after_s:
        delay = max(delay, int(retry_after_s * 1000))
    return delay
