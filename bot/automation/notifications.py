"""Telling staff: an internal notification per new customer message (the bell and unread counts
per staff user), and coalesced e-mails: a burst in one conversation gives one e-mail listing its
messages. E-mail is sent by a job at the digest's due time, so SMTP never slows ingest down.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import JOIN

from bot.core import events as ev
from bot.inbound.inbox import Applied
from bot.platform import cache
from bot.platform.db import now_ms
from bot.platform.models import (
    CampaignRun,
    Channel,
    Contact,
    Conversation,
    EmailDigest,
    Identity,
    Message,
    Notification,
    User,
)

NO_NAME = "A customer"  # until the profile arrives; the label is drawn from the current name


def on_customer_message(applied: Applied, *, emails_enabled: bool, coalesce_ms: int) -> int | None:
    """Record notifications for a new customer message; returns the id of a NEW e-mail digest to
    schedule (None when none is needed or one is already pending)."""
    channel, conversation, message = applied.channel, applied.conversation, applied.message
    if conversation is None or message is None:
        return None
    if not notifies(applied):
        return None
    if channel.notifications:
        _notify_staff(conversation, message)
    if channel.emails and emails_enabled:
        return _join_digest(conversation, message, coalesce_ms)
    return None


def notifies(applied: Applied) -> bool:
    """Whether this customer message is news for staff, per the channel's choices: a button tap
    (the bot answers it) and a comment a campaign already answered are not, unless the channel
    asks for them (`notify_postbacks`, `notify_campaign_comments`; both off by default)."""
    event = applied.event
    if isinstance(event, ev.Postback):
        return bool(applied.channel.notify_postbacks)
    if isinstance(event, ev.CommentAdded) and campaign_answered(event.comment_id):
        return bool(applied.channel.notify_campaign_comments)
    return True


def campaign_answered(comment_id: str) -> bool:
    """A campaign matched the comment (its answer is sent or waiting: either way it is handled)."""
    return cache.memo("campaign_answered", comment_id, lambda: CampaignRun.select().where(
        (CampaignRun.comment_id == comment_id) & CampaignRun.matched).exists())


def _notify_staff(conversation: Conversation, message: Message) -> None:
    """The stored text is the message only: who wrote and where is drawn at reading time
    (`label`), so a name fetched after the message arrived shows on the notification too."""
    text = (message.text or "[attachment]")[:140]
    now = now_ms()
    rows = [{"user": u.id, "kind": "message", "text": text, "conversation": conversation.id, "message": message.id,
             "created_at": now} for u in _active_staff()]
    if rows:
        Notification.insert_many(rows).execute()


def _active_staff() -> list[User]:
    """Who gets a notification: read on every customer message, so from the process's copy."""
    return cache.cached("active_staff", None, lambda: list(User.select(User.id).where(User.is_active)))


def notify_channel_change(channel: Channel, text: str) -> None:
    """One notification per staff user about a channel's health change."""
    now = now_ms()
    rows = [{"user": u.id, "kind": "channel", "text": text, "channel": channel.id, "created_at": now}
            for u in User.select(User.id).where(User.is_active)]
    if rows:
        Notification.insert_many(rows).execute()


def _join_digest(conversation: Conversation, message: Message, coalesce_ms: int) -> int | None:
    pending = EmailDigest.get_or_none((EmailDigest.conversation == conversation) & (EmailDigest.status == "pending"))
    if pending is not None:
        EmailDigest.update(message_count=EmailDigest.message_count + 1).where(EmailDigest.id == pending.id).execute()
        return None
    now = now_ms()
    return EmailDigest.insert(conversation=conversation, status="pending", first_message_id=message.id,
                              due_at=now + coalesce_ms, message_count=1, created_at=now).execute()


def unread_count(user_id: int) -> int:
    return Notification.select().where((Notification.user == user_id) & Notification.read_at.is_null()).count()


@dataclass(frozen=True)
class NotificationView:
    """A notification as staff read it: `label` says the channel and the person's current name."""

    id: int
    kind: str
    label: str
    conversation_id: int | None
    created_at: int
    read_at: int | None


