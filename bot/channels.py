"""Connected channels: a Facebook Page and the Instagram account linked to it.

The page token is the key to everything we send, so it is stored encrypted and decrypted only
at the moment of a Graph call. Settings toggles live on the channel row and are read on every
event, so a change takes effect at once.
"""

from __future__ import annotations

from bot import runtime
from bot.db import now_ms, transaction
from bot.errors import Invalid, NotFound
from bot.models import Channel

TOGGLES = ("receive_messages", "receive_comments", "notifications", "emails", "human_agent")

# Webhook fields socialdesk needs (meta-platform.md §2, §10).
PAGE_FIELDS = ("messages", "messaging_postbacks", "message_deliveries", "message_reads", "message_echoes",
               "message_edits", "message_reactions", "messaging_referrals", "feed")
# The Instagram account's fields (§3): messages carry its echoes too; "messaging_referral" is
# Meta's documented spelling (unconfirmed).
INSTAGRAM_FIELDS = ("messages", "messaging_postbacks", "messaging_seen", "message_reactions", "messaging_referral",
                    "comments")


def channel_for(platform: str, account_id: str) -> Channel | None:
    """The active channel receiving webhooks for (platform, account id), or None."""
    if "\x00" in account_id:  # no account has such an id, and PostgreSQL refuses NUL even in a query
        return None
    return (Channel.select()
            .where((Channel.platform == platform) & (Channel.account_id == account_id) & Channel.is_active)
            .first())


TOUCH_EVERY_MS = 5_000


def touch(channel: Channel, field: str, at: int, *, always: bool = False) -> None:
    """Record when the channel last heard from Meta (`last_webhook_at`) or last sent
    (`last_send_at`): facts channel health reads coarsely. Written only when the stored time is a
    few seconds old (`channel`, just read, tells without a statement): the row is hot, and a
    write per delivery or per send would serialize every expansion and send on its row lock.
    `always` writes anyway (a send that may end a health finding)."""
    column = getattr(Channel, field)
    known = getattr(channel, field)
    if not always and known is not None and known >= at - TOUCH_EVERY_MS:
        return
    query = Channel.update({column: at}).where(Channel.id == channel.id)
    if not always:
        query = query.where(column.is_null() | (column < at - TOUCH_EVERY_MS))
    query.execute()


def connect_page(page_id: str, name: str, token: str, *, instagram_id: str | None = None,
                 instagram_username: str | None = None, instagram_followers: int | None = None,
                 subscribe: bool = True) -> list[Channel]:
    """Connect (or reconnect with a new token) a page and optionally its Instagram account, and
    subscribe our app to the page's webhooks. Returns the channels, page first."""
    if not page_id or not token:
        raise Invalid("page_id" if not page_id else "token", "is required")
    sealed = runtime.vault().encrypt(token)
    with transaction():
        channels = [_upsert("facebook", page_id, page_id, name, sealed)]
        if instagram_id:
            ig = _upsert("instagram", instagram_id, page_id, instagram_username or name, sealed)
            Channel.update(username=instagram_username, followers_count=instagram_followers).where(
                Channel.id == ig.id).execute()
            channels.append(Channel.get_by_id(ig.id))
    if subscribe:
        runtime.graph().subscribe_app(page_id, token, list(PAGE_FIELDS))
    from bot import health  # health checks use this module's tokens and fields

    for channel in channels:
        health.on_connected(channel.id)
    return [Channel.get_by_id(c.id) for c in channels]


def _upsert(platform: str, account_id: str, page_id: str, name: str, sealed: str) -> Channel:
    existing = Channel.get_or_none((Channel.platform == platform) & (Channel.account_id == account_id))
    if existing is None:
        return Channel.create(platform=platform, account_id=account_id, page_id=page_id, name=name,
                              token_encrypted=sealed, created_at=now_ms())
    Channel.update(page_id=page_id, name=name, token_encrypted=sealed, is_active=True).where(
        Channel.id == existing.id).execute()
    return Channel.get_by_id(existing.id)


def page_token(channel: Channel) -> str:
    """The decrypted page token (never log it)."""
    if not channel.token_encrypted:
        raise NotFound("page token of channel", channel.id)
    return runtime.vault().decrypt(channel.token_encrypted)


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


def mark_health(channel_id: int, status: str, reason: str | None, *, source: str = "send") -> None:
    """Record what the send path (or connecting) learned about a channel: a change goes into the
    health history and is told to staff once (`bot.health.record`)."""
    from bot import health  # health checks use this module's tokens and fields

    health.record(channel_id, status, reason, source=source)


def list_channels() -> list[Channel]:
    return list(Channel.select().order_by(Channel.id))
