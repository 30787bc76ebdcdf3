"""Read models for the dashboard and the REST API: the inbox page, a conversation with what can
be sent now, a comment's campaign ledger, contacts. No writes here."""

from __future__ import annotations

import urllib.parse
from collections.abc import Collection
from typing import BinaryIO

import msgspec
from peewee import JOIN, fn

from bot.automation import assignment, campaign_stats
from bot.automation.audience import AudienceSpec
from bot.automation.campaign_stats import Funnel, funnel
from bot.automation.campaigns import REASONS, ActionSpec, CampaignSpec, TriggerSpec, spec_of
from bot.automation.context import attribute_values
from bot.automation.flows import store
from bot.channels import connect
from bot.channels import profile as messenger_profile_store
from bot.core.compose import MessageContent
from bot.core.errors import NotFound
from bot.core.profile import ProfileSpec
from bot.helpdesk import attributes, canned, merge, notes, snooze, teams
from bot.inbound import pauses
from bot.outbound import attachments as stored_files
from bot.outbound import moderation, retry
from bot.outbound.sender import last_customer_message
from bot.outbound.sendpolicy import Allowed, Author, Facts, SendKind, windows
from bot.platform.db import now_ms
from bot.platform.models import (
    Campaign,
    CampaignRun,
    CampaignStep,
    Channel,
    Comment,
    Contact,
    ContactSource,
    ContactTag,
    Conversation,
    Identity,
    Message,
    Tag,
    User,
)

PAGE_SIZE = 25


class InboxItem(msgspec.Struct):
    id: int
    kind: str
    channel: str
    contact_id: int | None
    contact_name: str
    picture_url: str | None
    preview: str
    status: str
    unread: int
    assignee: str | None
    last_message_at: int | None
    team_id: int | None = None


class InboxPage(msgspec.Struct):
    items: list[InboxItem]
    total: int
    page: int
    pages: int


class MessageView(msgspec.Struct):
    id: int
    direction: str
    author: str
    kind: str
    text: str | None
    attachments: list[dict]
    buttons: list[dict]
    status: str
    reason: str | None
    error_code: int | None
    occurred_at: int
    sent_at: int | None
    send_kind: str | None
    deleted: bool
    edited: bool
    hidden: bool
    comment_id: str | None
    mid: str | None
    reply_to_story: dict | None = None
    unsupported: bool = False
    author_name: str | None = None  # the staff member who sent it (issue 20)
    can_retry: bool = False  # failed, and sending it again can help (`bot.outbound.retry`)
    # One person, one story (issue 20): the comment this answers (a reply under someone's comment,
    # or a private reply), {"comment_id", "author", "text", "conversation_id"}; and for a private
    # reply shown in its comment thread, the DM conversation where it lives.
    replying_to: dict | None = None
    elsewhere_conversation_id: int | None = None


class SendOption(msgspec.Struct):
    reply_type: str  # message | private | comment
    allowed: bool
    reason: str | None
    until_ms: int | None
    messaging_type: str | None


class ConversationView(msgspec.Struct):
    id: int
    kind: str
    status: str
    channel: str
    channel_platform: str
    contact_id: int | None
    contact_name: str
    picture_url: str | None
    username: str | None
    profile_url: str | None
    post_url: str | None
    tags: list[str]
    assignee_id: int | None
    messages: list[MessageView]
    options: list[SendOption]
    bot_flow: str | None = None  # the flow running in the person's DM thread, and its state
    bot_state: str | None = None
    bot_paused_until: int | None = None  # a human has the conversation until then (ms)
    bot_paused_reason: str | None = None
    snoozed_until: int | None = None  # status `snoozed`: until then (ms); None: until the customer writes
    dm_conversation_id: int | None = None  # a comment conversation: the person's DM thread on this channel
    team_id: int | None = None  # the team the conversation is given to
    channel_id: int | None = None


