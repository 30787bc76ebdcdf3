"""Outgoing webhooks: integrations subscribe a URL to our events and receive signed JSON POSTs.

The database is the record, as for everything else we send: `emit` writes one delivery row per
subscribed endpoint inside the caller's transaction and returns their ids; the caller enqueues
`deliver_outhook` for each once committed (a lost queue message is found again by
`due_deliveries`). Each delivery body is built once and stored, so every attempt sends, and
signs, the same bytes. A receiver that answers anything but 2xx, or not at all, is tried again
with growing delays; the row keeps attempts, the last status code and error: the delivery log
admins see.

Signature: `X-Socialdesk-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the
endpoint's secret, the same scheme Meta uses for its webhooks to us (meta-platform.md §1), so a
receiver verifies it the same way (constant-time compare over the exact bytes received).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx
import msgspec

from bot.core.errors import Invalid, NotFound
from bot.outbound import netguard
from bot.platform import cache, runtime
from bot.platform.db import insert_new, now_ms, transaction
from bot.platform.models import CampaignRun, Conversation, HookDelivery, HookEndpoint, Message, Note

log = logging.getLogger(__name__)

CONVERSATION_CREATED = "conversation.created"
MESSAGE_RECEIVED = "message.received"
MESSAGE_SENT = "message.sent"
MESSAGE_FAILED = "message.failed"
CAMPAIGN_FIRED = "campaign.fired"
NOTE_CREATED = "note.created"  # a private note by staff (never sent to the customer)
CONTACT_MERGED = "contact.merged"  # staff merged two contacts of one person (bot/helpdesk/merge.py)
# Helpdesk state changes (issue 21): payloads documented in README ("Outgoing webhook events").
CONVERSATION_SNOOZED = "conversation.snoozed"
CONVERSATION_UNSNOOZED = "conversation.unsnoozed"
CONVERSATION_TEAM_CHANGED = "conversation.team_changed"
CONTACT_ATTRIBUTES_CHANGED = "contact.attributes_changed"
HELPDESK_EVENTS = (CONVERSATION_SNOOZED, CONVERSATION_UNSNOOZED, CONVERSATION_TEAM_CHANGED, CONTACT_ATTRIBUTES_CHANGED)
EVENTS = (CONVERSATION_CREATED, MESSAGE_RECEIVED, MESSAGE_SENT, MESSAGE_FAILED, CAMPAIGN_FIRED, NOTE_CREATED,
          CONTACT_MERGED, *HELPDESK_EVENTS)

SIGNATURE_HEADER = "X-Socialdesk-Signature-256"
EVENT_HEADER = "X-Socialdesk-Event"
DELIVERY_HEADER = "X-Socialdesk-Delivery"
TIMEOUT_S = 10.0
# Delay before attempt 2, 3, ...; after the last one the delivery is marked failed (about 9 hours in all).
RETRY_DELAYS_MS: tuple[int, ...] = (10_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000)
EARLY_TOLERANCE_MS = 2_000  # a queue message may arrive a little before the row's due time
STUCK_MS = 120_000  # a delivery left in `sending` this long belonged to a dead worker
MAX_URL_CHARS = 2000
MAX_DESCRIPTION_CHARS = 200


class EndpointView(msgspec.Struct):
    """An endpoint as admins see it, secret included (they give it to the receiver)."""

    id: int
    url: str
    events: list[str]
    secret: str
    description: str
    is_active: bool
    created_at: int
    updated_at: int


class DeliveryView(msgspec.Struct):
    """One line of the delivery log."""

    id: int
    endpoint_id: int
    event: str
    event_id: str
    status: str
    attempts: int
    next_attempt_at: int | None
    last_attempt_at: int | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: int | None
    created_at: int
    body: str


# --- endpoints (admin) -------------------------------------------------------------------------------


def register(url: str, events: list[str], *, description: str = "",
             user_id: int | None = None) -> EndpointView:
    """Subscribe `url` to `events` with a new signing secret."""
    _check(url, events, description)
    now = now_ms()
    row = HookEndpoint.create(url=url.strip(), events=list(dict.fromkeys(events)),
                              description=description.strip(), created_by=user_id,
                              secret_encrypted=runtime.vault().encrypt(_new_secret()),
                              created_at=now, updated_at=now)
    return _endpoint_view(row)


def update(endpoint_id: int, *, url: str | None = None, events: list[str] | None = None,
           description: str | None = None, is_active: bool | None = None) -> EndpointView:
    """Change what is given (None leaves a field as it is)."""
    row = _endpoint(endpoint_id)
    url = row.url if url is None else url
    events = row.events if events is None else events
    description = row.description if description is None else description
    _check(url, events, description)
    active = row.is_active if is_active is None else is_active
    HookEndpoint.update(url=url.strip(), events=list(dict.fromkeys(events)), description=description.strip(),
                        is_active=active, updated_at=now_ms()).where(HookEndpoint.id == endpoint_id).execute()
    return endpoint(endpoint_id)


def rotate_secret(endpoint_id: int) -> EndpointView:
    """A new secret; deliveries not yet sent will be signed with it."""
    _endpoint(endpoint_id)
    HookEndpoint.update(secret_encrypted=runtime.vault().encrypt(_new_secret()), updated_at=now_ms()).where(
        HookEndpoint.id == endpoint_id).execute()
    return endpoint(endpoint_id)


def remove(endpoint_id: int) -> None:
    """Delete the endpoint and its delivery log."""
    _endpoint(endpoint_id)
    with transaction():
        HookDelivery.delete().where(HookDelivery.endpoint == endpoint_id).execute()
        HookEndpoint.delete().where(HookEndpoint.id == endpoint_id).execute()


def endpoint(endpoint_id: int) -> EndpointView:
    return _endpoint_view(_endpoint(endpoint_id))


def endpoints() -> list[EndpointView]:
    return [_endpoint_view(row) for row in HookEndpoint.select().order_by(HookEndpoint.id)]


def delivery_log(endpoint_id: int, *, status: str | None = None, limit: int = 50) -> list[DeliveryView]:
    """The endpoint's deliveries, newest first."""
    _endpoint(endpoint_id)
    query = HookDelivery.select().where(HookDelivery.endpoint == endpoint_id)
    if status:
        query = query.where(HookDelivery.status == status)
    return [_delivery_view(row) for row in query.order_by(HookDelivery.id.desc()).limit(limit)]


