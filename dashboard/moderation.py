"""Staff moderation of a comment in the conversation screen (issue 22): what was done to it
(liked, hidden, by a campaign or staff, or why not) and Like / Hide buttons, which go through
`commands.moderate_comment`: the same ledger and policy as campaigns."""

from __future__ import annotations

import streamlit as st

from bot import commands, queries
from bot.outbound.moderation import ModerationView
from bot.queries import ConversationView, MessageView
from dashboard import state, widgets

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
