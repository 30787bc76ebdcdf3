"""Staff moderation of a comment in the conversation screen (issue 22): what was done to it
(liked, hidden, by a campaign or staff, or why not) and Like / Hide buttons, which go through
`commands.moderate_comment`: the same ledger and policy as campaigns."""

from __future__ import annotations

import streamlit as st

from bot import commands, queries
from bot.automation.campaigns import ActionSpec
from bot.outbound.moderation import ModerationView
from bot.queries import ConversationView, MessageView
from dashboard import state, widgets
from dashboard.widgets import drafted

DONE_WORDS = {"like": "Liked", "hide": "Hidden"}


def comment_moderation(user_id: int, view: ConversationView, comment: MessageView) -> None:
    """The ledger lines and the two buttons for one comment."""
    comment_id = comment.comment_id or ""
    rows = queries.comment_moderation(comment_id)
    for row in rows:
        st.caption(_line(row))
    done = {r.action for r in rows}
    left, right = st.columns(2)
    instagram = view.channel_platform == "instagram"
    left.button("Like", key=f"like{comment_id}", icon=":material/thumb_up:", disabled=instagram or "like" in done,
                help="Instagram does not let an account like a comment through Meta's API" if instagram else None,
                on_click=state.with_db(_moderate), args=(user_id, view.id, comment_id, "like"))
    right.button("Hide", key=f"hide{comment_id}", icon=":material/visibility_off:",
                 disabled="hide" in done or comment.hidden,
                 on_click=state.with_db(_moderate), args=(user_id, view.id, comment_id, "hide"))


def _line(row: ModerationView) -> str:
    who = "a campaign" if row.by == "campaign" else "staff"
    if row.status == "done":
        return f"{DONE_WORDS[row.action]} by {who}"
    if row.status in ("pending", "sending"):
        return f"{row.action.capitalize()} requested by {who}…"
    return f"{row.action.capitalize()} {row.status}: {widgets.plain(row.reason or '')}"


def _moderate(user_id: int, conversation_id: int, comment_id: str, action: str) -> None:
    row = commands.moderate_comment(user_id, conversation_id, comment_id, action)
    if row.status in ("refused", "failed"):
        state.notice(f"Not done: {row.reason}", "error")
    else:
        state.notice(f"{action.capitalize()} requested.", "info")


# --- campaign editor: the like / hide actions ---------------------------------------------------------

ACTION_LABELS = {"like_comment": "Like the comment (Facebook)", "hide_comment": "Hide the comment"}
DRY_RUN_WORDS = {"like": "would be liked", "hide": "would be hidden", "like_no_word": "",
                 "hide_no_word": "stay visible: none of the chosen words", "like_already_done": "already liked",
                 "hide_already_done": "already hidden"}


def action_fields(key: str, kind: str, saved: ActionSpec | None) -> None:
    """Fields of a like/hide action (a like has none: it likes every matched comment)."""
    if kind == "like_comment":
        st.caption("Likes every matched comment as the page. Not available on Instagram.")
        return
    drafted(st.text_area, "Hide only comments containing one of these words or links, one per line "
            "(empty: hide every matched comment)", key + "words", "\n".join(saved.words) if saved else "", height=90)
    drafted(st.checkbox, "Also hide any comment with a link", key + "any_link", bool(saved and saved.any_link))


def action_from_state(key: str, kind: str) -> ActionSpec:
    words = [w.strip() for w in (state.value(key + "words") or "").splitlines() if w.strip()]
    if kind == "like_comment":
        return ActionSpec(kind=kind)
    return ActionSpec(kind=kind, words=words, any_link=bool(state.value(key + "any_link")))


def dry_run_lines(counts: dict[str, int]) -> list[str]:
    """The dry run's moderation counts in words ("3 would be hidden")."""
    return [f"{count} {DRY_RUN_WORDS.get(code) or 'not ' + code.replace('_', ' ')}"
            for code, count in sorted(counts.items())]