def _check(url: str, events: list[str], description: str) -> None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL_CHARS:
        raise Invalid("url", f"must be an http:// or https:// URL of at most {MAX_URL_CHARS} characters")
    _check_target(parts)
    if not events:
        raise Invalid("events", f"subscribe to at least one of {', '.join(EVENTS)}")
    for index, name in enumerate(events):
        if name not in EVENTS:
            raise Invalid(f"events[{index}]", f"must be one of {', '.join(EVENTS)}")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise Invalid("description", f"at most {MAX_DESCRIPTION_CHARS} characters")


def _check_target(parts: SplitResult) -> None:
    """Refuse a receiver on a loopback/private/link-local/... address (netguard); a name that
    does not resolve yet is let through and checked again at every delivery."""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid("url", "has an invalid port") from None
    try:
        netguard.check_host(parts.hostname or "", port, allow_private=_allow_private(), must_resolve=False)
    except netguard.BlockedTarget as exc:
        raise Invalid("url", f"must reach a public internet address: {exc} (an on-premise receiver needs "
                             "SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE=1)") from None


def _allow_private() -> bool:
    return runtime.settings().outhooks_allow_private


def _endpoint(endpoint_id: int) -> HookEndpoint:
    row = HookEndpoint.get_or_none(HookEndpoint.id == endpoint_id)
    if row is None:
        raise NotFound("webhook endpoint", endpoint_id)
    return row


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _endpoint_view(row: HookEndpoint) -> EndpointView:
    return EndpointView(id=row.id, url=row.url, events=list(row.events), secret=secret_of(row),
                        description=row.description, is_active=row.is_active, created_at=row.created_at,
                        updated_at=row.updated_at)