def list_notifications(user_id: int, limit: int = 50) -> list[NotificationView]:
    """The newest notifications with their channel and person, in one query."""
    rows = (Notification.select(Notification, Conversation, Channel, Contact, Identity)
            .join(Conversation, JOIN.LEFT_OUTER, on=Notification.conversation == Conversation.id)
            .join(Channel, JOIN.LEFT_OUTER, on=Conversation.channel == Channel.id)
            .switch(Conversation).join(Contact, JOIN.LEFT_OUTER, on=Conversation.contact == Contact.id)
            .switch(Conversation).join(Identity, JOIN.LEFT_OUTER, on=Conversation.identity == Identity.id)
            .where(Notification.user == user_id).order_by(Notification.id.desc()).limit(limit))
    return [NotificationView(n.id, n.kind, label(n), n.conversation_id, n.created_at, n.read_at) for n in rows]


def label(notification: Notification) -> str:
    """"Channel · Name: text" for a customer message; other kinds keep their own text."""
    if notification.kind != "message" or notification.conversation_id is None:
        return notification.text
    conversation = notification.conversation
    return f"{conversation.channel.name} · {person_name(conversation)}: {notification.text}"


def person_name(conversation: Conversation) -> str:
    contact = conversation.contact if conversation.contact_id else None
    identity = conversation.identity if conversation.identity_id else None
    return ((contact.name if contact else "") or (identity.name if identity else "")
            or (f"@{identity.username}" if identity and identity.username else "") or NO_NAME)


def mark_read(user_id: int, notification_ids: list[int] | None = None) -> int:
    query = Notification.update(read_at=now_ms()).where((Notification.user == user_id) & Notification.read_at.is_null())
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
    return query.execute()


def mark_conversation_read(user_id: int, conversation_id: int) -> int:
    """Opening or answering a conversation is reading its notifications."""
    return Notification.update(read_at=now_ms()).where(
        (Notification.user == user_id) & (Notification.conversation == conversation_id)
        & Notification.read_at.is_null()).execute()


def claim_digest(digest_id: int) -> tuple[EmailDigest, list[Message], list[str]] | None:
    """Take a pending digest for sending: its messages (first message id onward) and the staff
    addresses. None when already sent or taken. Messages arriving from now on start a new digest."""
    digest = EmailDigest.get_or_none(EmailDigest.id == digest_id)
    if digest is None or digest.status != "pending":
        return None
    if EmailDigest.update(status="sending").where(
            (EmailDigest.id == digest_id) & (EmailDigest.status == "pending")).execute() == 0:
        return None
    messages = list(Message.select().where(
        (Message.conversation == digest.conversation_id) & (Message.direction == "in")
        & (Message.id >= digest.first_message_id)).order_by(Message.occurred_at, Message.id))
    staff = [u.email for u in User.select(User.email).where(User.is_active)]
    return digest, messages, staff


def digest_text(digest: EmailDigest, messages: list[Message], public_url: str) -> tuple[str, str]:
    """Subject and body of a digest e-mail."""
    conversation = digest.conversation
    who = (conversation.contact.name if conversation.contact else "") or "A customer"
    count = len(messages)
    subject = f"{who} sent {count} new message{'s' if count != 1 else ''} ({conversation.channel.name})"
    lines = [f"{who} wrote on {conversation.channel.name} ({conversation.kind.replace('_', ' ')}):", ""]
    lines += [f"- {m.text or '[attachment]'}" for m in messages]
    lines += ["", f"Open the conversation: {public_url}/dashboard?conversation={conversation.id}"]
    return subject, "\n".join(lines)


def finish_digest(digest_id: int, *, error: str | None, retry_at: int | None = None) -> None:
    """Record the outcome; a failed attempt goes back to pending with a later due time."""
    if error is None:
        EmailDigest.update(status="sent", sent_at=now_ms(), error=None).where(EmailDigest.id == digest_id).execute()
    elif retry_at is not None:
        EmailDigest.update(status="pending", error=error, attempts=EmailDigest.attempts + 1, due_at=retry_at).where(
            EmailDigest.id == digest_id).execute()
    else:
        EmailDigest.update(status="failed", error=error).where(EmailDigest.id == digest_id).execute()


def due_digests(grace_ms: int) -> list[int]:
    """Pending digests whose job should have run (lost queue message): for the clock."""
    cutoff = now_ms() - grace_ms
    return [d.id for d in EmailDigest.select(EmailDigest.id).where(
        (EmailDigest.status == "pending") & (EmailDigest.due_at < cutoff)).limit(200)]
