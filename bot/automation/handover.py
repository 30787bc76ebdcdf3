"""Human handover: while a person handles a conversation, the bot and the campaigns stay silent.

A conversation's bot pauses when staff reply from the dashboard, when a page admin answers from
Meta's own apps (an echo written outside socialdesk), or when the customer asks for a human (a
payload or a keyword of the channel's settings, or a flow transition to `handover`). It resumes
when staff say so or when the channel's pause time has passed; the pause is a deadline stored
on the conversation's bot state, so nothing has to run for it to end.
"""

from __future__ import annotations

import msgspec

from bot.automation.flows.spec import fold_phrase, has_keyword
from bot.automation.flows.store import ensure_state
from bot.core.compose import MAX_PAYLOAD_CHARS, MessageContent, check_template, validate_content
from bot.core.errors import Invalid
from bot.inbound.pauses import dm_thread
from bot.platform import cache
from bot.platform.db import now_ms
from bot.platform.models import BotSetting, BotState, Channel, Conversation

DEFAULT_PAUSE_SECONDS = 3600
MIN_PAUSE_SECONDS = 60
MAX_PAUSE_SECONDS = 30 * 86400
MAX_WORDS = 100  # payloads, and keywords: each is checked against every message the bot reads
MAX_KEYWORD_CHARS = 200
DEFAULT_PAYLOADS = ["HUMAN"]
DEFAULT_KEYWORDS = ["human", "agent", "talk to a person"]


class HandoverSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per channel: what asks for a human, what the bot answers then, how long it stays paused.

    `handover_payloads` match a button's payload exactly; `handover_keywords` match whole words
    of the customer's text, ignoring case, accents and punctuation; `handover_message` (shortcodes
    allowed, none: say nothing) is sent when the customer asks; `pause_seconds` is how long the
    bot stays silent after a person took over. Saving replaces all four (a field left out takes
    its default), so an unknown field name is refused rather than silently ignored."""

    handover_payloads: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_PAYLOADS))
    handover_keywords: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_KEYWORDS))
    handover_message: str | None = None
    pause_seconds: int = DEFAULT_PAUSE_SECONDS


def settings_for(channel_id: int) -> HandoverSettings:
    """The channel's settings: a copy per configuration version (saving bumps it, migration
    0032), as every message a customer writes is checked against them."""
    return cache.cached("handover_settings", channel_id, lambda: _stored_settings(channel_id))


def _stored_settings(channel_id: int) -> HandoverSettings:
    row = BotSetting.get_or_none(BotSetting.channel == channel_id)
    if row is None:
        return HandoverSettings()
    return HandoverSettings(
        handover_payloads=list(row.handover_payloads or []),
        handover_keywords=list(row.handover_keywords or []),
        handover_message=row.handover_message,
        pause_seconds=row.pause_seconds,
    )


def save_settings(channel_id: int, settings: HandoverSettings) -> HandoverSettings:
    """Validate and store a channel's handover settings. A blank handover message is stored as
    none (the bot says nothing), as Meta refuses an empty text anyway."""
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:
        raise Invalid("channel_id", "no such channel")
    message = settings.handover_message if settings.handover_message and settings.handover_message.strip() else None
    settings = msgspec.structs.replace(settings, handover_message=message)
    validate(settings, channel.platform)
    fields = msgspec.to_builtins(settings) | {"updated_at": now_ms()}
    BotSetting.insert(channel=channel_id, **fields).on_conflict(
        conflict_target=[BotSetting.channel], update=fields
    ).execute()
    return settings_for(channel_id)


def validate(settings: HandoverSettings, platform: str) -> None:
    """Refuse, at save time, settings that would fail silently later: a pause outside its
    bounds, a keyword `asks_for_human` can never match, a message Meta would refuse."""
    if not MIN_PAUSE_SECONDS <= settings.pause_seconds <= MAX_PAUSE_SECONDS:
        raise Invalid("pause_seconds", f"must be between {MIN_PAUSE_SECONDS} and {MAX_PAUSE_SECONDS}")
    _check_payloads(settings.handover_payloads)
    _check_keywords(settings.handover_keywords)
    if settings.handover_message is not None:
        _check_message(settings.handover_message, platform)


def _check_payloads(payloads: list[str]) -> None:
    """A payload matches exactly, so any non-blank one can; Meta's payloads stop at 1,000."""
    if len(payloads) > MAX_WORDS:
        raise Invalid("handover_payloads", f"at most {MAX_WORDS}")
    for i, payload in enumerate(payloads):
        if not payload.strip() or len(payload) > MAX_PAYLOAD_CHARS:
            raise Invalid(f"handover_payloads[{i}]", f"must be 1-{MAX_PAYLOAD_CHARS} characters")


def _check_keywords(keywords: list[str]) -> None:
    """A keyword is compared folded (`fold_phrase`, as `asks_for_human` does): one that folds to
    nothing (blank, or punctuation only) would be skipped there, so it is refused here."""
    if len(keywords) > MAX_WORDS:
        raise Invalid("handover_keywords", f"at most {MAX_WORDS}")
    for i, keyword in enumerate(keywords):
        if len(keyword) > MAX_KEYWORD_CHARS:
            raise Invalid(f"handover_keywords[{i}]", f"at most {MAX_KEYWORD_CHARS} characters")
        if not fold_phrase(keyword):
            raise Invalid(f"handover_keywords[{i}]", "a keyword needs at least one letter or digit")


def _check_message(message: str, platform: str) -> None:
    """The shortcodes, and Meta's text limit of the channel's platform as `bot.core.compose` checks
    every outgoing message; the engine checks again after filling the shortcodes in (a long
    name adds length), but then it can only skip the message."""
    check_template(message, "handover_message")
    try:
        validate_content(MessageContent(text=message), platform, "handover_message")
    except Invalid as exc:  # compose names the part (`handover_message.text`); here the text is the field
        raise Invalid("handover_message", exc.problem) from None


def asks_for_human(channel_id: int, payload: str | None, text: str | None) -> bool:
    """The customer tapped a "talk to a person" button or wrote one of the handover words."""
    settings = settings_for(channel_id)
    if payload is not None and payload in settings.handover_payloads:
        return True
    return bool(text) and has_keyword(text or "", settings.handover_keywords)


def pause(conversation_id: int, reason: str, seconds: int | None = None) -> BotState:
    """Silence the bot in this conversation until staff resume it or the pause time passes."""
    row = ensure_state(conversation_id)
    if seconds is None:
        conversation = Conversation.get_by_id(conversation_id)
        seconds = settings_for(conversation.channel_id).pause_seconds
    BotState.update(paused_until=now_ms() + seconds * 1000, paused_reason=reason, updated_at=now_ms()).where(
        BotState.id == row.id
    ).execute()
    return BotState.get_by_id(row.id)


def resume(conversation_id: int) -> BotState:
    row = ensure_state(conversation_id)
    BotState.update(paused_until=None, paused_reason=None, updated_at=now_ms()).where(
        BotState.id == row.id
    ).execute()
    return BotState.get_by_id(row.id)


def pause_after_staff(conversation: Conversation) -> None:
    """Staff answered: pause the person's DM thread (a comment conversation's person too)."""
    if conversation.kind.endswith("_comments"):
        thread = dm_thread(
            conversation.channel, conversation.identity.scoped_id if conversation.identity_id else None
        )
        if thread is None:
            return
        conversation = thread
    pause(conversation.id, "Staff answered from socialdesk.")
