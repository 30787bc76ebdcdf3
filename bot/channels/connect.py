"""Connecting a page (and its Instagram account), or an Instagram account on its own (Instagram
Login), and changing a channel's settings: what an admin does to a channel. The registry of
channels (lookups, tokens) is `bot.platform.registry`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels import health
from bot.core.errors import Invalid, NotFound
from bot.meta.graph import InstagramLoginAccount
from bot.platform import runtime
from bot.platform.db import now_ms, transaction
from bot.platform.models import Channel
from bot.platform.registry import INSTAGRAM_FIELDS, PAGE_FIELDS, TOGGLES, subscription_node


@dataclass(frozen=True)
class Connected:
    """The connected channels (page first) and the health changes that connecting recorded."""

    channels: list[Channel]
    health: list[health.Recorded]


def connect_page(page_id: str, name: str, token: str, *, instagram_id: str | None = None,
                 instagram_username: str | None = None, instagram_followers: int | None = None,
                 subscribe: bool = True) -> Connected:
    """Connect (or reconnect with a new token) a page and optionally its Instagram account, and
    subscribe our app to the page's webhooks. Nothing is stored unless Meta confirms the token is
    the page's and the subscription took (a GraphError carries Meta's reason). Returns the
    channels, page first, and the health changes connecting recorded (their e-mails and gap
    backfills are for the caller to enqueue). `subscribe=False` is for a caller that has just
    checked and subscribed itself (the demo)."""
    if not page_id or not token:
        raise Invalid("page_id" if not page_id else "token", "is required")
    if subscribe:
        _check_token_and_subscribe(page_id, token)
    sealed = runtime.vault().encrypt(token)
    with transaction():
        channels = [_upsert("facebook", page_id, page_id, name, sealed)]
        if instagram_id:
            ig = _upsert("instagram", instagram_id, page_id, instagram_username or name, sealed)
            Channel.update(username=instagram_username, followers_count=instagram_followers).where(
                Channel.id == ig.id).execute()
            channels.append(Channel.get_by_id(ig.id))

    recorded = [health.on_connected(channel.id) for channel in channels]
    return Connected([Channel.get_by_id(c.id) for c in channels], [r for r in recorded if r is not None])


def _check_token_and_subscribe(page_id: str, token: str) -> None:
    """The token must be this page's (a token of another page would connect the wrong inbox),
    and our app subscribed to its webhooks, before anything is stored."""
    graph = runtime.graph()
    owner = graph.token_owner(token)
    if owner != page_id:
        raise Invalid("token", f"is the page token of page {owner}, not of page {page_id}")
    graph.subscribe_app(page_id, token, list(PAGE_FIELDS))


def connect_instagram_login(token: str, *, instagram_id: str | None = None) -> Connected:
    """Connect (or reconnect) an Instagram professional account with Instagram Login: no Facebook
    Page, an Instagram User token, calls to graph.instagram.com (meta-platform.md §12). Nothing
    is stored unless Meta says whose token it is (and it is `instagram_id`'s, when given) and
    the webhook subscription took. The channel is an Instagram channel like a linked one (same
    webhooks, inbox, campaigns and send rules) with `login == "instagram"`; an account already
    connected through its page moves to Instagram Login (one channel per account). Its webhooks
    are checked with META_APP_SECRET like all others: that Meta signs Instagram Login deliveries
    with the Meta app's secret rather than the "Instagram app secret" is unconfirmed."""
    if not token:
        raise Invalid("token", "is required")
    account = _check_instagram_token_and_subscribe(token, (instagram_id or "").strip() or None)
    sealed = runtime.vault().encrypt(token)
    with transaction():
        channel = _upsert("instagram", account.id, account.id, account.name or account.username or account.id,
                          sealed, login="instagram")
        Channel.update(username=account.username, followers_count=account.followers_count,
                       picture_url=account.picture_url).where(Channel.id == channel.id).execute()
    recorded = health.on_connected(channel.id)
    return Connected([Channel.get_by_id(channel.id)], [recorded] if recorded is not None else [])


def _check_instagram_token_and_subscribe(token: str, instagram_id: str | None) -> InstagramLoginAccount:
    """`GET /me?fields=user_id,...` names the account the token belongs to; then
    `POST /me/subscribed_apps` (§12). The subscription is asked of `me`, as Meta's Instagram
    Login page shows; `/{ig-user-id}/subscribed_apps` is not documented there (unconfirmed)."""
    graph = runtime.graph("instagram")
    account = graph.instagram_login_account(token)
    if instagram_id is not None and account.id != instagram_id:
        raise Invalid("token", f"is the token of Instagram account {account.id}, not of account {instagram_id}")
    graph.subscribe_app(subscription_node("instagram"), token, list(INSTAGRAM_FIELDS))
    return account


def _upsert(platform: str, account_id: str, page_id: str, name: str, sealed: str, *,
            login: str = "facebook") -> Channel:
    existing = Channel.get_or_none((Channel.platform == platform) & (Channel.account_id == account_id))
    if existing is None:
        return Channel.create(platform=platform, account_id=account_id, page_id=page_id, name=name,
                              token_encrypted=sealed, created_at=now_ms(), login=login)
    Channel.update(page_id=page_id, name=name, token_encrypted=sealed, is_active=True, login=login).where(
        Channel.id == existing.id).execute()
    return Channel.get_by_id(existing.id)


def update_settings(channel_id: int, **toggles: bool | str | None) -> Channel:
    """Change per-channel settings (the toggles and the bot fallback message)."""
    unknown = set(toggles) - set(TOGGLES) - {"fallback_message"}
    if unknown:
        raise Invalid(sorted(unknown)[0], "is not a channel setting")
    for name in TOGGLES:
        if name in toggles and not isinstance(toggles[name], bool):
            raise Invalid(name, "must be true or false")
    if Channel.update(**toggles).where(Channel.id == channel_id).execute() == 0:
        raise NotFound("channel", channel_id)
    return Channel.get_by_id(channel_id)


NO_SMTP = ("E-mails are switched on but no mail server is configured (SMTP_URL is unset): "
           "nothing will be sent until it is.")


def setting_warnings(channel: Channel) -> list[str]:
    """Settings of the channel that cannot work as set, in plain words (shown next to them in the
    dashboard and returned by the REST API with the channel)."""
    if channel.emails and not runtime.settings().smtp_url:
        return [NO_SMTP]
    return []