def _delivery_view(row: HookDelivery) -> DeliveryView:
    pending = row.status in ("pending", "sending")
    return DeliveryView(id=row.id, endpoint_id=row.endpoint_id, event=row.event, event_id=row.event_id,
                        status=row.status, attempts=row.attempts,
                        next_attempt_at=row.next_attempt_at if pending else None,
                        last_attempt_at=row.last_attempt_at, last_status_code=row.last_status_code,
                        last_error=row.last_error, delivered_at=row.delivered_at, created_at=row.created_at,
                        body=row.body)


def secret_of(row: HookEndpoint) -> str:
    return runtime.vault().decrypt(row.secret_encrypted)


# --- emitting ------------------------------------------------------------------------------------------


def emit(event: str, payload: dict[str, Any], *, subject: str | None = None) -> list[int]:
    """Record `event` for every active endpoint subscribed to it; returns the new delivery ids
    to enqueue after the caller's transaction commits. With `subject` (e.g. a message id) the
    same event about the same subject is recorded once per endpoint, however often it is emitted."""
    return _emit(event, lambda: payload, subject=subject)


def _active_endpoints() -> list[HookEndpoint]:
    """Read on every customer message and every send (most installs have none): from the
    process's copy when the job read the configuration version (`bot.platform.cache`)."""
    return cache.cached("hook_endpoints", None, lambda: list(HookEndpoint.select().where(HookEndpoint.is_active)))


def _emit(event: str, payload: Callable[[], dict[str, Any]], *, subject: str | None = None,
          endpoints: list[HookEndpoint] | None = None) -> list[int]:
    """`emit`, building the payload only when some endpoint wants the event: every customer
    message and every send passes here, and most installations register no endpoint, so the
    common case costs one small query instead of loading the message, conversation and channel."""
    if event not in EVENTS:
        raise ValueError(f"unknown outgoing webhook event {event!r}")
    candidates = _active_endpoints() if endpoints is None else endpoints
    subscribed = [e for e in candidates if event in (e.events or [])]
    if not subscribed:
        return []
    now = now_ms()
    event_id = "evt_" + uuid.uuid4().hex
    body = msgspec.json.encode({"id": event_id, "event": event, "created_at": now, "data": payload()}).decode()
    ids = []
    for endpoint_row in subscribed:
        key = f"{event}:{subject}:{endpoint_row.id}" if subject is not None else None
        row_id = insert_new(HookDelivery.insert(endpoint=endpoint_row.id, event=event, event_id=event_id,
                                                dedupe_key=key, body=body, next_attempt_at=now,
                                                created_at=now))
        if row_id is not None:
            ids.append(row_id)
    return ids


def message_received(message: Message) -> list[int]:
    """A new customer message (or comment): `message.received`, preceded by
    `conversation.created` when it is the first customer message of its conversation."""
    ids: list[int] = []
    endpoints = _active_endpoints()
    if message.conversation_id is None or not endpoints:
        return ids
    earlier = Message.select().where((Message.conversation == message.conversation_id)
                                     & (Message.direction == "in") & (Message.id < message.id)).exists()
    if not earlier:
        ids += _emit(CONVERSATION_CREATED, lambda: conversation_data(message.conversation),
                     subject=str(message.conversation_id), endpoints=endpoints)
    ids += _emit(MESSAGE_RECEIVED, lambda: message_data(message), subject=str(message.id), endpoints=endpoints)
    return ids


def message_outcome(message_id: int) -> list[int]:
    """After a send attempt: `message.sent` once Meta accepted it, `message.failed` once it failed
    for good or was refused by the send policy; nothing while it is still pending or held."""
    endpoints = _active_endpoints()
    if not endpoints:
        return []
    message = Message.get_or_none(Message.id == message_id)
    if message is None or message.direction != "out":
        return []
    if message.sent_at is not None and message.status in ("sent", "delivered", "read"):
        return _emit(MESSAGE_SENT, lambda: message_data(message), subject=str(message.id), endpoints=endpoints)
    if message.status in ("failed", "refused"):
        return _emit(MESSAGE_FAILED, lambda: message_data(message), subject=str(message.id), endpoints=endpoints)
    return []


