"""bot.outbound.sendpolicy: every rule of meta-platform.md §6-§7 at its boundaries, as tables."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.outbound.sendpolicy import (
    DAY_MS,
    Allowed,
    Author,
    Facts,
    Refusal,
    SendKind,
    SendWindows,
    decide,
    windows,
)

T0 = 1_700_000_000_000  # the customer's last message / the comment's creation
H = 3_600_000
D = DAY_MS
MS = 1

STAFF, BOT = Author.STAFF, Author.AUTOMATION


def direct(
    now_after_last: int | None, author: Author = STAFF, human_agent: bool = False, platform: str = "facebook"
) -> Facts:
    """DM facts `now_after_last` ms after the last customer message (None: never wrote)."""
    last = None if now_after_last is None else T0
    return Facts(
        kind=SendKind.DIRECT,
        author=author,
        platform=platform,
        now_ms=T0 + (now_after_last or 0),
        last_customer_message_ms=last,
        human_agent_enabled=human_agent,
    )


def code(decision: Allowed | Refusal) -> str:
    if isinstance(decision, Refusal):
        assert decision.reason.strip()
        return decision.code
    return f"{decision.messaging_type}/{decision.tag}"


# ------------------------------------------------------------------ direct messages (§7)

DIRECT_TABLE = [
    # (ms after last message, author, human agent enabled) -> outcome
    (0, STAFF, False, "RESPONSE/None"),
    (24 * H - MS, STAFF, False, "RESPONSE/None"),
    (24 * H - MS, BOT, False, "RESPONSE/None"),
    (24 * H, STAFF, False, "outside_window"),
    (24 * H, BOT, False, "outside_window"),
    (24 * H, STAFF, True, "MESSAGE_TAG/HUMAN_AGENT"),
    (24 * H, BOT, True, "outside_window"),  # never HUMAN_AGENT for automations
    (7 * D - MS, STAFF, True, "MESSAGE_TAG/HUMAN_AGENT"),
    (7 * D - MS, BOT, True, "outside_window"),
    (7 * D, STAFF, True, "outside_window"),
    (30 * D, STAFF, True, "outside_window"),
    (-5 * 60_000, STAFF, False, "RESPONSE/None"),  # clock skew: a "future" message keeps it open
]


@pytest.mark.parametrize(("after", "author", "human_agent", "expected"), DIRECT_TABLE)
@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_direct_table(after: int, author: Author, human_agent: bool, expected: str, platform: str) -> None:
    assert code(decide(direct(after, author, human_agent, platform))) == expected


@pytest.mark.parametrize("author", [STAFF, BOT])
def test_never_contacted_is_refused(author: Author) -> None:
    assert code(decide(direct(None, author, human_agent=True))) == "never_contacted"


def test_direct_until_is_the_window_end() -> None:
    assert decide(direct(H)) == Allowed("RESPONSE", None, T0 + 24 * H)
    assert decide(direct(2 * D, human_agent=True)) == Allowed("MESSAGE_TAG", "HUMAN_AGENT", T0 + 7 * D)


def test_outside_window_reasons_say_what_would_help() -> None:
    staff = decide(direct(2 * D))
    bot = decide(direct(2 * D, BOT, human_agent=True))
    late = decide(direct(8 * D, human_agent=True))
    assert isinstance(staff, Refusal) and "human agent" in staff.reason
    assert isinstance(bot, Refusal) and "bot" in bot.reason
    assert isinstance(late, Refusal) and "7 days" in late.reason


# ------------------------------------------------------------------ private replies (§6)


def private(
    age: int | None = H,
    *,
    platform: str = "facebook",
    author: Author = BOT,
    by_account: bool = False,
    deleted: bool = False,
    hidden: bool = False,
    used: bool = False,
    media: bool = False,
) -> Facts:
    return Facts(
        kind=SendKind.PRIVATE_REPLY,
        author=author,
        platform=platform,
        now_ms=T0 + (age or 0),
        comment_created_ms=None if age is None else T0,
        comment_by_account=by_account,
        comment_deleted=deleted,
        comment_hidden=hidden,
        private_reply_used=used,
        has_media=media,
    )


PRIVATE_TABLE = [
    (private(0), "RESPONSE/None"),
    (private(7 * D - MS), "RESPONSE/None"),
    (private(7 * D), "private_reply_expired"),
    (private(7 * D, author=STAFF), "private_reply_expired"),
    (private(None), "comment_unknown"),
    (private(by_account=True), "own_comment"),
    (private(deleted=True), "comment_deleted"),
    (private(deleted=True, used=True, by_account=True), "comment_deleted"),
    (private(used=True), "private_reply_used"),
    (private(used=True, author=STAFF), "private_reply_used"),
    (private(hidden=True), "RESPONSE/None"),  # a hidden comment may still get its private reply
    (private(media=True), "RESPONSE/None"),  # Facebook accepts any message type
    (private(platform="instagram"), "RESPONSE/None"),
    (private(platform="instagram", media=True), "media_in_private_reply"),
    (private(8 * D, platform="instagram", media=True), "private_reply_expired"),
]


@pytest.mark.parametrize(("facts", "expected"), PRIVATE_TABLE)
def test_private_reply_table(facts: Facts, expected: str) -> None:
    assert code(decide(facts)) == expected


def test_private_reply_is_allowed_until_seven_days_after_the_comment() -> None:
    assert decide(private(H)) == Allowed("RESPONSE", None, T0 + 7 * D)


def test_private_reply_ignores_the_messaging_window() -> None:
    facts = msgspec.structs.replace(private(H), last_customer_message_ms=T0 - 30 * D)
    assert code(decide(facts)) == "RESPONSE/None"


# ------------------------------------------------------------------ public comment replies (§6)

COMMENT_TABLE = [
    (private(), "None/None"),
    (private(30 * D), "None/None"),  # no time limit on public replies
    (private(by_account=True), "None/None"),
    (private(used=True), "None/None"),
    (private(hidden=True), "comment_hidden"),
    (private(deleted=True), "comment_deleted"),
    (private(deleted=True, hidden=True), "comment_deleted"),
    (private(hidden=True, platform="instagram"), "comment_hidden"),
]


@pytest.mark.parametrize(("facts", "expected"), COMMENT_TABLE)
def test_comment_reply_table(facts: Facts, expected: str) -> None:
    facts = msgspec.structs.replace(facts, kind=SendKind.COMMENT_REPLY)
    decision = decide(facts)
    assert code(decision) == expected
    if isinstance(decision, Allowed):
        assert decision == Allowed(None, None, None)


# ------------------------------------------------------------------ windows for the UI


def test_windows_in_the_first_day_with_a_fresh_comment() -> None:
    facts = msgspec.structs.replace(direct(H, human_agent=True), comment_created_ms=T0 - D)
    assert windows(facts) == SendWindows(
        direct=Allowed("RESPONSE", None, T0 + 24 * H),
        private_reply=Allowed("RESPONSE", None, T0 + 6 * D),
        response_until_ms=T0 + 24 * H,
        human_agent_until_ms=T0 + 7 * D,
        private_reply_until_ms=T0 + 6 * D,
    )


def test_windows_after_a_day_without_human_agent() -> None:
    result = windows(direct(2 * D))
    assert code(result.direct) == "outside_window"
    assert result.private_reply is None
    assert (result.response_until_ms, result.human_agent_until_ms, result.private_reply_until_ms) == (
        None,
        None,
        None,
    )


def test_windows_human_agent_end_is_for_staff_with_the_setting_only() -> None:
    assert windows(direct(2 * D, human_agent=True)).human_agent_until_ms == T0 + 7 * D
    assert windows(direct(2 * D, BOT, human_agent=True)).human_agent_until_ms is None
    assert windows(direct(8 * D, human_agent=True)).human_agent_until_ms is None
    assert windows(direct(None, human_agent=True)).human_agent_until_ms is None


def test_windows_show_a_used_private_reply_as_closed() -> None:
    result = windows(private(H, used=True))
    assert code(result.private_reply) == "private_reply_used"  # type: ignore[arg-type]
    assert result.private_reply_until_ms is None
    assert code(result.direct) == "never_contacted"


@given(
    after=st.one_of(st.none(), st.integers(min_value=-D, max_value=40 * D)),
    author=st.sampled_from(list(Author)),
    human_agent=st.booleans(),
    platform=st.sampled_from(["facebook", "instagram"]),
)
def test_windows_agree_with_decide(
    after: int | None, author: Author, human_agent: bool, platform: str
) -> None:
    facts = direct(after, author, human_agent, platform)
    decision = decide(facts)
    summary = windows(facts)
    assert summary.direct == decision
    if isinstance(decision, Allowed):
        assert decision.until_ms is not None and facts.now_ms < decision.until_ms
        assert decision.until_ms in (summary.response_until_ms, summary.human_agent_until_ms)
        assert decision.tag != "HUMAN_AGENT" or author == STAFF
    else:
        assert summary.response_until_ms is None
