"""The Instagram Graph host (`graph.instagram.com`), for the Instagram API with Instagram Login.

An Instagram professional account connected this way has no Facebook Page: the app holds an
Instagram User access token and calls `https://graph.instagram.com/{version}/...`
(meta-platform.md §12). The sandbox serves that host under `/instagram/{version}/...` with the
same engine as `/graph/...` (`graph_api.instagram_graph`), so sends, private replies, comment replies
and reads obey the same rules; what differs is here:

- tokens are per host: an Instagram User token works only on the Instagram host and a Facebook
  Page/User token only on the Facebook host; the other host cannot parse it (190, as Meta
  answers for a token it does not know);
- `GET /me` answers the account: `user_id` (the professional account id, the `entry.id` of its
  webhooks) and `id` (an app-scoped id that is NOT the account id: apps must use `user_id`);
- the scopes are Instagram Login's `instagram_business_*` names;
- `GET /refresh_access_token?grant_type=ig_refresh_token` renews a token at least 24 hours old.
Meta's documentation does not say which error the wrong host gives for a token of the other
kind (unconfirmed): we answer Meta's generic "Cannot parse access token".
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules
from sandbox.graph_call import GraphCall
from sandbox.graph_views import select
from sandbox.records import INSTAGRAM, INSTAGRAM_FIELDS, Account, Token
from sandbox.runtime import ControlError
from sandbox.store import Store, now_ms

FACEBOOK_HOST = "facebook"
INSTAGRAM_HOST = "instagram"
TOKEN_KIND = "instagram_user"  # an Instagram User access token (Instagram Login)
SCOPES = ("instagram_business_basic", "instagram_business_manage_messages", "instagram_business_manage_comments")
ME_DEFAULTS = ("id",)
LONG_LIVED_S = 60 * 86400
REFRESH_MIN_AGE_S = 24 * 3600


def check_host(host: str, token: Token) -> None:
    """A token works only on the host that issued it (see the module docstring)."""
    if (token.kind == TOKEN_KIND) != (host == INSTAGRAM_HOST):
        raise graph_rules.invalid_token()


def me(call: GraphCall) -> dict[str, Any]:
    """`GET /me?fields=user_id,username,...` with an Instagram User token."""
    token = call.token
    assert token is not None
    account = call.store.accounts[str(token.page_id)]
    return select(me_view(account), call.param("fields"), "User", ME_DEFAULTS)


def refresh_token(call: GraphCall) -> dict[str, Any]:
    """`GET /refresh_access_token?grant_type=ig_refresh_token` (§12): a valid long-lived token at
    least 24 hours old gets a fresh one for 60 days. The refreshed token is a new string here and
    the old one keeps working (Meta's page does not say whether the string changes or the old
    one stays valid: unconfirmed). Meta's error for a token younger than 24 hours is not
    documented (unconfirmed): we answer 100 with that reason."""
    token = call.token
    assert token is not None
    if call.param("grant_type") != "ig_refresh_token":
        raise graph_rules.invalid_param("The parameter grant_type must be ig_refresh_token")
    if now_ms() // 1000 - token.issued_at < REFRESH_MIN_AGE_S:
        raise graph_rules.invalid_param("The access token must be at least 24 hours old to be refreshed")
    store = call.store
    value = _new_token(store)
    store.tokens[value] = Token(value=value, kind=TOKEN_KIND, page_id=token.page_id, scopes=list(token.scopes),
                                issued_at=now_ms() // 1000)
    return {"access_token": value, "token_type": "bearer", "expires_in": LONG_LIVED_S}


def _new_token(store: Store) -> str:
    return "IGAA" + store.new_token().removeprefix("EAA")


def me_view(account: Account) -> dict[str, Any]:
    return {
        "id": app_scoped_id(account.id),
        "user_id": account.id,
        "username": account.username,
        "name": account.name,
        "account_type": "BUSINESS",
        "profile_picture_url": account.profile_picture_url,
        "followers_count": account.followers_count,
    }


def app_scoped_id(account_id: str) -> str:
    """Meta's `id` on `/me` is app-scoped and differs from `user_id`; ours is derived, stable."""
    return "9" + account_id[::-1]


def add_account(store: Store, *, name: str, username: str, ig_id: str | None, token: str | None,
                followers_count: int, subscribed: bool, scopes: list[str] | None,
                token_age_s: int = 0) -> dict[str, Any]:
    """An Instagram professional account with no Facebook Page, and its Instagram User token."""
    with store.lock:
        account_id = ig_id or store.new_id("instagram")
        if store.node(account_id) is not None:
            raise ControlError(409, f"id {account_id!r} is already in use")
        if token and token in store.tokens:
            raise ControlError(409, "token is already in use")
        store.accounts[account_id] = Account(
            id=account_id, platform=INSTAGRAM, name=name, page_id=account_id, username=username,
            followers_count=followers_count, subscribed_fields=list(INSTAGRAM_FIELDS) if subscribed else [])
        value = token or _new_token(store)
        store.tokens[value] = Token(value=value, kind=TOKEN_KIND, page_id=account_id,
                                    scopes=list(SCOPES if scopes is None else scopes),
                                    issued_at=now_ms() // 1000 - token_age_s)
        return {"instagram_id": account_id, "token": value, "username": username}
