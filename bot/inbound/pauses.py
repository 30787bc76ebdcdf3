"""Whether a person of the staff has a conversation: the bot's pause, read where the store needs
it (held parts of a private reply are refused while a human has the thread). Pausing and resuming
are the handover's (`bot.automation.handover`); this module only reads."""

from __future__ import annotations

from bot.platform import cache
from bot.platform.db import now_ms
from bot.platform.models import BotState, Channel, Conversation

PAUSED_REASON = "A person is handling this conversation, so automations do not write in it."


def paused_until(conversation_id: int) -> int | None:
    """The pause deadline when the conversation is paused now, else None."""
    return pause_in_force(BotState.get_or_none(BotState.conversation == conversation_id))


def pause_in_force(row: BotState | None) -> int | None:
    """The pause deadline a conversation's bot state holds, when it has not passed, else None
    (for a caller that read the row already, e.g. locked)."""
    if row is None or row.paused_until is None or row.paused_until <= now_ms():
        return None
    return row.paused_until


def thread_key(channel: Channel, user_id: str) -> str:
    """The key of the person's DM thread on this channel (`Conversation.thread_key`)."""
    return f"dm:{channel.platform}:{channel.account_id}:{user_id}"


def dm_thread(channel: Channel, user_id: str | None) -> Conversation | None:
    """The person's DM thread on this channel, if it exists (never created here)."""
    if not user_id:
        return None
    key = thread_key(channel, user_id)
    return cache.memo("thread", key, lambda: Conversation.get_or_none(Conversation.thread_key == key))


def dm_paused(channel: Channel, user_id: str | None) -> bool:
    """Whether a human has the person's DM thread (campaigns must not write into it then)."""
    thread = dm_thread(channel, user_id)
    return thread is not None and paused_until(thread.id) is not None