def campaigns_fired(comment_id: str) -> list[int]:
    """`campaign.fired` for each campaign that matched this comment (once per run)."""
    ids: list[int] = []
    endpoints = _active_endpoints()
    if not any(CAMPAIGN_FIRED in (e.events or []) for e in endpoints):
        return ids
    for run in CampaignRun.select().where((CampaignRun.comment_id == comment_id) & CampaignRun.matched):
        ids += _emit(CAMPAIGN_FIRED, lambda run=run: campaign_run_data(run), subject=str(run.id),
                     endpoints=endpoints)
    return ids


def note_created(note: Note) -> list[int]:
    """`note.created` once per note: a staff member's private note on a conversation."""
    return _emit(NOTE_CREATED, lambda: note_data(note), subject=str(note.id))


def contact_merged(merge: dict[str, Any]) -> list[int]:
    """`contact.merged` once per merge: `merged_id` now lives on as `survivor_id` (integrators
    keyed on the merged contact re-point their records)."""
    return _emit(CONTACT_MERGED, lambda: merge, subject=str(merge["id"]))


def conversation_changed(event: str, conversation_id: int, change: dict[str, Any]) -> list[int]:
    """A helpdesk change of one conversation (snoozed, woken, given to a team): the conversation
    as `conversation_data` draws it, plus `change` (what happened, by whom). Not deduplicated:
    each change is its own fact (the callers act once per change)."""
    return _emit(event, lambda: {"conversation": conversation_data(Conversation.get_by_id(conversation_id)),
                                 **change})


def attributes_changed(contact_id: int, before: dict[str, str], after: dict[str, str],
                       user_id: int | None) -> list[int]:
    """`contact.attributes_changed` when staff changed a contact's custom attributes: the values
    now, and per changed key its value before and after (null: not set)."""
    changed = {k: {"before": before.get(k), "after": after.get(k)} for k in sorted(set(before) | set(after))
               if before.get(k) != after.get(k)}
    if not changed:
        return []
    return _emit(CONTACT_ATTRIBUTES_CHANGED, lambda: {"contact_id": contact_id, "attributes": after,
                                                      "changed": changed, "by_user_id": user_id})


def note_data(note: Note) -> dict[str, Any]:
    return {"id": note.id, "conversation_id": note.conversation_id, "author_id": note.author_id,
            "text": note.text, "mentions": list(note.mentions or []), "created_at": note.created_at}


def message_data(message: Message) -> dict[str, Any]:
    conversation = message.conversation if message.conversation_id else None
    return {
        "id": message.id, "conversation_id": message.conversation_id, "channel_id": message.channel_id,
        "platform": message.channel.platform, "contact_id": conversation.contact_id if conversation else None,
        "direction": message.direction, "author": message.author, "kind": message.kind, "text": message.text,
        "attachments": list(message.attachments or []), "buttons": list(message.buttons or []),
        "status": message.status, "reason": message.status_reason, "error_code": message.error_code,
        "send_kind": message.send_kind, "mid": message.mid, "comment_id": message.comment_id,
        "occurred_at": message.occurred_at, "sent_at": message.sent_at,
    }


def conversation_data(conversation: Conversation) -> dict[str, Any]:
    return {"id": conversation.id, "kind": conversation.kind, "channel_id": conversation.channel_id,
            "platform": conversation.channel.platform, "contact_id": conversation.contact_id,
            "post_id": conversation.post_id, "status": conversation.status,
            "created_at": conversation.created_at}


def campaign_run_data(run: CampaignRun) -> dict[str, Any]:
    return {"campaign_id": run.campaign_id, "campaign": run.campaign.name,
            "channel_id": run.campaign.channel_id, "run_id": run.id, "comment_id": run.comment_id,
            "post_id": run.post_id, "source": run.source, "fired_at": run.created_at}


# --- delivering ----------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute over the exact bytes received, compare in constant time."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header or "")


