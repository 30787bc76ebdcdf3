"""Liking comments: `POST /{comment-id}/likes` and `DELETE /{comment-id}/likes` (meta-platform.md §12).

Facebook only: Instagram documents no way for an account to like a comment, so the route does
not exist for `ig_comment` nodes and Meta's generic "Unsupported post request" (100/33) answers.
Hiding is `comments.update_comment`. Liking the account's own comment and liking twice are not
documented (unconfirmed): the sandbox accepts both, as the Facebook interface does.
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules
from sandbox.graph_call import GraphCall
from sandbox.records import Comment


def like_comment(call: GraphCall) -> dict[str, Any]:
    """The page likes the comment (`pages_manage_engagement`)."""
    return _set_liked(call, True)


def unlike_comment(call: GraphCall) -> dict[str, Any]:
    return _set_liked(call, False)


def _set_liked(call: GraphCall, liked: bool) -> dict[str, Any]:
    comment: Comment = call.record
    call.require_scope("pages_manage_engagement")
    if comment.removed:
        raise graph_rules.does_not_exist(comment.id, call.method)
    comment.liked = liked
    return {"success": True}
