"""Meta's delivery rules in one decision, shared by staff replies, bots and campaigns.

`decide(facts)` answers "may this be sent now, and how?" with `Allowed` (the messaging_type
and tag to send with, and until when the answer holds) or `Refusal` (a stable code and a
reason in plain words for staff). It is pure: the caller gathers the facts (last customer
message, comment state, channel settings) and the clock, so the rules are tested at their
boundaries without a database or Meta. Rules: meta-platform.md §6 and §7.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
RESPONSE_WINDOW_MS = DAY_MS  # §7: 24 h after the person's last message
HUMAN_AGENT_WINDOW_MS = 7 * DAY_MS  # §7: HUMAN_AGENT tag, humans only
PRIVATE_REPLY_WINDOW_MS = 7 * DAY_MS  # §6: private reply within 7 days of the comment


class SendKind(StrEnum):
    """What is being sent: a DM in an open thread, the one private reply to a comment, or a
    public reply under a comment."""

    DIRECT = "direct"
    PRIVATE_REPLY = "private_reply"
    COMMENT_REPLY = "comment_reply"


class Author(StrEnum):
    """Who writes: a person in the inbox, or socialdesk itself (bot, campaign)."""

    STAFF = "staff"
    AUTOMATION = "automation"


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the rules look at, gathered by the caller. Times are ms since the epoch.

    `last_customer_message_ms` is the person's last message, postback, quick reply or
    referral on this channel (reactions do not open the window, §7); None if they never wrote.
    `comment_created_ms` is None when the comment's creation time is unknown.
    `has_media` is True when the part to send carries an attachment.
    """

    kind: SendKind
    author: Author
    platform: str  # "facebook" | "instagram"
    now_ms: int
    last_customer_message_ms: int | None = None
    comment_created_ms: int | None = None
    comment_by_account: bool = False
    comment_deleted: bool = False
    comment_hidden: bool = False
    private_reply_used: bool = False
    human_agent_enabled: bool = False
    has_media: bool = False


class Allowed(msgspec.Struct, frozen=True):
    """Send with this `messaging_type` (None for a public comment reply, which is no Send API
    call) and `tag`; the permission lasts until `until_ms` (None: no deadline)."""

    messaging_type: str | None
    tag: str | None = None
    until_ms: int | None = None


class Refusal(msgspec.Struct, frozen=True):
    """Not sendable: `code` is stable (stats, tests, UI branches), `reason` is for staff."""

    code: str
    reason: str


Decision = Allowed | Refusal


class SendWindows(msgspec.Struct, frozen=True):
    """What the conversation screen shows: what can be sent now, and until when.

    `direct` is the decision for a DM by the facts' author; `private_reply` is None when the
    facts concern no comment (no `comment_created_ms`). The `*_until_ms` fields are None when
    that way of sending is closed (or, for the human agent window, not enabled).
    """

    direct: Decision
    private_reply: Decision | None
    response_until_ms: int | None
    human_agent_until_ms: int | None
    private_reply_until_ms: int | None


def decide(facts: Facts) -> Decision:
    """The one delivery-rules decision: Allowed(how, until when) or Refusal(code, reason)."""
    if facts.kind == SendKind.DIRECT:
        return _decide_direct(facts)
    if facts.kind == SendKind.PRIVATE_REPLY:
        return _decide_private_reply(facts)
    return _decide_comment_reply(facts)


def _decide_direct(facts: Facts) -> Decision:
    """§7: RESPONSE within 24 h of the person's last message; after that only a human, with
    the HUMAN_AGENT tag enabled on the channel, up to 7 days. Windows end exclusively: at
    exactly last + 24 h the standard window is closed."""
    last = facts.last_customer_message_ms
    if last is None:
        return Refusal(
            "never_contacted",
            "This person has never written to you here, so Meta does not allow you to write first.",
        )
    if facts.now_ms < last + RESPONSE_WINDOW_MS:
        return Allowed("RESPONSE", None, last + RESPONSE_WINDOW_MS)
    human_until = last + HUMAN_AGENT_WINDOW_MS
    within_human = facts.now_ms < human_until
    if within_human and facts.author == Author.STAFF and facts.human_agent_enabled:
        return Allowed("MESSAGE_TAG", "HUMAN_AGENT", human_until)
    return Refusal("outside_window", _outside_window_reason(facts, within_human))


