"""From a raw webhook delivery to stored, ordered, idempotent events.

`store_delivery` runs in the API before it answers 200: the raw bytes are committed, so once
Meta has its 200 nothing can be lost. `expand_delivery` runs in a worker: it parses the body
once, writes one `InboundEvent` per event (unique by event key, so redeliveries add nothing)
and returns the conversation keys to drain. Parts we do not handle are recorded with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot import events as ev
from bot.channels import channel_for
from bot.db import insert_new, now_ms, transaction
from bot.meta.parse import MalformedBody, parse_delivery
from bot.models import Channel, Delivery, IgnoredItem, InboundEvent

log = logging.getLogger(__name__)

_INBOX_ONLY = (ev.MessageReceived, ev.MessageEcho, ev.MessageDeleted, ev.MessageEdited, ev.ReactionChanged,
               ev.Referred, ev.Postback)


def store_delivery(body: bytes) -> int:
    """Commit the raw delivery and return its id (called before answering Meta)."""
    with transaction():
        return Delivery.insert(received_at=now_ms(), body=body, status="received").execute()


def expand_delivery(delivery_id: int, *, source: str = "webhook") -> list[str]:
    """Parse a stored delivery into pending events; returns the conversation keys that have
    new pending events. Idempotent: a delivery already expanded returns []."""
    with transaction():
        delivery = Delivery.get_or_none(Delivery.id == delivery_id)
        if delivery is None or delivery.status != "received":
            return []
        try:
            parsed = parse_delivery(bytes(delivery.body))
        except MalformedBody as exc:  # stored by an older version or replayed by hand
            _finish(delivery, "failed", 0, 0, str(exc))
            return []
        ignored = list(parsed.ignored)
        accepted: list[ev.Event] = []
        for event in parsed.events:
            reason = _refusal(event)
            if reason:
                ignored.append(ev.Ignored(reason=reason, object=parsed.object, account_id=event.account_id))
            else:
                accepted.append(event)
        keys = store_events(accepted, delivery_id=delivery.id, source=source)
        _record_ignored(delivery.id, ignored)
        _touch_channels(accepted, delivery.received_at)
        _finish(delivery, "processed", len(accepted), len(ignored), None)
        return keys


def store_events(events: Iterable[ev.Event], *, delivery_id: int | None, source: str) -> list[str]:
    """Insert events as pending (ignoring ones already stored); return keys with new rows.
    Backfill uses this too, so whichever copy arrives first wins and the other adds nothing."""
    now = now_ms()
    keys: list[str] = []
    for seq, event in enumerate(events):
        inserted = insert_new(InboundEvent.insert(
            event_key=event.event_key, conversation_key=event.conversation_key, delivery=delivery_id, seq=seq,
            kind=type(event).__name__, occurred_at=event.timestamp, payload=ev.encode(event), status="pending",
            source=source, created_at=now,
        ))
        if inserted and event.conversation_key not in keys:
            keys.append(event.conversation_key)
    return keys


def _refusal(event: ev.Event) -> str | None:
    """Why an event is not for us (unknown page, channel switched off), or None."""
    channel = channel_for(event.platform, event.account_id)
    if channel is None:
        return f"no connected {event.platform} channel for account {event.account_id}"
    if isinstance(event, _INBOX_ONLY) and not channel.receive_messages:
        return "the channel's 'receive messages' setting is off"
    return None


def _record_ignored(delivery_id: int, ignored: list[ev.Ignored]) -> None:
    if ignored:
        IgnoredItem.insert_many([
            {"delivery": delivery_id, "reason": item.reason, "object": item.object, "field": item.field,
             "account_id": item.account_id} for item in ignored
        ]).execute()


def _touch_channels(accepted: list[ev.Event], received_at: int) -> None:
    """Remember when each channel last heard from Meta (channel health)."""
    for platform, account_id in {(e.platform, e.account_id) for e in accepted}:
        (Channel.update(last_webhook_at=received_at)
         .where((Channel.platform == platform) & (Channel.account_id == account_id)).execute())


def _finish(delivery: Delivery, status: str, events: int, ignored: int, reason: str | None) -> None:
    (Delivery.update(status=status, events=events, ignored=ignored, reason=reason, processed_at=now_ms())
     .where(Delivery.id == delivery.id).execute())


def is_unprocessed(delivery_id: int) -> bool:
    return Delivery.select().where((Delivery.id == delivery_id) & (Delivery.status == "received")).exists()


def unprocessed_deliveries(older_than_ms: int, limit: int = 500) -> list[int]:
    """Deliveries committed but not expanded (their queue message was lost): for the clock."""
    cutoff = now_ms() - older_than_ms
    return [d.id for d in Delivery.select(Delivery.id)
            .where((Delivery.status == "received") & (Delivery.received_at <= cutoff))
            .order_by(Delivery.id).limit(limit)]
