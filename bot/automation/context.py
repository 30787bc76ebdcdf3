"""What a campaign or a bot flow knows about the person behind a comment, and what a campaign
button's payload carries: shared by the campaigns (which write them) and the flow engine and
stats (which read them), so neither has to import the other."""

from __future__ import annotations

from bot.platform import cache
from bot.platform.models import (
    AttributeDefinition,
    Channel,
    Comment,
    Contact,
    ContactAttribute,
    Conversation,
    Identity,
    Message,
)
from bot.platform.registry import channel_by_id

POSTBACK_PREFIX = "sdc:"  # campaign button payloads: sdc:<run>:<action>:<original payload>


def identity_of(comment: Comment) -> Identity | None:
    """The commenter's identity on the channel, once known (a comment may come before any DM)."""
    if not comment.from_id:
        return None
    return cache.memo("identity", (comment.channel_id, comment.from_id), lambda: Identity.get_or_none(
        (Identity.channel == comment.channel_id) & (Identity.scoped_id == comment.from_id)))


def shortcode_context(comment: Comment) -> dict[str, object]:
    """The values shortcodes render to, for the person who wrote `comment`."""
    identity = identity_of(comment)
    contact = cache.memo("contact", identity.contact_id, lambda: Contact.get_by_id(identity.contact_id)) \
        if identity else None
    channel: Channel = channel_by_id(comment.channel_id)
    full = (contact.name if contact else None) or comment.from_name or comment.from_username
    return {
        "first_name": (contact.first_name if contact else None) or (full.split()[0] if full else None),
        "last_name": (contact.last_name if contact else None) or (" ".join(full.split()[1:]) if full else None),
        "full_name": full,
        "username": (identity.username if identity else None) or comment.from_username,
        "contact_id": str(contact.id) if contact else None,
        "channel": "Instagram" if channel.platform == "instagram" else "Messenger",
        "page_name": channel.name,
        "comment_text": comment.text,
        "post_url": comment.post_permalink,
        "attributes": attribute_values(contact.id if contact else None),
    }


def conversation_context(conversation: Conversation) -> dict[str, object]:
    """The values shortcodes render to for the person of a conversation: in a comment
    conversation, as for their latest comment there (its text and post)."""
    if conversation.kind.endswith("_comments"):
        latest = (Message.select(Message.comment_id).where(
            (Message.conversation == conversation) & (Message.direction == "in") & Message.comment_id.is_null(False))
            .order_by(Message.occurred_at.desc()).first())
        comment = Comment.get_or_none(Comment.comment_id == latest.comment_id) if latest else None
        if comment is not None:
            return shortcode_context(comment)
    return person_context(conversation, conversation.channel)


def person_context(conversation: Conversation, channel: Channel) -> dict[str, object]:
    """Shortcode values for the person of a DM conversation (no comment to quote)."""
    contact = Contact.get_or_none(Contact.id == conversation.contact_id) if conversation.contact_id else None
    identity = conversation.identity if conversation.identity_id else None
    full = (contact.name if contact else None) or (identity.name if identity else None)
    return {
        "first_name": (contact.first_name if contact else None) or (full.split()[0] if full else None),
        "last_name": contact.last_name if contact else None,
        "full_name": full,
        "username": identity.username if identity else None,
        "contact_id": str(contact.id) if contact else None,
        "channel": "Instagram" if channel.platform == "instagram" else "Messenger",
        "page_name": channel.name,
        "attributes": attribute_values(contact.id if contact else None),
    }


def parse_payload(payload: str) -> tuple[int, int, str] | None:
    """(run id, action id, original payload) of a campaign button's payload, else None."""
    if not payload.startswith(POSTBACK_PREFIX):
        return None
    try:
        run_id, action_id, original = payload[len(POSTBACK_PREFIX):].split(":", 2)
        return int(run_id), int(action_id), original
    except ValueError:
        return None


def _any_attribute_defined() -> bool:
    """Whether admins defined any custom attribute (most installs none: no read per comment)."""
    return cache.cached("attributes_defined", None, lambda: AttributeDefinition.select().exists())


def attribute_kinds() -> dict[str, str]:
    """Each defined attribute's declared type by key, so conditions compare by type (a copy per
    configuration version: definitions bump it)."""
    return cache.cached("attribute_kinds", None,
                        lambda: {d.key: d.kind for d in AttributeDefinition.select(AttributeDefinition.key,
                                                                                   AttributeDefinition.kind)})


def attribute_values(contact_id: int | None) -> dict[str, str]:
    """A contact's custom attribute values by key (`{{ attributes.vip_level }}`, campaign
    conditions); read here, on the floor both the campaigns and the helpdesk stand on."""
    if contact_id is None or not _any_attribute_defined():
        return {}
    rows = (ContactAttribute.select(ContactAttribute.value, AttributeDefinition.key)
            .join(AttributeDefinition).where(ContactAttribute.contact == contact_id))
    return {row.attribute.key: row.value for row in rows}
