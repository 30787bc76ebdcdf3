"""Fault tests: the system under kill, restart, flaky Meta, hostile input and slow clients, with
real PostgreSQL and Redis. Helpers shared by these tests live here."""

from __future__ import annotations

from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.core.compose import MessageContent
from bot.platform.db import connection
from bot.platform.models import Channel
from tests.servers import Stack


def watched_post(stack: Stack, account_id: str, reply: str = "You're in!") -> str:
    """A post on `account_id` with an active campaign answering every comment with a private
    reply; returns the post id."""
    post = stack.control("posts", account_id=account_id, message="Giveaway")["post_id"]
    with connection():
        channel = Channel.get(Channel.account_id == account_id).id
        campaigns.save(CampaignSpec(name=f"Giveaway {post}", channel_id=channel, is_active=True,
                                    trigger=TriggerSpec(all_posts=False, post_ids=[post]),
                                    actions=[ActionSpec(kind="send_message", message=MessageContent(text=reply))]))
    return post


def comment_many(stack: Stack, account_id: str, post: str, count: int, prefix: str) -> list[str]:
    """`count` customers comment once each on `post`; returns the comment ids."""
    ids = []
    for i in range(count):
        user = stack.control("customers", account_id=account_id, name=f"{prefix} {i}")["user_id"]
        ids.append(stack.control("comment", account_id=account_id, post_id=post, user_id=user, text="me")
                   ["comment_id"])
    return ids


def outgoing_summary() -> list[tuple]:
    """(send kind, status, error kind, reason, count) of outgoing rows: printed when a wait fails."""
    from peewee import fn

    from bot.platform.models import InboundEvent, Message

    with connection():
        rows = list(Message.select(Message.send_kind, Message.status, Message.error_kind, Message.status_reason,
                                   fn.COUNT(Message.id)).where(Message.direction == "out")
                    .group_by(Message.send_kind, Message.status, Message.error_kind, Message.status_reason).tuples())
        events = list(InboundEvent.select(InboundEvent.kind, InboundEvent.status, fn.COUNT(InboundEvent.id))
                      .group_by(InboundEvent.kind, InboundEvent.status).tuples())
    return rows + events