def _outside_window_reason(facts: Facts, within_human: bool) -> str:
    base = "The person's last message is more than 24 hours old, so the messaging window is closed"
    if not within_human:
        return f"{base} (and more than 7 days have passed). They need to write to you first."
    if facts.author == Author.AUTOMATION:
        return f"{base}. Only a person can answer after 24 hours, not a bot or a campaign."
    return f"{base}. Turn on the human agent tag for this channel to answer for up to 7 days."


def _decide_private_reply(facts: Facts) -> Decision:
    """§6: one private message per comment, within 7 days, never to the account's own or a
    deleted comment; on Instagram only text is accepted, so media is held back."""
    refusal = _private_reply_refusal(facts)
    if refusal is not None:
        return refusal
    assert facts.comment_created_ms is not None  # checked by _private_reply_refusal
    return Allowed("RESPONSE", None, facts.comment_created_ms + PRIVATE_REPLY_WINDOW_MS)


def _private_reply_refusal(facts: Facts) -> Refusal | None:
    if facts.comment_deleted:
        return Refusal("comment_deleted", "The comment was deleted.")
    if facts.comment_by_account:
        return Refusal("own_comment", "This comment was written by your own page or account.")
    if facts.private_reply_used:
        return Refusal("private_reply_used", "This comment has already had its one private reply.")
    if facts.comment_created_ms is None:
        return Refusal("comment_unknown", "socialdesk does not know when this comment was written.")
    if facts.now_ms >= facts.comment_created_ms + PRIVATE_REPLY_WINDOW_MS:
        return Refusal("private_reply_expired", "The comment is more than 7 days old.")
    if facts.platform == "instagram" and facts.has_media:
        return Refusal(
            "media_in_private_reply",
            "Instagram does not accept pictures or files in a private reply; they are sent once "
            "the person answers.",
        )
    return None


def _decide_comment_reply(facts: Facts) -> Decision:
    """§6: a public reply goes under a visible comment only."""
    if facts.comment_deleted:
        return Refusal("comment_deleted", "The comment was deleted.")
    if facts.comment_hidden:
        return Refusal("comment_hidden", "The comment is hidden; show it again to answer publicly.")
    return Allowed(None)


def windows(facts: Facts) -> SendWindows:
    """Summarise, from the same facts and rules as `decide`, what the UI may offer now."""
    direct = decide(msgspec.structs.replace(facts, kind=SendKind.DIRECT))
    private: Decision | None = None
    if facts.comment_created_ms is not None:
        private = decide(msgspec.structs.replace(facts, kind=SendKind.PRIVATE_REPLY))
    return SendWindows(
        direct=direct,
        private_reply=private,
        response_until_ms=_response_until(facts),
        human_agent_until_ms=_human_agent_until(facts),
        private_reply_until_ms=private.until_ms if isinstance(private, Allowed) else None,
    )


def _response_until(facts: Facts) -> int | None:
    last = facts.last_customer_message_ms
    if last is None or facts.now_ms >= last + RESPONSE_WINDOW_MS:
        return None
    return last + RESPONSE_WINDOW_MS


def _human_agent_until(facts: Facts) -> int | None:
    last = facts.last_customer_message_ms
    if last is None or not facts.human_agent_enabled or facts.author != Author.STAFF:
        return None
    if facts.now_ms >= last + HUMAN_AGENT_WINDOW_MS:
        return None
    return last + HUMAN_AGENT_WINDOW_MS
