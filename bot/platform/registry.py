"""The registry of connected channels: a Facebook Page and the Instagram account linked to it, or
an Instagram account connected on its own with Instagram Login (`Channel.login == "instagram"`).

The page token is the key to everything we send, so it is stored encrypted and decrypted only
at the moment of a Graph call. Settings toggles live on the channel row and are read on every
event, so a change takes effect at once.
"""

from __future__ import annotations

from bot.core.errors import NotFound
from bot.platform import cache, runtime
from bot.platform.models import Channel

TOGGLES = ("receive_messages", "receive_comments", "notifications", "emails", "human_agent", "notify_postbacks",
           "notify_campaign_comments")

# Webhook fields socialdesk needs (meta-platform.md §2, §10).
PAGE_FIELDS = ("messages", "messaging_postbacks", "message_deliveries", "message_reads", "message_echoes",
               "message_edits", "message_reactions", "messaging_referrals", "feed")
# The Instagram account's fields (§3): messages carry its echoes too; "messaging_referral" is
# Meta's documented spelling (unconfirmed).
INSTAGRAM_FIELDS = ("messages", "messaging_postbacks", "messaging_seen", "message_reactions", "messaging_referral",
                    "comments")


def subscription_node(login: str, account_id: str = "me") -> str:
    """Where a channel's webhook subscription lives: `/{page-or-ig-id}/subscribed_apps` with
    Facebook Login, `/me/subscribed_apps` on graph.instagram.com with Instagram Login (§12)."""
    return "me" if login == "instagram" else account_id


def channel_for(platform: str, account_id: str) -> Channel | None:
    """The active channel receiving webhooks for (platform, account id), or None."""
    if "\x00" in account_id:  # no account has such an id, and PostgreSQL refuses NUL even in a query
        return None
    return cache.cached("channel_for", (platform, account_id), lambda: (
        Channel.select().where((Channel.platform == platform) & (Channel.account_id == account_id)
                               & Channel.is_active).first()))


def channel_by_id(channel_id: int) -> Channel:
    """A channel by id, from this process's copy when the job has read the configuration version
    (`bot.platform.cache`): the hot paths' `message.channel` without a statement each."""
    return cache.cached("channel", channel_id, lambda: Channel.get_by_id(channel_id))


TOUCH_EVERY_MS = 5_000


def touch(channel: Channel, field: str, at: int, *, always: bool = False) -> None:
    """Record when the channel last heard from Meta (`last_webhook_at`) or last sent
    (`last_send_at`): facts channel health reads coarsely. Written only when the stored time is a
    few seconds old (`channel`, just read, tells without a statement) and this process has not
    written it in that time (a copy of the channel kept by `bot.platform.cache` is not reloaded for
    these times): the row is hot, and a write per delivery or per send would serialize every
    expansion and send on its row lock. `always` writes anyway (a send that may end a health
    finding)."""
    column = getattr(Channel, field)
    mine = (cache.epoch(), channel.id, field)  # only where copies are read: the job observed a version
    known = max(getattr(channel, field) or 0, _written.get(mine, 0) if mine[0] else 0) or None
    if not always and known is not None and known >= at - TOUCH_EVERY_MS:
        return
    query = Channel.update({column: at}).where(Channel.id == channel.id)
    if not always:
        query = query.where(column.is_null() | (column < at - TOUCH_EVERY_MS))
    query.execute()
    if mine[0]:
        _written[mine] = at


_written: dict[tuple[str, int, str], int] = {}  # (epoch, channel id, field) -> when this process last wrote it


def page_token(channel: Channel) -> str:
    """The decrypted token (never log it): a page token, or an Instagram User token for an
    Instagram Login channel (use it with `runtime.graph(channel.login)`)."""
    if not channel.token_encrypted:
        raise NotFound("page token of channel", channel.id)
    encrypted = channel.token_encrypted  # decrypted once per configuration version (every send needs it)
    return cache.cached("page_token", encrypted, lambda: runtime.vault().decrypt(encrypted))


def list_channels() -> list[Channel]:
    return list(Channel.select().order_by(Channel.id))
