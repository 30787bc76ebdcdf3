"""Delivering webhooks like Meta: signed, gated by subscriptions, held, batched, replayed.

Every POST is logged (`Store.deliveries`) with its exact body text and signature so a test can
replay it byte for byte. Delivery uses `post_client.PostClient` (asyncio, kept-alive connections):
the sandbox often runs inside the same event loop as the socialdesk API it posts to, so nothing
here may block the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.post_client import PostClient, PostFailed
from sandbox.records import Delivery, QueuedItem
from sandbox.store import Store, now_ms
from sandbox.webhook_shapes import encode, envelope, sign, sign_sha1

MAX_ITEMS_PER_POST = 1000


class Webhooks:
    """The sandbox's side of Meta's webhook delivery."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._http: PostClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> PostClient:
        """One client per event loop: the sandbox may be driven from several loops in tests
        (a client bound to a finished loop cannot be reused, so it is replaced)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._http = PostClient()  # reads no proxy settings from the environment
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        if self._http is not None and self._loop is asyncio.get_running_loop():
            await self._http.aclose()
        self._http = None

    def blocked(self, item: QueuedItem) -> str | None:
        """Why Meta would not deliver this item now: the account is unsubscribed (e.g. after an
        hour of failures) or did not subscribe to the item's field."""
        account = self.store.accounts.get(item.account_id)
        if account is None:
            return "unknown account"
        if not account.subscribed_fields:
            return "unsubscribed"
        if item.field not in account.subscribed_fields:
            return f"not subscribed to {item.field}"
        return None

    async def emit(self, item: QueuedItem, generation: int | None = None) -> dict[str, Any]:
        """Deliver one item in its own POST (or queue it while held); the report says what
        happened: {"status": HTTP status or None, "held": bool, ...}. An item caused before
        the last reset (`generation` is older) is dropped: a reset world sends nothing old."""
        with self.store.lock:
            stale = generation is not None and generation != self.store.generation
            reason = "reset since" if stale else self.blocked(item)
            if reason is not None:
                return {"status": None, "held": False, "skipped": reason}
            if self.store.hold:
                self.store.queue.append(item)
                return {"status": None, "held": True}
            body = encode(envelope(item.object, [item]))
        delivery = await self._post(item.object, body, items=1)
        return report(delivery)

    async def emit_all(self, items: list[QueuedItem], generation: int | None = None) -> list[dict[str, Any]]:
        """Deliver items one after another (an echo, then its delivery and read receipts)."""
        return [await self.emit(item, generation) for item in items]

    async def flush(self, *, batch: bool, shuffle: bool, duplicate: bool) -> list[Delivery]:
        """Send what was queued while held.

        batch: everything in as few POSTs as Meta would use (one per object, up to 1000
        items, entries grouped per account); shuffle: out of order (seeded); duplicate: every
        POST twice with the same bytes.
        """
        with self.store.lock:
            items, self.store.queue = self.store.queue, []
            if shuffle:
                self.store.rng.shuffle(items)
            bodies = [(obj, encode(envelope(obj, group)), len(group)) for obj, group in _posts(items, batch)]
        deliveries = []
        for obj, body, count in bodies:
            for _ in range(2 if duplicate else 1):
                deliveries.append(await self._post(obj, body, items=count))
        return deliveries

    async def redeliver(self, index: int) -> Delivery:
        """Send a past delivery again: same bytes, same signature (as Meta's retries do)."""
        with self.store.lock:
            original = self.store.deliveries[index]
        return await self._post(
            original.object,
            original.body.encode("ascii"),
            items=original.items,
            signature=original.signature,
            redelivery_of=index,
        )

    async def _post(
        self,
        object_name: str,
        body: bytes,
        *,
        items: int,
        signature: str | None = None,
        redelivery_of: int | None = None,
    ) -> Delivery:
        with self.store.lock:
            config = self.store.config
            signature = signature or sign(config.app_secret, body)
            delivery = Delivery(
                index=len(self.store.deliveries),
                object=object_name,
                url=config.webhook_url,
                body=body.decode("ascii"),
                signature=signature,
                items=items,
                sent_ms=now_ms(),
                redelivery_of=redelivery_of,
            )
            self.store.deliveries.append(delivery)
            timeout = config.delivery_timeout_s
            sha1 = sign_sha1(config.app_secret, body)
        if delivery.url is None:
            delivery.error = "no webhook_url configured"
            return delivery
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature,
            "X-Hub-Signature": sha1,
            "User-Agent": "facebookexternalua",
        }
        try:
            status = await self._client().post(delivery.url, body, headers, timeout)
        except PostFailed as exc:
            with self.store.lock:
                delivery.error = str(exc)
            return delivery
        with self.store.lock:
            delivery.status = status
        return delivery


def _posts(items: list[QueuedItem], batch: bool) -> list[tuple[str, list[QueuedItem]]]:
    """Split queued items into POST bodies: one per item, or batched per object."""
    if not batch:
        return [(item.object, [item]) for item in items]
    by_object: dict[str, list[QueuedItem]] = {}
    for item in items:
        by_object.setdefault(item.object, []).append(item)
    posts = []
    for obj, group in by_object.items():
        for start in range(0, len(group), MAX_ITEMS_PER_POST):
            posts.append((obj, group[start : start + MAX_ITEMS_PER_POST]))
    return posts


def report(delivery: Delivery) -> dict[str, Any]:
    """The short answer a control call gives about the webhook it caused."""
    answer: dict[str, Any] = {"status": delivery.status, "held": False, "index": delivery.index}
    if delivery.error:
        answer["error"] = delivery.error
    return answer


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {
        "index": delivery.index,
        "object": delivery.object,
        "url": delivery.url,
        "body": delivery.body,
        "signature": delivery.signature,
        "items": delivery.items,
        "sent_ms": delivery.sent_ms,
        "status": delivery.status,
        "error": delivery.error,
        "redelivery_of": delivery.redelivery_of,
    }
