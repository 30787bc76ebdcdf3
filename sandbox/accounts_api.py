"""Connecting channels: `/me`, `/me/accounts`, `/debug_token` and `/{id}/subscribed_apps`.

`subscribed_apps` is the channel health check (§10): after Meta unsubscribes an account (an
hour of failed deliveries, played with `/control/subscriptions/unsubscribe`) its GET answers
empty data until the app subscribes again.
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules
from sandbox.graph_call import GraphCall
from sandbox.graph_views import page_view, select
from sandbox.records import (
    FACEBOOK,
    INSTAGRAM,
    INSTAGRAM_FIELDS,
    INSTAGRAM_FIELDS_ACCEPTED,
    PAGE_FIELDS_ACCEPTED,
)

# Facebook Login needs pages_manage_metadata; for Instagram Login we assume instagram_business_basic
# (Meta's Instagram Login webhook page names no permission for the edge itself: unconfirmed).
SUBSCRIBE_SCOPES = ("pages_manage_metadata", "instagram_business_basic")
ACCOUNT_DEFAULTS = ("access_token", "category", "category_list", "name", "id", "tasks")


def me(call: GraphCall) -> dict[str, Any]:
    """`GET /me`: the user for a user token, the page for a page token."""
    token = call.token
    assert token is not None
    if token.kind == "user":
        config = call.store.config
        full = {"id": config.user_id, "name": config.user_name}
        return select(full, call.param("fields"), "User", ("name", "id"))
    page = call.store.accounts[str(token.page_id)]
    return select(page_view(call.store, page), call.param("fields"), "Page", ("name", "id"))


def my_accounts(call: GraphCall) -> dict[str, Any]:
    """`GET /me/accounts`: every page the user manages, each with its current page token."""
    store = call.store
    pages = [account for account in store.accounts.values() if account.platform == FACEBOOK]
    items = [select(page_view(store, page), call.param("fields"), "Page", ACCOUNT_DEFAULTS) for page in pages]
    return call.page_of(items)


def debug_token(call: GraphCall) -> dict[str, Any]:
    """`GET /debug_token?input_token=...`: validity, expiry (0 = never) and scopes."""
    store = call.store
    value = call.param("input_token")
    if not value:
        raise graph_rules.invalid_param("The parameter input_token is required")
    token = store.tokens.get(str(value))
    config = store.config
    if token is None or token.revoked_subcode is not None:
        subcode = token.revoked_subcode if token else None
        error = {"code": 190, "message": graph_rules.invalid_token().message}
        if subcode is not None:
            error = {
                "code": 190,
                "subcode": subcode,
                "message": graph_rules.revoked_token(subcode, "").message,
            }
        return {"data": {"error": error, "is_valid": False, "scopes": []}}
    data: dict[str, Any] = {
        "app_id": config.app_id,
        "type": "PAGE" if token.kind == "page" else "USER",
        "application": config.app_name,
        "data_access_expires_at": token.issued_at + 90 * 24 * 3600,
        "expires_at": 0,
        "is_valid": True,
        "issued_at": token.issued_at,
        "scopes": list(token.scopes),
        "granular_scopes": [{"scope": scope} for scope in token.scopes],
        "user_id": config.user_id,
    }
    if token.kind == "page":
        data["profile_id"] = token.page_id
    return {"data": data}


def read_subscription(call: GraphCall) -> dict[str, Any]:
    account = call.account
    assert account is not None
    if not account.subscribed_fields:
        return {"data": []}
    config = call.store.config
    app = {
        "category": "Business",
        "link": "https://sandbox.socialdesk.invalid/",
        "name": config.app_name,
        "id": config.app_id,
        "subscribed_fields": list(account.subscribed_fields),
    }
    return {"data": [app]}


def subscribe(call: GraphCall) -> dict[str, Any]:
    """`POST /{id}/subscribed_apps?subscribed_fields=a,b`: replaces the account's field list.

    Subscribing a page also re-subscribes its linked Instagram account when Meta had dropped it
    (with Facebook Login the Instagram fields are set on the app; unconfirmed detail).
    """
    account = call.account
    assert account is not None
    call.require_scope(*SUBSCRIBE_SCOPES)
    fields = _field_list(call.param("subscribed_fields"))
    accepted = INSTAGRAM_FIELDS_ACCEPTED if account.platform == INSTAGRAM else PAGE_FIELDS_ACCEPTED
    for index, name in enumerate(fields):
        if name not in accepted:
            raise graph_rules.invalid_param(
                f"Param subscribed_fields[{index}] must be one of {{{', '.join(accepted)}}} - got {name!r}"
            )
    account.subscribed_fields = fields
    if account.platform != INSTAGRAM and account.linked_id:
        linked = call.store.accounts[account.linked_id]
        if not linked.subscribed_fields:
            linked.subscribed_fields = list(INSTAGRAM_FIELDS)
    return {"success": True}


def _field_list(raw: Any) -> list[str]:
    if isinstance(raw, list):
        names = [str(name).strip() for name in raw]
    elif isinstance(raw, str):
        names = [name.strip() for name in raw.split(",")]
    else:
        names = []
    names = [name for name in names if name]
    if not names:
        raise graph_rules.invalid_param("The parameter subscribed_fields is required")
    return list(dict.fromkeys(names))


def unsubscribe(call: GraphCall) -> dict[str, Any]:
    account = call.account
    assert account is not None
    call.require_scope(*SUBSCRIBE_SCOPES)
    account.subscribed_fields = []
    return {"success": True}
