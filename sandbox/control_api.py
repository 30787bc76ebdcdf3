"""The control API, world and faults: configure the sandbox, create pages, posts and people,
steer webhook delivery, break channels, and read what the app sent.

Tests, benchmarks and the dashboard's sandbox page drive the sandbox through these routes; the
customer's side of the world is in `customer_api`.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
from typing import Any

import msgspec
from litestar import Controller, get, post

from sandbox.control_schemas import (
    AccountRef,
    ConfigChange,
    CustomerSpec,
    FlushRequest,
    HoldRequest,
    InstagramLoginSpec,
    PageSpec,
    PostSpec,
    RedeliverRequest,
    ResetRequest,
    RevokeRequest,
)
from sandbox.instagram_host import add_account
from sandbox.records import (
    DEFAULT_SCOPES,
    FACEBOOK,
    INSTAGRAM,
    INSTAGRAM_FIELDS,
    PAGE_FIELDS,
    Account,
    Attempt,
    Customer,
    Post,
    Sent,
)
from sandbox.runtime import ControlError, Sandbox, bad_request, not_found
from sandbox.store import Store, now_ms
from sandbox.webhook_shapes import feed_post_item
from sandbox.webhooks import delivery_view

ERROR_KINDS = ("rate_limit", "server", "ambiguous")
DROP_KINDS = ("before", "after")  # connection closed before the call is handled / after it took effect


class ControlController(Controller):
    path = "/control"
    tags = ["sandbox control"]

    @get("/config")
    async def read_config(self, sandbox: Sandbox) -> dict[str, Any]:
        return dataclasses.asdict(sandbox.store.config)

    @post("/config", status_code=200)
    async def change_config(self, sandbox: Sandbox, data: ConfigChange) -> dict[str, Any]:
        changes = {
            name: value for name, value in msgspec.structs.asdict(data).items() if value is not msgspec.UNSET
        }
        _check_config(changes)
        return dataclasses.asdict(sandbox.store.set_config(changes))

    @post("/reset", status_code=200)
    async def reset(self, sandbox: Sandbox, data: ResetRequest | None = None) -> dict[str, Any]:
        sandbox.store.reset(keep_config=bool(data and data.keep_config))
        return {"reset": True}

    @post("/pages", status_code=200)
    async def create_page(self, sandbox: Sandbox, data: PageSpec) -> dict[str, Any]:
        return add_page(sandbox.store, data)

    @post("/instagram-accounts", status_code=200)
    async def create_instagram_account(self, sandbox: Sandbox, data: InstagramLoginSpec) -> dict[str, Any]:
        """An account for Instagram Login (no page): answers its id and Instagram User token."""
        return add_account(sandbox.store, name=data.name or data.username, username=data.username,
                           ig_id=data.ig_id, token=data.token, followers_count=data.followers_count,
                           subscribed=data.subscribed, scopes=data.scopes,
                           token_age_s=data.token_age_days * 86400)

    @post("/posts", status_code=200)
    async def create_post(self, sandbox: Sandbox, data: PostSpec) -> dict[str, Any]:
        created = add_post(sandbox.store, data)
        answer: dict[str, Any] = {"post_id": created.id, "permalink_url": created.permalink_url}
        account = sandbox.store.accounts[created.account_id]
        if data.webhook and account.platform != INSTAGRAM:
            answer["delivery"] = await sandbox.webhooks.emit(feed_post_item(account, created))
        return answer

    @post("/customers", status_code=200)
    async def create_customer(self, sandbox: Sandbox, data: CustomerSpec) -> dict[str, Any]:
        return {"user_id": add_customer(sandbox.store, data).id}

    @get("/state")
    async def state(self, sandbox: Sandbox) -> dict[str, Any]:
        return world_view(sandbox.store)

    @get("/deliveries")
    async def deliveries(self, sandbox: Sandbox, since: int = 0) -> dict[str, Any]:
        store = sandbox.store
        with store.lock:
            return {
                "hold": store.hold,
                "queued": len(store.queue),
                "deliveries": [delivery_view(d) for d in store.deliveries[since:]],
            }

    @post("/deliveries/hold", status_code=200)
    async def hold(self, sandbox: Sandbox, data: HoldRequest) -> dict[str, Any]:
        store = sandbox.store
        with store.lock:
            store.hold = data.hold
            return {"hold": store.hold, "queued": len(store.queue)}

    @post("/deliveries/flush", status_code=200)
    async def flush(self, sandbox: Sandbox, data: FlushRequest | None = None) -> dict[str, Any]:
        data = data or FlushRequest()
        sent = await sandbox.webhooks.flush(batch=data.batch, shuffle=data.shuffle, duplicate=data.duplicate)
        return {"deliveries": [delivery_view(d) for d in sent]}

    @post("/deliveries/redeliver", status_code=200)
    async def redeliver(self, sandbox: Sandbox, data: RedeliverRequest) -> dict[str, Any]:
        if not 0 <= data.index < len(sandbox.store.deliveries):
            raise not_found("delivery", data.index)
        return {"delivery": delivery_view(await sandbox.webhooks.redeliver(data.index))}

    @post("/tokens/revoke", status_code=200)
    async def revoke(self, sandbox: Sandbox, data: RevokeRequest) -> dict[str, Any]:
        return revoke_token(sandbox.store, data.token, data.subcode)

    @post("/subscriptions/unsubscribe", status_code=200)
    async def unsubscribe(self, sandbox: Sandbox, data: AccountRef) -> dict[str, Any]:
        store = sandbox.store
        with store.lock:
            account = _account(store, data.account_id)
            account.subscribed_fields = []
            return {"account_id": account.id, "subscribed_fields": []}

    @get("/sent")
    async def sent(
        self,
        sandbox: Sandbox,
        account_id: str | None = None,
        recipient_id: str | None = None,
        comment_id: str | None = None,
        kind: str | None = None,
    ) -> dict[str, Any]:
        wanted = {
            "account_id": account_id,
            "recipient_id": recipient_id,
            "comment_id": comment_id,
            "kind": kind,
        }
        with sandbox.store.lock:
            rows = [log_row(s) for s in sandbox.store.sent]
        return {"sent": [row for row in rows if _matches(row, wanted)]}

    @get("/attempts")
    async def attempts(self, sandbox: Sandbox, account_id: str | None = None) -> dict[str, Any]:
        with sandbox.store.lock:
            rows = [log_row(a) for a in sandbox.store.attempts]
        return {"attempts": [row for row in rows if _matches(row, {"account_id": account_id})]}


def log_row(record: Sent | Attempt) -> dict[str, Any]:
    """A log record as its JSON row. Shallow, unlike `dataclasses.asdict` (which deep-copies
    every body): benchmarks poll these logs as they grow, and records are never changed once
    appended, so sharing their dicts with the encoder is safe."""
    return {name: getattr(record, name) for name in _field_names(type(record))}


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(kind))


def _matches(row: dict[str, Any], wanted: dict[str, str | None]) -> bool:
    return all(value is None or row.get(key) == value for key, value in wanted.items())


def _check_config(changes: dict[str, Any]) -> None:
    rate = changes.get("error_rate")
    if rate is not None and not 0 <= rate <= 1:
        raise bad_request("error_rate must be between 0 and 1")
    drop = changes.get("drop_rate")
    if drop is not None and not 0 <= drop <= 1:
        raise bad_request("drop_rate must be between 0 and 1")
    if not set(changes.get("drop_kinds") or DROP_KINDS) <= set(DROP_KINDS) or changes.get("drop_kinds") == []:
        raise bad_request(f"drop_kinds must be a non-empty list among {list(DROP_KINDS)}")
    unknown = [kind for kind in changes.get("error_kinds") or [] if kind not in ERROR_KINDS]
    if unknown:
        raise bad_request(f"error_kinds must be among {list(ERROR_KINDS)}; got {unknown}")
    if (changes.get("latency_ms") or 0) < 0:
        raise bad_request("latency_ms must be >= 0")
    limit = changes.get("rate_limit_per_second")
    if limit is not None and limit < 1:
        raise bad_request("rate_limit_per_second must be >= 1 (null for no limit)")


def _account(store: Store, account_id: str) -> Account:
    account = store.accounts.get(account_id)
    if account is None:
        raise not_found("account", account_id)
    return account


def add_page(store: Store, spec: PageSpec) -> dict[str, Any]:
    """A page (and optionally its Instagram account) that the sandbox user manages.

    Asking again for an existing `page_id` answers that page as it is (an idempotent "ensure",
    for a demo that registers its page on every start)."""
    with store.lock:
        existing = store.accounts.get(spec.page_id or "")
        if existing is not None and existing.platform == FACEBOOK:
            return _page_answer(store, existing)
        page_id = spec.page_id or store.new_id("page")
        ig_id = spec.instagram and (spec.instagram.ig_id or store.new_id("instagram"))
        for taken in (page_id, ig_id):
            if taken and store.node(taken) is not None:
                raise ControlError(409, f"id {taken!r} is already in use")
        if spec.page_token and spec.page_token in store.tokens:
            raise ControlError(409, "page_token is already in use")
        page = Account(
            id=page_id,
            platform=FACEBOOK,
            name=spec.name,
            page_id=page_id,
            followers_count=spec.followers_count,
            subscribed_fields=list(PAGE_FIELDS) if spec.subscribed else [],
        )
        store.accounts[page_id] = page
        if spec.instagram and ig_id:
            page.linked_id = ig_id
            store.accounts[ig_id] = Account(
                id=ig_id,
                platform=INSTAGRAM,
                name=spec.instagram.name or spec.name,
                page_id=page_id,
                username=spec.instagram.username,
                followers_count=spec.instagram.followers_count,
                profile_picture_url=spec.instagram.profile_picture_url,
                linked_id=page_id,
                subscribed_fields=list(INSTAGRAM_FIELDS) if spec.subscribed else [],
            )
        scopes = spec.scopes if spec.scopes is not None else list(DEFAULT_SCOPES)
        store.issue_page_token(page_id, scopes, spec.page_token)
        return _page_answer(store, page)


def _page_answer(store: Store, page: Account) -> dict[str, Any]:
    return {
        "page_id": page.id,
        "page_token": store.page_tokens[page.id],
        "instagram_id": page.linked_id,
        "user_token": store.config.user_token,
    }


def add_post(store: Store, spec: PostSpec) -> Post:
    """A published page post (`<page-id>_<n>`) or an Instagram media."""
    with store.lock:
        account = _account(store, spec.account_id)
        created = spec.created_time if spec.created_time is not None else now_ms() // 1000
        if account.platform == INSTAGRAM:
            post_id = store.new_id("media")
            shortcode = base64.urlsafe_b64encode(post_id.encode()).decode().rstrip("=")[:11]
            permalink = f"https://www.instagram.com/p/{shortcode}/"
        else:
            suffix = store.new_id("post")
            post_id = f"{account.id}_{suffix}"
            permalink = f"https://www.facebook.com/{account.id}/posts/{suffix}"
        created_post = Post(
            id=post_id,
            account_id=account.id,
            message=spec.message,
            created_time=created,
            permalink_url=permalink,
            picture_url=spec.picture_url,
            media_product_type=spec.media_product_type,
        )
        store.posts[post_id] = created_post
        return created_post


def add_customer(store: Store, spec: CustomerSpec) -> Customer:
    """A person as one account sees them: a new PSID for a page, a new IGSID for Instagram."""
    with store.lock:
        account = _account(store, spec.account_id)
        first, _, last = spec.name.partition(" ")
        instagram = account.platform == INSTAGRAM
        customer = Customer(
            id=store.new_id("igsid" if instagram else "psid"),
            account_id=account.id,
            platform=account.platform,
            name=spec.name,
            first_name=spec.first_name if spec.first_name is not None else first,
            last_name=spec.last_name if spec.last_name is not None else last,
            username=spec.username or (spec.name.lower().replace(" ", "_") if instagram else None),
            profile_pic=spec.profile_pic,
            follower_count=spec.follower_count,
            is_verified_user=spec.is_verified_user,
        )
        store.customers[customer.id] = customer
        return customer


def revoke_token(store: Store, value: str, subcode: int) -> dict[str, Any]:
    """Invalidate a token (190 with `subcode` from now on). A revoked page token is replaced by
    a fresh one, served by `/me/accounts`, as reconnecting the page would give."""
    with store.lock:
        token = store.tokens.get(value)
        if token is None:
            raise not_found("token", value)
        token.revoked_subcode = subcode
        replacement = None
        if token.kind == "page" and token.page_id and store.page_tokens.get(token.page_id) == value:
            replacement = store.issue_page_token(token.page_id, token.scopes)
        return {"revoked": value, "replacement": replacement}


def world_view(store: Store) -> dict[str, Any]:
    """Everything the sandbox world holds, for the dashboard's sandbox page."""
    with store.lock:
        accounts = []
        for account in store.accounts.values():
            row = dataclasses.asdict(account)
            row["page_token"] = store.page_tokens.get(account.page_id)
            accounts.append(row)
        return {
            "config": dataclasses.asdict(store.config),
            "accounts": accounts,
            "customers": [dataclasses.asdict(c) for c in store.customers.values()],
            "posts": [dataclasses.asdict(p) for p in store.posts.values()],
            "comments": [dataclasses.asdict(c) for c in store.comments.values()],
            "conversations": [dataclasses.asdict(c) for c in store.conversations.values()],
            "hold": store.hold,
            "queued": len(store.queue),
        }
