"""What staff (dashboard) and integrations (REST API) may change. Each command validates its
input (errors name the field), writes through the same services the automations use, and
enqueues the resulting sends: one send policy for staff, bot and campaigns."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from bot import jobs
from bot.automation import assignment, campaigns, handover, notifications
from bot.automation.context import attribute_values
from bot.automation.router import FollowUps
from bot.channels import backfill, connect
from bot.channels import profile as messenger_profile
from bot.core.compose import Button, MediaAttachment, MessageContent, validate_content
from bot.core.errors import Invalid, NotFound, Refused
from bot.core.profile import ProfileSpec
from bot.helpdesk import attributes, canned, merge, notes, snooze, teams
from bot.inbound import ingest
from bot.inbound.contacts import tag_contact, tags_of, untag_contact
from bot.outbound import attachments as stored_files
from bot.outbound import moderation, outbox, outhooks, retry
from bot.outbound.sendpolicy import SendKind
from bot.platform.db import now_ms, transaction
from bot.platform.models import Channel, Comment, Contact, Conversation, Message, StaffSession, StatusChange, User
from bot.staff.drafts import ReplyType, parse_reply_type


def reply(user_id: int, conversation_id: int, *, text: str | None = None,
          attachments: list[MediaAttachment] | None = None, buttons: list[Button] | None = None,
          reply_type: ReplyType | str = ReplyType.MESSAGE, comment_id: str | None = None,
          client_key: str | None = None) -> list[Message]:
    """A staff reply. For a comment conversation `reply_type` chooses a private message or a
    public reply to `comment_id` (default: the person's latest comment there). Returns the rows
    created (their status says whether they will go, or why they were refused)."""
    conversation = _conversation(conversation_id)
    reply_type = parse_reply_type(reply_type)
    content = MessageContent(text=text or None, attachments=tuple(attachments or ()), buttons=tuple(buttons or ()))
    validate_content(content, conversation.channel.platform, "message")
    stored_files.check_for_channel(content, conversation.channel, "message.attachments")
    key = f"staff:{client_key or uuid.uuid4().hex}"
    draft = _draft(conversation, reply_type, content, key, user_id, comment_id)
    with transaction():
        ready = outbox.add(draft)
        Conversation.update(unread_count=0).where(Conversation.id == conversation.id).execute()
        notifications.mark_conversation_read(user_id, conversation.id)  # answering is reading
        handover.pause_after_staff(conversation)  # the bot never talks over a person
        rows = list(Message.select().where(Message.idempotency_key.startswith(key + ":")).order_by(Message.id))
    jobs.dispatch(FollowUps(send=ready))
    return rows


def _draft(conversation: Conversation, reply_type: ReplyType, content: MessageContent, key: str, user_id: int,
           comment_id: str | None) -> outbox.Draft:
    is_comments = conversation.kind.endswith("_comments")
    if reply_type == ReplyType.MESSAGE:
        if is_comments:
            raise Invalid("reply_type", "a comment conversation is answered privately or with a public reply")
        return outbox.Draft(key=key, kind=SendKind.DIRECT, content=content, author="staff",
                            conversation_id=conversation.id, author_user_id=user_id, origin="staff")
    if not is_comments:
        raise Invalid("reply_type", "only comment conversations have comments to reply to")
    comment = _target_comment(conversation, comment_id)
    if reply_type == ReplyType.COMMENT and (content.attachments or content.buttons):
        raise Invalid("message", "a public reply to a comment is text only")
    kind = SendKind.PRIVATE_REPLY if reply_type == ReplyType.PRIVATE else SendKind.COMMENT_REPLY
    return outbox.Draft(key=key, kind=kind, content=content, author="staff", conversation_id=None
                        if kind == SendKind.PRIVATE_REPLY else conversation.id, comment_id=comment.comment_id,
                        author_user_id=user_id, origin="staff")


def _target_comment(conversation: Conversation, comment_id: str | None) -> Comment:
    query = Message.select().where((Message.conversation == conversation) & (Message.direction == "in")
                                   & Message.comment_id.is_null(False))
    if comment_id:
        query = query.where(Message.comment_id == comment_id)
    latest = query.order_by(Message.occurred_at.desc()).first()
    if latest is None:
        raise Invalid("comment_id", "no such comment from this person in this conversation")
    return Comment.get(Comment.comment_id == latest.comment_id)


def assign(conversation_id: int, user_id: int | None) -> Conversation:
    conversation = _conversation(conversation_id)
    if user_id is not None and not User.select().where((User.id == user_id) & User.is_active).exists():
        raise Invalid("assignee", "no such active staff user")
    Conversation.update(assignee=user_id).where(Conversation.id == conversation.id).execute()
    return Conversation.get_by_id(conversation.id)


def set_status(conversation_id: int, status: str, by: int | None = None) -> Conversation:
    """Close or reopen a conversation (a new customer message reopens it too); either ends a
    snooze. A close, or a reopen of a closed one, is recorded with who did it (for reports)."""
    if status not in ("open", "closed"):
        raise Invalid("status", "must be open or closed")
    conversation = _conversation(conversation_id)
    with transaction():
        Conversation.update(status=status).where(Conversation.id == conversation.id).execute()
        snooze.clear(conversation.id)  # closing or reopening by hand ends a snooze
        if (status == "closed") != (conversation.status == "closed"):
            StatusChange.create(conversation=conversation.id, status=status, user=by, at=now_ms())
        hooks = [] if conversation.status != snooze.SNOOZED else outhooks.conversation_changed(
            outhooks.CONVERSATION_UNSNOOZED, conversation.id,
            {"reason": "closed" if status == "closed" else "reopened", "by_user_id": by})
    jobs.dispatch(FollowUps(hooks=hooks))
    return Conversation.get_by_id(conversation.id)


def mark_conversation_read(conversation_id: int) -> None:
    Conversation.update(unread_count=0).where(Conversation.id == conversation_id).execute()


def add_tag(contact_id: int, tag: str) -> list[str]:
    """Tag a contact that must exist (the name is checked); returns its tags."""
    _contact(contact_id)
    tag_contact(contact_id, _tag_name(tag))
    return tags_of(contact_id)


def remove_tag(contact_id: int, tag: str) -> list[str]:
    _contact(contact_id)
    untag_contact(contact_id, tag.strip())
    return tags_of(contact_id)


def _conversation(conversation_id: int) -> Conversation:
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        raise NotFound("conversation", conversation_id)
    return conversation


# --- added for the REST API ---------------------------------------------------------------------------

MAX_TAG_CHARS = 100


def tag_conversation(conversation_id: int, tag: str) -> list[str]:
    """Tags belong to the person: tagging a conversation tags its contact."""
    return add_tag(_conversation_contact(conversation_id), tag)


def untag_conversation(conversation_id: int, tag: str) -> list[str]:
    return remove_tag(_conversation_contact(conversation_id), tag)


def deactivate_user(acting_user_id: int, user_id: int) -> User:
    """Block a staff user: their sessions end and their API tokens stop working (kept for the record)."""
    if acting_user_id == user_id:
        raise Refused("You cannot deactivate your own account.")
    if User.get_or_none(User.id == user_id) is None:
        raise NotFound("user", user_id)
    with transaction():
        User.update(is_active=False).where(User.id == user_id).execute()
        StaffSession.delete().where(StaffSession.user == user_id).execute()
    return User.get_by_id(user_id)


def _tag_name(tag: str) -> str:
    name = tag.strip()
    if not name:
        raise Invalid("tag", "must not be empty")
    if len(name) > MAX_TAG_CHARS:
        raise Invalid("tag", f"at most {MAX_TAG_CHARS} characters")
    return name


def _contact(contact_id: int) -> Contact:
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


def _conversation_contact(conversation_id: int) -> int:
    conversation = _conversation(conversation_id)
    if conversation.contact_id is None:
        raise Refused("This conversation has no known person to tag.")
    return conversation.contact_id


# --- bot handover (issue 6) ---------------------------------------------------------------------------


def pause_bot(conversation_id: int, minutes: int | None = None) -> int | None:
    """Staff take the conversation: the bot and campaigns stay silent until resumed or until the
    pause ends (`minutes`, default the channel's pause time). Returns the pause deadline (ms)."""
    conversation = _conversation(conversation_id)
    if minutes is not None and not 1 <= minutes <= handover.MAX_PAUSE_SECONDS // 60:
        raise Invalid("minutes", f"must be between 1 and {handover.MAX_PAUSE_SECONDS // 60}")
    row = handover.pause(conversation.id, "Paused by staff.", minutes * 60 if minutes else None)
    return row.paused_until


def resume_bot(conversation_id: int) -> None:
    """Give the conversation back to the bot (it continues from its saved state)."""
    handover.resume(_conversation(conversation_id).id)


def send_campaign_to_past_comments(campaign_id: int) -> tuple[int, int]:
    """Run a saved, active campaign on the stored comments it matches that Meta still lets us
    answer privately (7 days), each once; sends go through the normal per-page rate limit.
    Returns (comments answered, messages queued)."""
    done = campaigns.send_to_past_comments(campaign_id)
    jobs.dispatch(FollowUps(send=done.messages, moderate=moderation.pending_ids()))
    return done.comments, len(done.messages)


# --- comment moderation and the Messenger profile (issue 22) ------------------------------------------


def moderate_comment(user_id: int, conversation_id: int, comment_id: str, action: str) -> moderation.ModerationView:
    """Staff like or hide a comment of this conversation: the same ledger (once per comment and
    action) and policy as campaigns; a refusal comes back in the row with its reason."""
    if action not in moderation.ACTIONS:
        raise Invalid("action", f"must be one of {', '.join(moderation.ACTIONS)}")
    conversation = _conversation(conversation_id)
    if not Message.select().where((Message.conversation == conversation) & (Message.comment_id == comment_id)
                                  ).exists():
        raise Invalid("comment_id", "no such comment in this conversation")
    with transaction():
        asked = moderation.request(conversation.channel_id, comment_id, action, f"staff:{user_id}")
    if asked.created and asked.row.status == "pending":
        jobs.dispatch(FollowUps(moderate=[asked.row.id]))
    return moderation.view_of(asked.row)


def save_messenger_profile(channel_id: int, spec: ProfileSpec) -> messenger_profile.ProfileView:
    """Save a channel's Messenger profile (checked against Meta's limits) and push it to Meta
    when it changed (the profile API is rate-limited: never pushed needlessly)."""
    view, changed = messenger_profile.save(channel_id, spec)
    if changed:
        jobs.push_messenger_profile.send(channel_id)
    return view


# --- channels (issue 12) ------------------------------------------------------------------------------


def connect_page(page_id: str, name: str, token: str, **options: Any) -> list[Channel]:
    """Connect (or reconnect) a page and its Instagram account (`bot.channels.connect`), then
    enqueue what connecting recorded: health e-mails and gap backfills."""
    connected = connect.connect_page(page_id, name, token, **options)
    for recorded in connected.health:
        jobs.follow_health(recorded)
    return connected.channels


def connect_instagram_login(token: str, instagram_id: str | None = None) -> list[Channel]:
    """Connect (or reconnect) an Instagram account with Instagram Login, no Facebook Page
    (`bot.channels.connect`), then enqueue what connecting recorded."""
    connected = connect.connect_instagram_login(token, instagram_id=instagram_id)
    for recorded in connected.health:
        jobs.follow_health(recorded)
    return connected.channels


def update_channel_settings(channel_id: int, **toggles: bool | str | None) -> Channel:
    """Change a channel's toggles and bot fallback message (`bot.channels.connect`)."""
    return connect.update_settings(channel_id, **toggles)


def request_backfill(channel_id: int, since: int, until: int | None, *, requested_by: int | None
                     ) -> backfill.BackfillView:
    """An admin's "read back this period": the run is stored, then enqueued."""
    view = backfill.request(channel_id, since, until, requested_by=requested_by)
    jobs.run_backfill.send(view.id)
    return view


# --- helpdesk (issue 21) ------------------------------------------------------------------------------


def add_note(user_id: int, conversation_id: int, text: str) -> notes.NoteView:
    """A private note (never sent to the customer); mentioned staff are notified, and the
    `note.created` outgoing webhook is enqueued once the note is committed."""
    added = notes.add(user_id, conversation_id, text)
    jobs.dispatch(FollowUps(hooks=added.hook_deliveries))
    return added.note


def delete_note(user_id: int, note_id: int, conversation_id: int | None = None) -> None:
    """Delete one of your own notes (of that conversation, when given)."""
    notes.delete(user_id, note_id, conversation_id)


def snooze_conversation(user_id: int, conversation_id: int, until: int | None) -> Conversation:
    """Snooze until `until` (ms) or, with None, until the customer writes again; the
    `conversation.snoozed` outgoing webhook is enqueued once committed."""
    with transaction():
        snooze.snooze(conversation_id, until, user_id)
        hooks = outhooks.conversation_changed(outhooks.CONVERSATION_SNOOZED, conversation_id,
                                              {"until": until, "by_user_id": user_id})
    jobs.dispatch(FollowUps(hooks=hooks))
    return Conversation.get_by_id(conversation_id)


def create_canned(user_id: int, name: str, content: MessageContent | str, *, shared: bool,
                  team_id: int | None = None) -> canned.CannedView:
    """Save a canned response (checked like a campaign message): shared, a team's, or personal."""
    return canned.create(user_id, name, content, shared=shared, team_id=team_id)


def update_canned(user_id: int, canned_id: int, *, name: str | None = None,
                  content: MessageContent | str | None = None, shared: bool | None = None) -> canned.CannedView:
    return canned.update(user_id, canned_id, name=name, content=content, shared=shared)


def delete_canned(user_id: int, canned_id: int) -> None:
    canned.delete(user_id, canned_id)


# --- webhook deliveries (issue 17) ---------------------------------------------------------------


def retry_delivery(delivery_id: int) -> None:
    """Put a quarantined webhook delivery back in line (an admin, after looking at the reason)."""
    if not ingest.retry_quarantined(delivery_id):
        raise NotFound("quarantined delivery", delivery_id)
    jobs.process_delivery.send(delivery_id)


# --- issue 20: reading a conversation reads its notifications; failed sends retried -----------------


def open_conversation(user_id: int, conversation_id: int) -> None:
    """Staff looked at the conversation: its unread count and this person's notifications of it
    are read (the bell follows the work)."""
    with transaction():
        mark_conversation_read(conversation_id)
        notifications.mark_conversation_read(user_id, conversation_id)


def retry_message(user_id: int, message_id: int, conversation_id: int | None = None) -> list[Message]:
    """Queue a failed outgoing message again as a new attempt (`bot.outbound.retry`); returns the
    new rows (their status says whether they go). A second call queues nothing more."""
    failed = Message.get_or_none(Message.id == message_id)
    if failed is None or failed.direction != "out" or conversation_id not in (None, failed.conversation_id):
        raise NotFound("outgoing message", message_id)
    problem = retry.problem(failed)
    if problem is not None:
        raise Invalid("message_id", problem)
    with transaction():
        ready = outbox.add(retry.draft(failed, user_id))
        rows = list(Message.select().where(Message.idempotency_key.startswith(retry.retry_key(failed.id) + ":"))
                    .order_by(Message.id))
    jobs.dispatch(FollowUps(send=ready))
    return rows


# --- contact merges and assignment rules (issue 21) ---------------------------------------------------


def merge_contacts(user_id: int, contact_id: int, merged_id: int) -> merge.MergeView:
    """Merge contact `merged_id` into `contact_id` (recorded, undoable); the `contact.merged`
    outgoing webhook is enqueued once the merge is committed."""
    done = merge.merge(contact_id, merged_id, user_id)
    jobs.dispatch(FollowUps(hooks=done.hook_deliveries))
    return done.merge


def unmerge_contacts(user_id: int, merge_id: int) -> merge.MergeView:
    """Undo a merge: the merged contact comes back with exactly what moved."""
    return merge.unmerge(merge_id, user_id)


def set_availability(user_id: int, available: bool) -> assignment.Handed:
    """A staff member takes new conversations or stops; stopping hands their open ones on."""
    return assignment.set_available(user_id, available)


def set_assignment_rule(channel_id: int, *, enabled: bool, cap: int, members: list[int],
                        team_id: int | None = None) -> assignment.RuleView:
    """A channel's round-robin settings (admins); with a team, among its members."""
    return assignment.set_rule(channel_id, enabled=enabled, cap=cap, members=members, team_id=team_id)


# --- teams (issue 21) ------------------------------------------------------------------------------


def create_team(name: str, channel_id: int | None, members: list[int]) -> teams.TeamView:
    return teams.create(name, channel_id, members)


def update_team(team_id: int, **changes: Any) -> teams.TeamView:
    """Change a team's name, channel (None: every channel) or members (only those given)."""
    return teams.update(team_id, **changes)


def delete_team(team_id: int) -> None:
    teams.delete(team_id)


def assign_team(user_id: int, conversation_id: int, team_id: int | None) -> Conversation:
    """Give a conversation to a team (or none); `conversation.team_changed` is enqueued."""
    with transaction():
        before, after = teams.assign(conversation_id, team_id)
        hooks = [] if before == after else outhooks.conversation_changed(
            outhooks.CONVERSATION_TEAM_CHANGED, conversation_id,
            {"team_id": after, "previous_team_id": before, "by_user_id": user_id})
    jobs.dispatch(FollowUps(hooks=hooks))
    return Conversation.get_by_id(conversation_id)


# --- custom contact attributes (issue 21) -----------------------------------------------------------


def define_attribute(key: str, label: str, kind: str, choices: list[str] | None = None) -> attributes.AttributeView:
    return attributes.define(key, label, kind, choices)


def remove_attribute(key: str) -> None:
    attributes.remove(key)


def set_contact_attributes(contact_id: int, values: dict[str, str | float | None],
                           user_id: int | None = None) -> dict[str, str]:
    """Set several values at once (None or "" clears one); one bad value changes nothing. A real
    change enqueues `contact.attributes_changed`."""
    return _attributes_change(contact_id, user_id, lambda: attributes.set_values(contact_id, values))


def clear_contact_attribute(contact_id: int, key: str, user_id: int | None = None) -> dict[str, str]:
    return _attributes_change(contact_id, user_id, lambda: attributes.clear(contact_id, key))


def _attributes_change(contact_id: int, user_id: int | None, change: Any) -> dict[str, str]:
    with transaction():
        before = attribute_values(contact_id)
        after = change()
        hooks = outhooks.attributes_changed(contact_id, before, after, user_id)
    jobs.dispatch(FollowUps(hooks=hooks))
    return after


# --- attached files (issue 20) ------------------------------------------------------------------------


def upload_file(user_id: int, chunks: Iterable[bytes], name: str, declared_type: str | None = None
                ) -> stored_files.FileView:
    """Keep a file staff attach (size and type checked while it streams in); reply with it as an
    attachment `{"type": ..., "file_id": <id>}`. No transaction around it: the file streams to disk
    first, and no database lock is held meanwhile."""
    return stored_files.store_file(chunks, name, user_id, declared_type)