def attempt(delivery_id: int) -> int | None:
    """POST one due delivery; returns the delay (ms) before the next attempt, or None when done
    (delivered, failed for good, not due yet, or already taken by another worker)."""
    row = _claim(delivery_id)
    if row is None:
        return None
    endpoint_row: HookEndpoint = row.endpoint
    body = row.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "socialdesk-webhooks/1",
               EVENT_HEADER: row.event, DELIVERY_HEADER: str(row.id),
               SIGNATURE_HEADER: sign(secret_of(endpoint_row), body)}
    started = time.monotonic()
    try:
        status_code = _post(endpoint_row.url, body, headers)
    except netguard.BlockedTarget as exc:
        return _record_failure(row, None, f"refused: {exc}"[:500])
    except httpx.HTTPError as exc:
        return _record_failure(row, None, f"{type(exc).__name__}: {exc}"[:500])
    took = f"answered in {int((time.monotonic() - started) * 1000)} ms"
    if 200 <= status_code < 300:
        HookDelivery.update(status="delivered", delivered_at=now_ms(), last_status_code=status_code,
                            last_error=None).where(HookDelivery.id == row.id).execute()
        return None
    # The receiver's answer is not kept: status and timing only (an internal service's reply
    # must never come back to the admin who pointed a webhook at it).
    return _record_failure(row, status_code, f"HTTP {status_code}, {took}")


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to the receiver at an address checked now (resolved once, every address checked,
    the connection pinned to it); returns the status code, never reading more than a little of
    the answer."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = netguard.check_host(parts.hostname or "", port, allow_private=_allow_private())
    with netguard.pinned_client(addresses[0], TIMEOUT_S) as client:
        with client.stream("POST", url, content=body, headers=headers) as response:
            return response.status_code


def _claim(delivery_id: int) -> HookDelivery | None:
    """Take a due pending delivery (or one stuck in `sending` after a crash); one winner."""
    now = now_ms()
    due = (HookDelivery.status == "pending") & (HookDelivery.next_attempt_at <= now + EARLY_TOLERANCE_MS)
    stuck = (HookDelivery.status == "sending") & (HookDelivery.send_started_at < now - STUCK_MS)
    claimable = due | stuck
    with transaction():
        claimed = HookDelivery.update(status="sending", send_started_at=now, last_attempt_at=now,
                                      attempts=HookDelivery.attempts + 1).where(
            (HookDelivery.id == delivery_id) & claimable).execute()
    if not claimed:
        return None
    row = HookDelivery.get_by_id(delivery_id)
    if not row.endpoint.is_active:  # disabled after the event: keep the record, send nothing
        HookDelivery.update(status="failed", last_error="endpoint disabled").where(
            HookDelivery.id == delivery_id).execute()
        return None
    return row


def _record_failure(row: HookDelivery, status_code: int | None, error: str) -> int | None:
    if row.attempts > len(RETRY_DELAYS_MS):
        HookDelivery.update(status="failed", last_status_code=status_code, last_error=error).where(
            HookDelivery.id == row.id).execute()
        log.info("webhook delivery %s to endpoint %s failed for good: %s", row.id, row.endpoint_id, error)
        return None
    delay = retry_delay_ms(row.attempts)
    HookDelivery.update(status="pending", next_attempt_at=now_ms() + delay, last_status_code=status_code,
                        last_error=error).where(HookDelivery.id == row.id).execute()
    return delay


def retry_delay_ms(attempts: int) -> int:
    """Delay after the `attempts`-th failed attempt, with up to 10 % jitter so that a receiver
    coming back is not hit by every retry at the same instant."""
    base = RETRY_DELAYS_MS[min(attempts, len(RETRY_DELAYS_MS)) - 1]
    return base + random.randint(0, base // 10)


def due_deliveries(grace_ms: int, limit: int = 500) -> list[int]:
    """Deliveries whose queue message must have been lost (for the clock's sweep)."""
    cutoff = now_ms() - grace_ms
    stuck = now_ms() - STUCK_MS
    return [d.id for d in HookDelivery.select(HookDelivery.id).where(
        ((HookDelivery.status == "pending") & (HookDelivery.next_attempt_at < cutoff))
        | ((HookDelivery.status == "sending") & (HookDelivery.send_started_at < stuck))).limit(limit)]
