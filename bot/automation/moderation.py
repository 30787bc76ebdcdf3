"""Comment moderation as campaign actions: like the comment (Facebook), hide it, or hide it only
when it contains chosen words or a link (spam, competitors' links).

The action is decided here (does this comment qualify?) and requested from
`bot.outbound.moderation`, whose ledger row makes it once per comment and whose policy refuses
what Meta does not allow for that object, with the reason. The run's step records what happened
("like requested", "hide skipped: none of the words", the policy's refusal), and the dry run
counts the same decisions without requesting anything.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from bot.core.errors import Invalid
from bot.outbound import moderation
from bot.platform.models import Channel, Comment, CommentModeration

KINDS = {"like_comment": "like", "hide_comment": "hide"}
MAX_WORDS = 50
MAX_WORD = 200
LINK = re.compile(r"(https?://|www\.)\S+|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|net|org|io|co|shop|store|info|biz|ly|me)\b",
                  re.IGNORECASE)


def validate_action(kind: str, words: list[str], any_link: bool, platform: str, field: str) -> None:
    """Refuse at save what can never work on this channel, with the reason."""
    if kind == "like_comment":
        if platform == "instagram":
            raise Invalid(f"{field}.kind", "Instagram does not let an account like a comment through Meta's API")
        if words or any_link:
            raise Invalid(f"{field}.words", "word filters apply to hiding only")
        return
    if len(words) > MAX_WORDS:
        raise Invalid(f"{field}.words", f"at most {MAX_WORDS} words")
    for i, word in enumerate(words):
        if not 0 < len(word.strip()) <= MAX_WORD:
            raise Invalid(f"{field}.words[{i}]", f"must be 1 to {MAX_WORD} characters")


def qualifies(kind: str, words: list[str], any_link: bool, text: str | None) -> str | None:
    """None when the action applies to this comment, else why not (a hide with a word filter
    applies only to comments containing one of the words, or a link when asked)."""
    if kind != "hide_comment" or not (words or any_link):
        return None
    if any_link and LINK.search(text or ""):
        return None
    folded = f" {_spaced(text or '')} "
    if any(_spaced(w) and f" {_spaced(w)} " in folded for w in words):
        return None
    return "The comment contains none of the chosen words" + (" and no link." if any_link else ".")


def _spaced(text: str) -> str:
    """Case- and accent-free words separated by single spaces, so "Spam.com" matches "spam com"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def run_action(kind: str, words: list[str], any_link: bool, comment: Comment, origin: str) -> tuple[str, str]:
    """Request the like or hide for a matched comment; returns the step's (status, detail)."""
    skip = qualifies(kind, words, any_link, comment.text)
    if skip is not None:
        return "skipped", skip
    action = KINDS[kind]
    asked = moderation.request(comment.channel_id, comment.comment_id, action, origin)
    row = asked.row
    if row.status in ("refused", "skipped"):
        return row.status if asked.created else "skipped", row.reason or ""
    if not asked.created:
        return "skipped", f"Already {_past(action)} (or being) by {row.origin.split(':')[0]}."
    return "queued", f"{action} the comment"


def _past(action: str) -> str:
    return "liked" if action == "like" else "hidden"


def dry_run_counts(actions: Iterable[tuple[str, list[str], bool]], comments: list[Comment],
                   channel: Channel) -> dict[str, int]:
    """For the dry run: per moderation action, how many matched comments it would like/hide and
    why it would not: `<action>_no_word`, `<action>_already_done` (the ledger has it), or the
    policy's refusal code (`like_like_not_on_instagram`, `hide_comment_deleted`...)."""
    counts: Counter[str] = Counter()
    ledger = moderation.for_comments([c.comment_id for c in comments]) if actions else {}
    for kind, words, any_link in actions:
        action = KINDS[kind]
        for comment in comments:
            if qualifies(kind, words, any_link, comment.text) is not None:
                counts[f"{action}_no_word"] += 1
                continue
            if any(r.action == action for r in ledger.get(comment.comment_id, [])):
                counts[f"{action}_already_done"] += 1  # once per comment, whoever asked first
                continue
            decision = moderation.decide(moderation.facts_for(action, channel, comment))
            counts[action if isinstance(decision, moderation.Allowed) else f"{action}_{decision.code}"] += 1
    return dict(counts)


def campaign_rows(run_ids: list[int]) -> list[CommentModeration]:
    """The ledger rows a campaign's runs requested (origin `campaign:<run>:<action>`)."""
    runs = set(run_ids)
    rows = CommentModeration.select().where(CommentModeration.origin.startswith("campaign:")) if runs else []
    return [r for r in rows if int(r.origin.split(":")[1]) in runs]


def campaign_counts(rows: list[CommentModeration]) -> dict[str, int]:
    """For the stats: "liked", "hidden", and `<action>_<refused|failed|skipped|pending>`."""
    return dict(Counter(_past(r.action) if r.status == "done" else f"{r.action}_{r.status}" for r in rows))


def action_counts(rows: list[CommentModeration], action_id: int) -> Counter[str]:
    """One like/hide action's rows by status, for the stats' per-action table."""
    return Counter(r.status for r in rows if int(r.origin.split(":")[2]) == action_id)
