"""Comments under posts: creating them (customers or the account), public replies, hiding.

Facebook and Instagram differ in edges and in what they notify: Facebook answers on
`/{comment-id}/comments` and sends a `feed` change for every verb; Instagram answers on
`/{comment-id}/replies` (top-level comments only) and sends `comments` changes for new comments
only. Both keep two levels: a reply to a reply lands under the top-level comment (§6).
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules
from sandbox.graph_call import GraphCall
from sandbox.records import INSTAGRAM, Account, Comment, Post, QueuedItem, Sent
from sandbox.store import Store, now_ms
from sandbox.webhook_shapes import feed_comment_item, instagram_comment_item

INSTAGRAM_COMMENT_LIMIT = 2200
FACEBOOK_COMMENT_LIMIT = 8000


def top_level(store: Store, parent_id: str | None) -> Comment | None:
    """The comment a reply hangs under: the parent itself, or the parent's own parent."""
    if parent_id is None:
        return None
    parent = store.comments.get(parent_id)
    if parent is None:
        return None
    return store.comments[parent.parent_id] if parent.parent_id else parent


def create_comment(
    store: Store,
    account: Account,
    post: Post,
    *,
    author_id: str,
    author_name: str,
    text: str,
    parent: Comment | None,
    created_time: int,
    photo_url: str | None = None,
) -> Comment:
    """Store a new comment (ids shaped like Meta's: `<post-suffix>_<n>` on Facebook)."""
    if account.platform == INSTAGRAM:
        comment_id = store.new_id("ig_comment")
    else:
        comment_id = f"{post.id.split('_')[-1]}_{store.new_id('fb_comment')}"
    comment = Comment(
        id=comment_id,
        account_id=account.id,
        post_id=post.id,
        author_id=author_id,
        author_name=author_name,
        text=text,
        created_time=created_time,
        by_account=author_id == account.id,
        parent_id=parent.id if parent else None,
        photo_url=photo_url,
    )
    store.comments[comment_id] = comment
    return comment


def comment_item(store: Store, comment: Comment, verb: str) -> QueuedItem | None:
    """The webhook Meta sends for a comment change, or None when Meta sends none (Instagram
    notifies new comments only; edits, removals and hiding are silent there)."""
    account = store.accounts[comment.account_id]
    post = store.posts[comment.post_id]
    now_s = now_ms() // 1000
    if account.platform == INSTAGRAM:
        return instagram_comment_item(account, post, comment, now_s) if verb == "add" else None
    return feed_comment_item(account, post, comment, verb, now_s)


def _require_moderation(call: GraphCall) -> None:
    call.require_scope(*(("instagram_manage_comments", "instagram_business_manage_comments") if call.instagram
                        else ("pages_manage_engagement",)))


def reply_publicly(call: GraphCall) -> dict[str, Any]:
    """`POST /{comment-id}/comments` (Facebook), `POST /{ig-comment-id}/replies` (Instagram), or
    a top-level comment by the account on its own post/media."""
    store, account = call.store, call.account
    assert account is not None
    instagram = account.platform == INSTAGRAM
    _require_moderation(call)
    text = call.param("message")
    attachment_url = None if instagram else call.param("attachment_url")
    if not text and not attachment_url:
        raise graph_rules.invalid_param("Missing message or attachment")
    _check_length(str(text or ""), instagram=instagram)
    target = call.record if call.kind in ("fb_comment", "ig_comment") else None
    if target is not None:
        _check_replyable(target, instagram=instagram)
        post = store.posts[target.post_id]
    else:
        post = call.record
    reply = create_comment(
        store,
        account,
        post,
        author_id=account.id,
        author_name=(account.username or account.name) if instagram else account.name,
        text=str(text or ""),
        parent=top_level(store, target.id) if target else None,
        created_time=now_ms() // 1000,
        photo_url=attachment_url,
    )
    store.record_sent(
        Sent(
            seq=store.next_seq(),
            kind="comment_reply",
            account_id=account.id,
            platform=account.platform,
            path=call.path,
            body=dict(call.params),
            time_ms=now_ms(),
            recipient_id=target.author_id if target else None,
            comment_id=target.id if target else None,
            reply_comment_id=reply.id,
        )
    )
    item = comment_item(store, reply, "add")
    if item is not None:
        call.webhooks.append(item)
    return {"id": reply.id}


def _check_length(text: str, *, instagram: bool) -> None:
    limit = INSTAGRAM_COMMENT_LIMIT if instagram else FACEBOOK_COMMENT_LIMIT
    if len(text) > limit:
        raise graph_rules.invalid_param(f"param message must be at most {limit} characters")


def _check_replyable(target: Comment, *, instagram: bool) -> None:
    if target.removed:
        raise graph_rules.does_not_exist(target.id, "POST")
    if instagram and target.hidden:
        # The code for this refusal is not documented (unconfirmed): 100 names the problem.
        raise graph_rules.invalid_param("cannot reply to a hidden Instagram comment")


def update_comment(call: GraphCall) -> dict[str, Any]:
    """`POST /{comment-id}`: hide/unhide (`is_hidden` on Facebook, `hide` on Instagram) or edit
    the account's own comment (`message`)."""
    comment: Comment = call.record
    instagram = call.instagram
    _require_moderation(call)
    if comment.removed:
        raise graph_rules.does_not_exist(comment.id, "POST")
    right, wrong = ("hide", "is_hidden") if instagram else ("is_hidden", "hide")
    if call.param(wrong) is not None:
        platform = "Instagram" if instagram else "Facebook"
        raise graph_rules.invalid_param(f"{platform} comments are hidden with {right}, not {wrong}")
    hidden = call.flag(right)
    text = call.param("message")
    if hidden is None and text is None:
        raise graph_rules.invalid_param(f"nothing to update: pass {right} or message")
    if hidden is not None:
        if comment.by_account:
            raise graph_rules.invalid_param("the account cannot hide its own comment")
        # Meta's notification for a hide done by the app itself is not documented: none is sent.
        comment.hidden = hidden
    if text is not None:
        if not comment.by_account:
            raise graph_rules.permission("only the account's own comments can be edited")
        comment.text = str(text)
    return {"success": True}


def delete_comment(call: GraphCall) -> dict[str, Any]:
    """`DELETE /{comment-id}`: the account removes a comment under its post."""
    comment: Comment = call.record
    _require_moderation(call)
    if comment.removed:
        raise graph_rules.does_not_exist(comment.id, "DELETE")
    comment.removed = True
    return {"success": True}