def inbox(*, kind: str | None = None, status: str | None = None, assignee_id: int | None = None,
          tag: str | None = None, search: str | None = None, page: int = 1, page_size: int = PAGE_SIZE,
          unassigned: bool = False, channel_ids: Collection[int] = (), team_id: int | None = None,
          teams_of: int | None = None) -> InboxPage:
    """Conversations newest first, filtered; paginated with indexes so large inboxes stay fast.
    `channel_ids` keeps the conversations of those connected pages / accounts (empty: all); it
    filters on the conversation's own indexed channel id, never on a channel's name. `team_id`
    keeps one team's conversations, `teams_of` those of the teams that staff member is in."""
    query = (Conversation.select(Conversation, Contact, Channel, User)
             .join(Channel, on=Conversation.channel == Channel.id)
             .switch(Conversation).join(Contact, JOIN.LEFT_OUTER, on=Conversation.contact == Contact.id)
             .switch(Conversation).join(User, JOIN.LEFT_OUTER, on=Conversation.assignee == User.id))
    if kind:
        query = query.where(Conversation.kind == kind)
    if channel_ids:
        query = query.where(Conversation.channel.in_(sorted(set(channel_ids))))
    if status:
        query = query.where(Conversation.status == status)
    if unassigned:
        query = query.where(Conversation.assignee.is_null())
    elif assignee_id is not None:
        query = query.where(Conversation.assignee == assignee_id)
    if team_id is not None:
        query = query.where(Conversation.team == team_id)
    if teams_of is not None:
        query = query.where(Conversation.team.in_(teams.team_ids_of(teams_of) or [0]))
    if tag:
        tagged = ContactTag.select(ContactTag.contact).join(Tag).where(Tag.name == tag)
        query = query.where(Conversation.contact.in_(tagged))
    if search:
        like = f"%{search.strip()}%"
        by_text = Message.select(Message.conversation).where(Message.text ** like)
        by_name = Contact.select(Contact.id).where(Contact.name ** like)
        query = query.where(Conversation.id.in_(by_text) | Conversation.contact.in_(by_name))
    total = query.count()
    page = max(1, page)
    rows = query.order_by(Conversation.last_message_at.desc(nulls="LAST"), Conversation.id.desc()).paginate(
        page, page_size)
    items = [InboxItem(id=c.id, kind=c.kind, channel=c.channel.name, contact_id=c.contact_id,
                       contact_name=(c.contact.name if c.contact_id else "") or "Unknown",
                       picture_url=c.contact.picture_url if c.contact_id else None, preview=c.preview,
                       status=c.status, unread=c.unread_count,
                       assignee=c.assignee.email if c.assignee_id else None, last_message_at=c.last_message_at,
                       team_id=c.team_id)
             for c in rows]
    return InboxPage(items=items, total=total, page=page, pages=max(1, -(-total // page_size)))


def unread_conversations() -> int:
    return Conversation.select().where(Conversation.unread_count > 0).count()


def conversation(conversation_id: int, *, author: Author = Author.STAFF, limit: int = 200) -> ConversationView:
    c = Conversation.get_by_id(conversation_id)
    contact = c.contact if c.contact_id else None
    identity = c.identity if c.identity_id else None
    messages = list(Message.select().where(Message.conversation == c)
                    .order_by(Message.occurred_at.desc(), Message.id.desc()).limit(limit))[::-1]
    username = identity.username if identity else None
    messages = _with_private_replies(c, messages)
    names = staff_names(messages)
    views = _with_context(c, messages, names)
    return ConversationView(
        id=c.id, kind=c.kind, status=c.status, channel=c.channel.name, channel_platform=c.channel.platform,
        contact_id=c.contact_id, contact_name=(contact.name if contact else "") or (username or "Unknown"),
        picture_url=(identity.picture_url if identity else None) or (contact.picture_url if contact else None),
        username=username,
        profile_url=(f"https://www.instagram.com/{urllib.parse.quote(username, safe='')}"
                     if username and c.channel.platform == "instagram" else None),
        post_url=c.post_permalink, tags=_tags(c.contact_id), assignee_id=c.assignee_id,
        messages=views, options=send_options(c, author), **_bot_fields(c),
        snoozed_until=snooze.snoozed_until(c.id)[1] if c.status == snooze.SNOOZED else None,
        dm_conversation_id=_dm_thread_id(c),
        team_id=c.team_id, channel_id=c.channel_id,
    )


# --- one person, one story (issue 20) ----------------------------------------------------------------


def _with_private_replies(c: Conversation, messages: list[Message]) -> list[Message]:
    """A comment thread shows the private replies sent from it, in time order, although they
    live in the person's DM thread (Meta opens the DM there)."""
    comment_ids = [m.comment_id for m in messages if m.direction == "in" and m.comment_id]
    if not c.kind.endswith("_comments") or not comment_ids:
        return messages
    replies = list(Message.select().where(Message.private_reply_to.in_(comment_ids)
                                          & ((Message.conversation != c.id) | Message.conversation.is_null())))
    return sorted(messages + replies, key=lambda m: (m.occurred_at, m.id))


def _with_context(c: Conversation, messages: list[Message], names: dict[int, str]) -> list[MessageView]:
    """Each message with the comment it answers (a reply under a comment, a private or public
    reply), and a private reply shown in its comment thread with the DM conversation it lives in."""
    answered = {m.parent_comment_id or m.target_comment_id for m in messages} - {None}
    comments = {k.comment_id: k for k in Comment.select().where(Comment.comment_id.in_(list(answered)))}
    threads = _comment_threads(list(comments))
    views = []
    for message in messages:
        view = _message_view(message, names)
        answers = comments.get(message.parent_comment_id or message.target_comment_id or "")
        if answers is not None:
            view.replying_to = {"comment_id": answers.comment_id, "text": answers.text,
                                "author": _comment_author(answers, c), "by_page": answers.by_account,
                                "conversation_id": threads.get(answers.comment_id)}
        if message.private_reply_to and message.conversation_id != c.id:
            view.elsewhere_conversation_id = message.conversation_id
        views.append(view)
    return views


def _comment_author(comment: Comment, c: Conversation) -> str:
    if comment.by_account:
        return c.channel.name
    return comment.from_name or (f"@{comment.from_username}" if comment.from_username else "Someone")


def _comment_threads(comment_ids: list[str]) -> dict[str, int]:
    """comment id -> the comment conversation it is in (when it is shown in the inbox)."""
    if not comment_ids:
        return {}
    rows = Message.select(Message.comment_id, Message.conversation).where(
        Message.comment_id.in_(comment_ids) & Message.conversation.is_null(False))
    return {m.comment_id: m.conversation_id for m in rows}


def _dm_thread_id(c: Conversation) -> int | None:
    if not c.kind.endswith("_comments") or not c.identity_id:
        return None
    thread = pauses.dm_thread(c.channel, c.identity.scoped_id)
    return thread.id if thread is not None else None


def _bot_fields(c: Conversation) -> dict:
    """The bot's position and pause in the person's DM thread (a comment conversation shows its
    person's thread)."""
    thread = c if not c.kind.endswith("_comments") else pauses.dm_thread(
        c.channel, c.identity.scoped_id if c.identity_id else None)
    row = store.state_of(thread.id) if thread is not None else None
    if row is None:
        return {}
    until = pauses.paused_until(thread.id)
    return {"bot_flow": row.flow_name, "bot_state": row.state, "bot_paused_until": until,
            "bot_paused_reason": row.paused_reason if until else None}


def _message_view(m: Message, names: dict[int, str] | None = None) -> MessageView:
    return MessageView(id=m.id, direction=m.direction, author=m.author, kind=m.kind, text=m.text,
                       attachments=list(m.attachments or []), buttons=list(m.buttons or []), status=m.status,
                       reason=m.status_reason, error_code=m.error_code, occurred_at=m.occurred_at,
                       sent_at=m.sent_at, send_kind=m.send_kind, deleted=m.deleted_at is not None,
                       edited=m.edited_at is not None, hidden=m.hidden, comment_id=m.comment_id, mid=m.mid,
                       reply_to_story=m.reply_to_story, unsupported=bool(m.unsupported),
                       author_name=(names or {}).get(m.author_user_id) if m.author_user_id else None,
                       can_retry=m.status == "failed" and retry.problem(m) is None)


def send_options(c: Conversation, author: Author = Author.STAFF) -> list[SendOption]:
    """What staff can send in this conversation now, and until when (the reply box indicator)."""
    channel: Channel = c.channel
    user_id = c.identity.scoped_id if c.identity_id else None
    comment = _latest_comment(c) if c.kind.endswith("_comments") else None
    facts = Facts(kind=SendKind.DIRECT, author=author, platform=channel.platform, now_ms=now_ms(),
                  last_customer_message_ms=last_customer_message(channel, user_id),
                  comment_created_ms=comment.created_at if comment else None,
                  comment_by_account=bool(comment and comment.by_account),
                  comment_deleted=bool(comment and comment.deleted_at), comment_hidden=bool(comment and comment.hidden),
                  private_reply_used=bool(comment and _private_reply_used(comment.comment_id)),
                  human_agent_enabled=channel.human_agent)
    summary = windows(facts)
    if comment is None:
        return [_option("message", summary.direct)]
    public = Allowed(None) if not (comment.deleted_at or comment.hidden) else None
    return [_option("private", summary.private_reply),
            SendOption("comment", public is not None, None if public else "The comment is deleted or hidden.",
                       None, None)]


def _option(reply_type: str, decision: object) -> SendOption:
    if isinstance(decision, Allowed):
        return SendOption(reply_type, True, None, decision.until_ms, decision.messaging_type)
    return SendOption(reply_type, False, getattr(decision, "reason", None), None, None)


def _latest_comment(c: Conversation) -> Comment | None:
    latest = (Message.select(Message.comment_id).where((Message.conversation == c) & (Message.direction == "in")
                                                      & Message.comment_id.is_null(False))
              .order_by(Message.occurred_at.desc()).first())
    return Comment.get_or_none(Comment.comment_id == latest.comment_id) if latest else None


def _private_reply_used(comment_id: str) -> bool:
    return Message.select().where((Message.private_reply_to == comment_id)
                                  & (Message.status != "refused")).exists()


def _tags(contact_id: int | None) -> list[str]:
    if contact_id is None:
        return []
    return [t.name for t in Tag.select().join(ContactTag).where(ContactTag.contact == contact_id).order_by(Tag.name)]


class LedgerStep(msgspec.Struct):
    position: int
    status: str
    detail: str | None
    messages: list[MessageView]


class LedgerEntry(msgspec.Struct):
    campaign_id: int
    campaign: str
    matched: bool
    reason: str
    explanation: str
    source: str
    steps: list[LedgerStep]
    detail: str | None = None  # e.g. when a delayed start is due and why


def comment_ledger(comment_id: str) -> list[LedgerEntry]:
    """For one comment: each campaign that looked at it, matched or why not, and what each action
    did (sent with Meta's id, refused with the reason, failed with Meta's reason)."""
    entries = []
    for run in CampaignRun.select().where(CampaignRun.comment_id == comment_id).order_by(CampaignRun.id):
        steps = []
        for step in CampaignStep.select().where(CampaignStep.run == run).order_by(CampaignStep.position):
            key = f"campaign:{run.id}:{step.action_id}:"
            sent = Message.select().where(Message.idempotency_key.startswith(key)).order_by(Message.id)
            views = [_message_view(m) for m in sent]
            status = campaign_stats.step_status(step.status, [v.status for v in views])
            steps.append(LedgerStep(step.position, status, step.detail, views))
        entries.append(LedgerEntry(run.campaign_id, run.campaign.name, run.matched, run.reason,
                                   REASONS.get(run.reason, run.reason), run.source, steps, run.detail))
    return entries


class ContactView(msgspec.Struct):
    id: int
    name: str
    picture_url: str | None
    tags: list[str]
    identities: list[dict]
    conversations: list[dict]
    attributes: dict[str, str] = {}  # custom attribute values by key (issue 21)
    source: dict[str, str | int] = {}  # issue 22: first/last referral (ref, ad_id, source, at)


def contacts(search: str | None = None, page: int = 1, page_size: int = PAGE_SIZE) -> list[ContactView]:
    query = Contact.select()
    if search:
        like = f"%{search.strip()}%"
        by_username = Identity.select(Identity.contact).where(Identity.username ** like)
        query = query.where((Contact.name ** like) | Contact.id.in_(by_username))
    rows = query.order_by(Contact.updated_at.desc(), Contact.id.desc()).paginate(max(1, page), page_size)
    return [contact(c.id) for c in rows]


def contact(contact_id: int) -> ContactView:
    c = Contact.get_by_id(contact_id)
    identities = [{"platform": i.platform, "channel": i.channel.name, "scoped_id": i.scoped_id,
                   "username": i.username, "name": i.name, "follower_count": i.follower_count}
                  for i in Identity.select().where(Identity.contact == c)]
    conversations = [{"id": v.id, "kind": v.kind, "status": v.status, "preview": v.preview,
                      "last_message_at": v.last_message_at, "channel": v.channel.name,
                      "post_permalink": v.post_permalink}
                     for v in Conversation.select(Conversation, Channel).join(Channel)
                     .where(Conversation.contact == c)
                     .order_by(Conversation.last_message_at.desc(nulls="LAST"))]
    return ContactView(id=c.id, name=c.name or "Unknown", picture_url=c.picture_url, tags=_tags(c.id),
                       identities=identities, conversations=conversations, attributes=attribute_values(c.id),
                       source=_source(c.id))


def _source(contact_id: int) -> dict[str, str | int]:
    """Where the contact came from (ref link, ad), first and latest; empty when never referred."""
    row = ContactSource.get_or_none(ContactSource.contact == contact_id)
    if row is None:
        return {}
    fields = ("ref", "ad_id", "source", "at")
    values = {f"{when}_{f}": getattr(row, f"{when}_{f}") for when in ("first", "last") for f in fields}
    return {k: v for k, v in values.items() if v is not None}


def tag_names() -> list[str]:
    return [t.name for t in Tag.select().order_by(Tag.name)]


def staff_users() -> list[User]:
    return list(User.select().order_by(User.email))


def message_count() -> int:
    return Message.select(fn.COUNT(Message.id)).scalar()


# --- added for the REST API ---------------------------------------------------------------------------
# Read models for channels, campaigns and users, and variants of the views above that answer
# NotFound (the API's 404) instead of letting peewee's DoesNotExist escape.


class ChannelView(msgspec.Struct):
    """A connected page or Instagram account with its settings and health; never its token."""

    id: int
    platform: str
    account_id: str
    page_id: str
    name: str
    username: str | None
    followers_count: int | None
    picture_url: str | None
    receive_messages: bool
    receive_comments: bool
    notifications: bool
    emails: bool
    human_agent: bool
    fallback_message: str | None
    health_status: str
    health_reason: str | None
    last_webhook_at: int | None
    last_send_at: int | None
    is_active: bool
    created_at: int
    notify_postbacks: bool = False
    notify_campaign_comments: bool = False
    warnings: list[str] = msgspec.field(default_factory=list)  # settings that cannot work as set
    login: str = "facebook"  # "instagram": Instagram Login (no Facebook Page, graph.instagram.com)


class CampaignView(msgspec.Struct):
    id: int
    name: str
    channel_id: int
    is_active: bool
    trigger: TriggerSpec
    actions: list[ActionSpec]
    created_at: int
    updated_at: int
    audience: AudienceSpec = msgspec.field(default_factory=AudienceSpec)  # issue 22
    bound_post_id: str | None = None  # "the next post": the post it bound to (None while waiting)


class UserView(msgspec.Struct):
    id: int
    email: str
    name: str
    role: str
    is_active: bool
    created_at: int


class ContactPage(msgspec.Struct):
    items: list[ContactView]
    page: int
    page_size: int


def channels() -> list[ChannelView]:
    return [_channel_view(c) for c in Channel.select().order_by(Channel.id)]


def channel(channel_id: int) -> ChannelView:
    return _channel_view(_get(Channel, channel_id, "channel"))


def _channel_view(c: Channel) -> ChannelView:
    return ChannelView(id=c.id, platform=c.platform, account_id=c.account_id, page_id=c.page_id, name=c.name,
                       username=c.username, followers_count=c.followers_count, picture_url=c.picture_url,
                       receive_messages=c.receive_messages, receive_comments=c.receive_comments,
                       notifications=c.notifications, emails=c.emails, human_agent=c.human_agent,
                       fallback_message=c.fallback_message, health_status=c.health_status,
                       health_reason=c.health_reason, last_webhook_at=c.last_webhook_at,
                       last_send_at=c.last_send_at, is_active=c.is_active, created_at=c.created_at,
                       notify_postbacks=c.notify_postbacks, notify_campaign_comments=c.notify_campaign_comments,
                       warnings=connect.setting_warnings(c), login=c.login)


def campaigns() -> list[CampaignView]:
    return [_campaign_view(c) for c in Campaign.select().order_by(Campaign.id)]


def campaign(campaign_id: int) -> CampaignView:
    return _campaign_view(_get(Campaign, campaign_id, "campaign"))


def _campaign_view(c: Campaign) -> CampaignView:
    spec = spec_of(c)
    return CampaignView(id=c.id, name=c.name, channel_id=c.channel_id, is_active=c.is_active,
                        trigger=spec.trigger, actions=list(spec.actions), created_at=c.created_at,
                        updated_at=c.updated_at, audience=spec.audience, bound_post_id=c.bound_post_id)


def campaign_funnel(campaign_id: int) -> Funnel:
    _get(Campaign, campaign_id, "campaign")
    return funnel(campaign_id)


def users() -> list[UserView]:
    return [user_view(u) for u in staff_users()]


def user_view(u: User) -> UserView:
    return UserView(id=u.id, email=u.email, name=u.name, role=u.role, is_active=u.is_active,
                    created_at=u.created_at)


def conversation_view(conversation_id: int, *, author: Author = Author.STAFF,
                      limit: int = 200) -> ConversationView:
    _get(Conversation, conversation_id, "conversation")
    return conversation(conversation_id, author=author, limit=limit)


def message_views(messages: list[Message]) -> list[MessageView]:
    names = staff_names(messages)
    return [_message_view(m, names) for m in messages]


def contact_view(contact_id: int) -> ContactView:
    _get(Contact, contact_id, "contact")
    return contact(contact_id)


def contact_page(search: str | None = None, page: int = 1, page_size: int = PAGE_SIZE) -> ContactPage:
    return ContactPage(items=contacts(search, page, page_size), page=max(1, page), page_size=page_size)


def _get(model: type, ident: int, what: str):  # noqa: ANN202 - the row of `model`
    row = model.get_or_none(model.id == ident)
    if row is None:
        raise NotFound(what, ident)
    return row


def campaign_spec(campaign_id: int) -> CampaignSpec:
    """A saved campaign's definition (for a dry run of what is saved)."""
    return spec_of(_get(Campaign, campaign_id, "campaign"))


# --- helpdesk (issue 21) ------------------------------------------------------------------------------


def conversation_notes(conversation_id: int, limit: int = 200) -> list[notes.NoteView]:
    """A conversation's private notes, oldest first (staff only; never part of what is sent)."""
    _get(Conversation, conversation_id, "conversation")
    return notes.of_conversation(conversation_id, limit)


def canned_responses(user_id: int) -> list[canned.CannedView]:
    """The saved replies this staff member can insert: the team's and their own."""
    return canned.visible(user_id)


def canned_response(user_id: int, canned_id: int) -> canned.CannedView:
    return canned.get(user_id, canned_id)


def render_canned(user_id: int, canned_id: int, conversation_id: int) -> MessageContent:
    """A canned response filled in for the person of a conversation (the reply box's insert)."""
    return canned.rendered(user_id, canned_id, conversation_id)


def expand_canned(user_id: int, conversation_id: int, text: str) -> MessageContent:
    """`text` with each `/name` of a known canned response replaced by it, rendered, with their
    attachments and buttons."""
    return canned.expand(user_id, conversation_id, text)


# --- issue 20: who sent it --------------------------------------------------------------------------


def staff_names(messages: list[Message]) -> dict[int, str]:
    """Names of the staff members who wrote these messages, in one query (a reply is credited to
    its author, not to "Staff")."""
    ids = {m.author_user_id for m in messages if m.author_user_id}
    if not ids:
        return {}
    return {u.id: u.name or u.email for u in User.select(User.id, User.name, User.email).where(User.id.in_(ids))}


# --- contact merges and assignment rules (issue 21) ---------------------------------------------------


def merge_suggestions(limit: int = merge.MAX_SUGGESTIONS) -> list[merge.Suggestion]:
    """Pairs of contacts that look like one person (same name or picture, no channel in common)."""
    return merge.suggestions(limit)


def contact_merges(contact_id: int) -> list[merge.MergeView]:
    """The merges into a contact, newest first, undone ones included."""
    _get(Contact, contact_id, "contact")
    return merge.merges_of(contact_id)


def assignment_rule(channel_id: int) -> assignment.RuleView:
    return assignment.rule_of(channel_id)


def is_available(user_id: int) -> bool:
    """Whether this staff member takes new conversations now."""
    return assignment.is_available(user_id)


# --- custom contact attributes (issue 21) -----------------------------------------------------------


def attribute_definitions() -> list[attributes.AttributeView]:
    return attributes.definitions()


# --- comment moderation and the Messenger profile (issue 22) ----------------------------------------


def comment_moderation(comment_id: str) -> list[moderation.ModerationView]:
    """What was done to one comment (liked, hidden) by whom, and why not where refused."""
    return [moderation.view_of(r) for r in moderation.for_comments([comment_id]).get(comment_id, [])]


def comments_moderation(comment_ids: list[str]) -> dict[str, list[moderation.ModerationView]]:
    """The same for the comments of a conversation screen, in one query."""
    return {c: [moderation.view_of(r) for r in rows] for c, rows in moderation.for_comments(comment_ids).items()}


def messenger_profile(channel_id: int) -> messenger_profile_store.ProfileView:
    return messenger_profile_store.view(channel_id)


def messenger_profile_on_meta(channel_id: int) -> ProfileSpec:
    """What Meta holds now (one Graph call: for a "check" button, not for every page view)."""
    return messenger_profile_store.read_from_meta(channel_id)


# --- attached files (issue 20) ------------------------------------------------------------------------


def stored_file(file_id: str) -> tuple[stored_files.FileView, BinaryIO]:
    """A file staff attached: its facts and its bytes (the caller closes the stream). NotFound
    for an unknown id."""
    return stored_files.open_file(file_id)


def teams_list() -> list[teams.TeamView]:
    return teams.teams()


def team(team_id: int) -> teams.TeamView:
    return teams.team(team_id)


def team_ids_of(user_id: int) -> list[int]:
    return teams.team_ids_of(user_id)
