"""Small builders for the helpdesk's service tests."""

from __future__ import annotations

from bot.platform.models import Channel, Contact, Conversation, User


def staff(email: str, name: str = "", role: str = "agent") -> int:
    return User.create(email=email, name=name, role=role, password_hash="x", created_at=0).id


def conversation(key: str = "dm:facebook:1:42", *, status: str = "open", name: str = "Dana Buyer") -> int:
    channel = Channel.get_or_none(Channel.account_id == "1") or Channel.create(
        platform="facebook", account_id="1", page_id="1", name="Acme Shoes", created_at=0)
    contact = Contact.create(name=name, first_name=name.split()[0], created_at=0, updated_at=0)
    return Conversation.create(thread_key=key, kind="messenger", channel=channel, contact=contact, status=status,
                               created_at=0, last_message_at=1).id
