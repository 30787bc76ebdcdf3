"""The tables. Constraints carry the invariants (one message per Meta id, one private reply per
comment, one outgoing row per idempotency key); behaviour lives in the services.

Times are integers in milliseconds since the epoch, like Meta's timestamps. Schema changes go
through numbered migrations in `bot/migrations/`, never through `create_tables` on a live
database.
"""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    TextField,
)

from bot.platform.db import db


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


# --- staff -----------------------------------------------------------------------------------


class User(BaseModel):
    """A staff member: admin (everything) or agent (inbox only)."""

    email = CharField(unique=True)
    name = CharField(default="")
    password_hash = CharField()
    role = CharField(default="agent")
    is_active = BooleanField(default=True)
    created_at = BigIntegerField()


class StaffSession(BaseModel):
    """A dashboard login; only the token's hash is stored."""

    token_hash = CharField(unique=True)
    user = ForeignKeyField(User, on_delete="CASCADE")
    created_at = BigIntegerField()
    expires_at = BigIntegerField()


class ApiToken(BaseModel):
    """A REST API bearer token tied to a staff user; only the hash is stored."""

    token_hash = CharField(unique=True)
    user = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(default="")
    created_at = BigIntegerField()
    last_used_at = BigIntegerField(null=True)
    expires_at = BigIntegerField(null=True)  # migration 0010: optional expiry
    revoked_at = BigIntegerField(null=True)  # migration 0010: revoked one by one, kept for the record


# --- channels ----------------------------------------------------------------------------------


class Channel(BaseModel):
    """A connected Facebook Page or Instagram professional account.

    `account_id` is the page id or the Instagram account id (the `entry.id` of its webhooks);
    `page_id` is the Facebook Page whose token and Send API endpoint serve it (itself for a page,
    the linked page for an Instagram account; the account itself for Instagram Login, `login ==
    "instagram"`, whose token is an Instagram User token). The token is encrypted (`bot.platform.vault`).
    """

    platform = CharField()
    account_id = CharField()
    page_id = CharField()
    name = CharField(default="")
    username = CharField(null=True)
    followers_count = IntegerField(null=True)
    picture_url = TextField(null=True)
    token_encrypted = TextField(null=True)
    receive_messages = BooleanField(default=True)
    receive_comments = BooleanField(default=True)
    notifications = BooleanField(default=True)
    emails = BooleanField(default=False)
    human_agent = BooleanField(default=False)
    notify_postbacks = BooleanField(default=False)  # migration 0017: button taps ring the bell
    notify_campaign_comments = BooleanField(default=False)  # 0017: comments a campaign answered do too
    fallback_message = TextField(null=True)
    health_status = CharField(default="unknown")
    health_reason = TextField(null=True)
    last_webhook_at = BigIntegerField(null=True)
    last_send_at = BigIntegerField(null=True)
    is_active = BooleanField(default=True)
    created_at = BigIntegerField()
    login = CharField(default="facebook")  # migration 0023: "instagram" = Instagram Login (graph.instagram.com)

    class Meta:
        indexes = ((("platform", "account_id"), True),)


# --- inbound pipeline --------------------------------------------------------------------------


class Delivery(BaseModel):
    """One webhook POST exactly as received (raw bytes), stored before answering 200."""

    received_at = BigIntegerField(index=True)
    body = BlobField()
    status = CharField(default="received")  # received | processed | failed | quarantined
    object = CharField(null=True)
    events = IntegerField(default=0)
    ignored = IntegerField(default=0)
    reason = TextField(null=True)
    processed_at = BigIntegerField(null=True)
    attempts = IntegerField(default=0)  # expansions started (counted before the work)
    retry_at = BigIntegerField(null=True)  # a failed expansion waits until then

    class Meta:
        indexes = ((("status", "received_at"), False),)


class IgnoredItem(BaseModel):
    """A well-formed part of a delivery we do not handle, with the reason (kept for the record)."""

    delivery = ForeignKeyField(Delivery, on_delete="CASCADE")
    reason = TextField()
    object = CharField(null=True)
    field = CharField(null=True)
    account_id = CharField(null=True)


class InboundEvent(BaseModel):
    """A normalized event (`bot.core.events`), unique by its idempotency key, applied in order per
    conversation key."""

    event_key = CharField(unique=True, max_length=512)
    conversation_key = CharField(max_length=512)
    delivery = ForeignKeyField(Delivery, null=True, on_delete="SET NULL")
    seq = IntegerField(default=0)
    kind = CharField()
    occurred_at = BigIntegerField()
    payload = BlobField()
    status = CharField(default="pending")  # pending | applied | failed
    reason = TextField(null=True)
    attempts = IntegerField(default=0)
    source = CharField(default="webhook")  # webhook | backfill
    created_at = BigIntegerField()
    applied_at = BigIntegerField(null=True)

    class Meta:
        indexes = (
            (("conversation_key", "status", "occurred_at"), False),
            (("status", "created_at"), False),
        )


# --- people ----------------------------------------------------------------------------------


class Contact(BaseModel):
    """A customer: one person, possibly with several identities (Messenger + comments on one page
    share a PSID; Instagram is a separate identity)."""

    name = CharField(default="")
    first_name = CharField(null=True)
    last_name = CharField(null=True)
    picture_url = TextField(null=True)
    created_at = BigIntegerField()
    updated_at = BigIntegerField()


class Identity(BaseModel):
    """A contact's id on one channel: (channel, page- or Instagram-scoped user id)."""

    contact = ForeignKeyField(Contact, backref="identities", on_delete="CASCADE")
    channel = ForeignKeyField(Channel, on_delete="CASCADE", index=False)
    platform = CharField()
    scoped_id = CharField()
    name = CharField(null=True)
    username = CharField(null=True)
    picture_url = TextField(null=True)
    follower_count = IntegerField(null=True)
    profile_fetched_at = BigIntegerField(null=True)
    profile_due_at = BigIntegerField(null=True)
    profile_error = TextField(null=True)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("channel", "scoped_id"), True),)


class Tag(BaseModel):
    name = CharField(unique=True)


class ContactTag(BaseModel):
    contact = ForeignKeyField(Contact, on_delete="CASCADE", index=False)
    tag = ForeignKeyField(Tag, on_delete="CASCADE")
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("contact", "tag"), True),)


# --- comments ---------------------------------------------------------------------------------


class Comment(BaseModel):
    """The facts about one comment that rules depend on (private reply allowed? page's own? still
    there?), kept even when the channel does not show comments in the inbox."""

    comment_id = CharField(unique=True)
    channel = ForeignKeyField(Channel, on_delete="CASCADE", index=False)
    post_id = CharField()
    parent_id = CharField(null=True)
    from_id = CharField(null=True)
    from_name = CharField(null=True)
    from_username = CharField(null=True)
    text = TextField(null=True)
    by_account = BooleanField(default=False)
    created_at = BigIntegerField()
    deleted_at = BigIntegerField(null=True)
    edited_at = BigIntegerField(null=True)
    hidden = BooleanField(default=False)
    post_permalink = TextField(null=True)
    source = CharField(default="webhook")  # webhook | backfill | socialdesk (our public replies)

    class Meta:
        # and the page's replies by the comment they answer, (parent_id) WHERE by_account: a partial
        # index, which has no tuple form here (migration 0029)
        indexes = ((("channel", "post_id", "created_at"), False),)


# --- conversations ------------------------------------------------------------------------------


class Conversation(BaseModel):
    """A thread staff work on: a DM thread (Messenger / Instagram Direct) or one person's comments
    and replies under one post. `thread_key` equals the events' conversation key."""

    thread_key = CharField(unique=True, max_length=512)
    kind = CharField()  # messenger | instagram | facebook_comments | instagram_comments
    channel = ForeignKeyField(Channel, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    identity = ForeignKeyField(Identity, null=True, on_delete="SET NULL")
    post_id = CharField(null=True)
    post_permalink = TextField(null=True)
    status = CharField(default="open")
    assignee = ForeignKeyField(User, null=True, on_delete="SET NULL")
    unread_count = IntegerField(default=0)
    last_message_at = BigIntegerField(null=True)
    last_customer_message_at = BigIntegerField(null=True)
    preview = TextField(default="")
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("status", "last_message_at"), False), (("kind", "last_message_at"), False))


class Message(BaseModel):
    """Every message and comment of a conversation, inbound and outbound.

    Inbound rows come from events (`mid` or `comment_id` unique). Outbound rows are created by
    the outbox with an `idempotency_key` and carry what to send (`send_kind`, `content`) and how
    it went (`status`, Meta's id, error code and reason). One outbound row is one Send API call.
    `private_reply_to` is unique: at most one private reply per comment, enforced by the database.
    `conversation` is empty only for automation replies to comments on a channel that does not
    show comments in the inbox.
    """

    channel = ForeignKeyField(Channel, on_delete="CASCADE", index=False)
    conversation = ForeignKeyField(Conversation, null=True, backref="messages", on_delete="CASCADE", index=False)
    direction = CharField()  # in | out
    author = CharField()  # customer | staff | bot | campaign | page (page = outside socialdesk)
    author_user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    kind = CharField(default="message")  # message | comment | postback | referral
    mid = CharField(null=True, unique=True)
    comment_id = CharField(null=True, unique=True)
    parent_comment_id = CharField(null=True)
    text = TextField(null=True)
    attachments = JSONField(null=True)
    buttons = JSONField(null=True)
    quick_replies = JSONField(null=True)
    payload = TextField(null=True)  # quick-reply or postback payload
    reply_to_mid = CharField(null=True)
    reply_to_story = JSONField(null=True)  # the Instagram story answered: {"id", "url"}
    unsupported = BooleanField(default=False)  # Meta's is_unsupported: shown only in Meta's inbox
    notes = JSONField(null=True)  # what was repaired on the way in (e.g. a timestamp of 0)
    reactions = JSONField(null=True)
    occurred_at = BigIntegerField()
    status = CharField(default="received")
    status_reason = TextField(null=True)
    error_code = IntegerField(null=True)
    error_subcode = IntegerField(null=True)
    error_kind = CharField(null=True)
    delivered_at = BigIntegerField(null=True)
    read_at = BigIntegerField(null=True)
    deleted_at = BigIntegerField(null=True)
    edited_at = BigIntegerField(null=True)
    hidden = BooleanField(default=False)
    by_account = BooleanField(default=False)
    # outbound only
    idempotency_key = CharField(null=True, unique=True, max_length=512)
    send_kind = CharField(null=True)  # direct | private_reply | comment_reply
    recipient_id = CharField(null=True)
    target_comment_id = CharField(null=True)
    private_reply_to = CharField(null=True, unique=True)
    messaging_type = CharField(null=True)
    tag = CharField(null=True)
    attempts = IntegerField(default=0)
    next_attempt_at = BigIntegerField(null=True)
    send_started_at = BigIntegerField(null=True)
    sent_at = BigIntegerField(null=True)
    origin = CharField(null=True)  # e.g. "campaign:3:action:1", "staff", "flow:welcome"
    created_at = BigIntegerField()

    class Meta:
        indexes = (
            (("conversation", "occurred_at"), False),
            (("status", "next_attempt_at"), False),
            (("channel", "recipient_id", "direction", "status"), False),
        )


# --- staff notifications -------------------------------------------------------------------------


class Notification(BaseModel):
    """An internal notification for one staff user (the bell, unread counts)."""

    user = ForeignKeyField(User, on_delete="CASCADE", index=False)
    kind = CharField()
    text = TextField()
    conversation = ForeignKeyField(Conversation, null=True, on_delete="CASCADE")
    message = ForeignKeyField(Message, null=True, on_delete="CASCADE")
    channel = ForeignKeyField(Channel, null=True, on_delete="CASCADE")
    created_at = BigIntegerField()
    read_at = BigIntegerField(null=True)

    class Meta:
        indexes = ((("user", "read_at"), False),)


class EmailDigest(BaseModel):
    """Coalesced staff e-mail for one conversation: messages arriving while it is pending join it,
    so a burst gives one e-mail listing them."""

    conversation = ForeignKeyField(Conversation, on_delete="CASCADE", index=False)
    status = CharField(default="pending")  # pending | sent | failed
    first_message_id = IntegerField()
    due_at = BigIntegerField()
    attempts = IntegerField(default=0)
    error = TextField(null=True)
    sent_at = BigIntegerField(null=True)
    message_count = IntegerField(default=0)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("conversation", "status"), False), (("status", "due_at"), False))


# --- durable scheduling ---------------------------------------------------------------------------


class ScheduledJob(BaseModel):
    """Work due later that must survive restarts (campaign "Wait", retries in the embedded queue,
    periodic checks). The clock enqueues due rows; `dedupe_key` prevents scheduling twice."""

    actor = CharField()
    args = JSONField()
    due_at = BigIntegerField()
    status = CharField(default="scheduled")  # scheduled | enqueued
    dedupe_key = CharField(null=True, unique=True, max_length=512)
    created_at = BigIntegerField()
    enqueued_at = BigIntegerField(null=True)

    class Meta:
        indexes = ((("status", "due_at"), False),)


ALL_MODELS: list[type[BaseModel]] = [
    User, StaffSession, ApiToken, Channel, Delivery, IgnoredItem, InboundEvent, Contact, Identity, Tag,
    ContactTag, Comment, Conversation, Message, Notification, EmailDigest, ScheduledJob,
]


# --- campaigns (migration 0002) -------------------------------------------------------------------


class Campaign(BaseModel):
    """A "comment on a post" automation: one trigger, an ordered list of actions."""

    name = CharField()
    channel = ForeignKeyField(Channel, on_delete="CASCADE")
    is_active = BooleanField(default=False)
    all_posts = BooleanField(default=True)
    post_ids = JSONField(default=list)
    include_replies = BooleanField(default=False)
    keywords_any = JSONField(default=list)
    keywords_none = JSONField(default=list)
    created_at = BigIntegerField()
    updated_at = BigIntegerField()
    attribute_conditions = JSONField(null=True, default=list)  # migration 0015: audience filters on custom attributes
    trigger_kind = CharField(default="comment")  # migration 0023: comment | story_mention | story_reply


class CampaignAction(BaseModel):
    """One step of a campaign: send_message | reply_comment | add_tag | wait | start_flow."""

    campaign = ForeignKeyField(Campaign, backref="actions", on_delete="CASCADE", index=False)
    position = IntegerField()
    kind = CharField()
    config = JSONField()

    class Meta:
        indexes = ((("campaign", "position"), True),)


class CampaignRun(BaseModel):
    """The ledger: what one campaign decided about one comment, and why. Unique per (campaign,
    comment): a comment fires each campaign at most once, whatever Meta redelivers."""

    campaign = ForeignKeyField(Campaign, on_delete="CASCADE", index=False)
    comment_id = CharField()
    post_id = CharField()
    matched = BooleanField()
    reason = CharField()  # matched | post_not_watched | reply_excluded | keyword_missing | ...
    detail = TextField(null=True)
    source = CharField(default="webhook")  # webhook | backfill | past_comment
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("campaign", "comment_id"), True), (("comment_id",), False),
                   (("campaign", "created_at"), False))


class CampaignStep(BaseModel):
    """What one action did for one run: sent (see the messages keyed `campaign:<run>:<action>`),
    refused, failed, tagged, waiting until `due_at`, ..."""

    run = ForeignKeyField(CampaignRun, backref="steps", on_delete="CASCADE", index=False)
    action = ForeignKeyField(CampaignAction, on_delete="CASCADE")
    position = IntegerField()
    status = CharField()  # queued | done | waiting | skipped | failed
    detail = TextField(null=True)
    due_at = BigIntegerField(null=True)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("run", "position"), True),)


class TrackedLink(BaseModel):
    """A link button's click-counting redirect at PUBLIC_URL/r/<token>."""

    token = CharField(unique=True)
    run = ForeignKeyField(CampaignRun, on_delete="CASCADE")
    action = ForeignKeyField(CampaignAction, on_delete="CASCADE")
    url = TextField()
    clicks = IntegerField(default=0)
    first_clicked_at = BigIntegerField(null=True)
    created_at = BigIntegerField()


class ButtonClick(BaseModel):
    """A click on a campaign button (payload through a postback, link through the redirect)."""

    run = ForeignKeyField(CampaignRun, on_delete="CASCADE")
    action = ForeignKeyField(CampaignAction, on_delete="CASCADE")
    kind = CharField()  # postback | link
    key = CharField(unique=True, max_length=512)  # postback event key or link token + time
    created_at = BigIntegerField()


CAMPAIGN_MODELS: list[type[BaseModel]] = [Campaign, CampaignAction, CampaignRun, CampaignStep, TrackedLink,
                                          ButtonClick]
ALL_MODELS += CAMPAIGN_MODELS


# --- outgoing webhooks (migration 0003; added for the REST API, owned by bot/outbound/outhooks.py) -----------


class HookEndpoint(BaseModel):
    """An integration's URL that receives our events as signed JSON POSTs.

    The signing secret is encrypted at rest (`bot.platform.vault`) like page tokens, and shown to admins so
    the receiver can verify each delivery.
    """

    url = TextField()
    events = JSONField()  # the event names it subscribes to (bot.outbound.outhooks.EVENTS)
    secret_encrypted = TextField()
    description = CharField(default="")
    is_active = BooleanField(default=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = BigIntegerField()
    updated_at = BigIntegerField()


class HookDelivery(BaseModel):
    """One event for one endpoint and how delivering it went: the delivery log.

    `body` is the exact JSON that is signed and sent, the same bytes on every attempt.
    `dedupe_key` (event, subject, endpoint) makes emitting the same fact twice add nothing.
    """

    endpoint = ForeignKeyField(HookEndpoint, backref="deliveries", on_delete="CASCADE", index=False)
    event = CharField()
    event_id = CharField()  # shared by the deliveries of one event to several endpoints
    dedupe_key = CharField(null=True, unique=True, max_length=512)
    body = TextField()
    status = CharField(default="pending")  # pending | sending | delivered | failed
    attempts = IntegerField(default=0)
    next_attempt_at = BigIntegerField()
    send_started_at = BigIntegerField(null=True)
    last_attempt_at = BigIntegerField(null=True)
    last_status_code = IntegerField(null=True)
    last_error = TextField(null=True)
    delivered_at = BigIntegerField(null=True)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("endpoint", "created_at"), False), (("status", "next_attempt_at"), False))


HOOK_MODELS: list[type[BaseModel]] = [HookEndpoint, HookDelivery]
ALL_MODELS += HOOK_MODELS


# --- channel health and backfill (migration 0005; owned by bot/channels/health.py and backfill.py) ----------------


class ChannelCheck(BaseModel):
    """When a channel is next checked and what the last check saw. The clock enqueues a check
    when `next_check_at` is due, so the schedule survives restarts."""

    channel = ForeignKeyField(Channel, unique=True, on_delete="CASCADE")
    next_check_at = BigIntegerField(index=True)
    last_checked_at = BigIntegerField(null=True)
    last_ok_at = BigIntegerField(null=True)  # token worked and the subscription was complete
    token_expires_at = BigIntegerField(null=True)
    token_checked_at = BigIntegerField(null=True)
    subscribed_fields = JSONField(null=True)
    last_error = TextField(null=True)


class ChannelHealthEvent(BaseModel):
    """The health history: a status change, a repair (re-subscription) or a detected gap, and why."""

    channel = ForeignKeyField(Channel, on_delete="CASCADE", index=False)
    kind = CharField()  # status | resubscribed | gap
    status = CharField()  # the channel's status after this event
    previous_status = CharField(null=True)
    reason = TextField(null=True)
    source = CharField()  # check | send | connect
    email_status = CharField(null=True)  # pending | sent | failed (staff e-mail about the change)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("channel", "created_at"), False), (("email_status", "created_at"), False))


class BackfillRun(BaseModel):
    """One read-back of what Meta holds for a channel and a period, and what it recovered (or
    could not)."""

    channel = ForeignKeyField(Channel, on_delete="CASCADE", index=False)
    since = BigIntegerField()
    until = BigIntegerField()
    trigger = CharField()  # gap | admin
    reason = TextField(null=True)
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    status = CharField(default="pending")  # pending | running | done | failed
    messages_found = IntegerField(default=0)
    messages_stored = IntegerField(default=0)
    comments_found = IntegerField(default=0)
    comments_stored = IntegerField(default=0)
    graph_calls = IntegerField(default=0)
    unrecovered = JSONField(default=list)  # what Meta could not give back, one sentence each
    error = TextField(null=True)
    created_at = BigIntegerField()
    started_at = BigIntegerField(null=True)
    finished_at = BigIntegerField(null=True)

    class Meta:
        indexes = ((("status", "created_at"), False), (("channel", "created_at"), False))


HEALTH_MODELS: list[type[BaseModel]] = [ChannelCheck, ChannelHealthEvent, BackfillRun]
ALL_MODELS += HEALTH_MODELS


# --- bot flows (migration 0004; owned by bot/automation/flows/ and bot/automation/handover.py) --------------------


class Flow(BaseModel):
    """A bot flow: `definition` is the flow as data (`bot.automation.flows.spec.FlowSpec`), validated when
    saved; `name` is how payloads, campaigns and other flows refer to it."""

    name = CharField(unique=True)
    title = CharField(default="")
    channel = ForeignKeyField(Channel, null=True, on_delete="CASCADE")
    is_active = BooleanField(default=True)
    definition = JSONField()
    created_at = BigIntegerField()
    updated_at = BigIntegerField()


class BotState(BaseModel):
    """Where the bot stands in one DM conversation, written only under that conversation's lock.

    `step` counts state entries, so a timeout scheduled for an earlier entry knows it is stale.
    `origin_comment_id` is set when a campaign started the flow from a comment (steps may then
    answer privately or under the comment). While `paused_until` is in the future a human has the
    conversation and the bot stays silent."""

    conversation = ForeignKeyField(Conversation, unique=True, on_delete="CASCADE")
    flow_name = CharField(null=True)
    state = CharField(null=True)
    step = IntegerField(default=0)
    origin_comment_id = CharField(null=True)
    timeout_due_at = BigIntegerField(null=True)
    paused_until = BigIntegerField(null=True)
    paused_reason = TextField(null=True)
    updated_at = BigIntegerField()


class BotSetting(BaseModel):
    """Per channel: which payloads and words ask for a human, what the bot says then, and how long
    it stays paused after a human took over."""

    channel = ForeignKeyField(Channel, unique=True, on_delete="CASCADE")
    handover_payloads = JSONField(default=list)
    handover_keywords = JSONField(default=list)
    handover_message = TextField(null=True)
    pause_seconds = IntegerField()
    updated_at = BigIntegerField()


FLOW_MODELS: list[type[BaseModel]] = [Flow, BotState, BotSetting]
ALL_MODELS += FLOW_MODELS


# --- reply drafts (migration 0007; owned by bot/staff/drafts.py) --------------------------------------------


class ReplyDraft(BaseModel):
    """A reply a staff member has typed but not sent in one conversation, kept so a browser reload
    or another device does not lose it. Text and the chosen way of answering only: attachments are
    links picked again, never stored bytes."""

    user = ForeignKeyField(User, on_delete="CASCADE", index=False)
    conversation = ForeignKeyField(Conversation, on_delete="CASCADE")
    text = TextField(default="")
    reply_type = CharField(default="message")  # message | private | comment (bot.commands.ReplyType)
    updated_at = BigIntegerField()

    class Meta:
        indexes = ((("user", "conversation"), True),)


DRAFT_MODELS: list[type[BaseModel]] = [ReplyDraft]
ALL_MODELS += DRAFT_MODELS


# --- helpdesk: notes, snoozes, canned responses (migration 0014; owned by bot/helpdesk/) ------------------------


class Note(BaseModel):
    """A private note staff leave on a conversation. Its own table, never a `Message`: the outbox
    and the sender read only messages, so a note cannot be sent to Meta by any path.
    `mentions` holds the ids of the staff members it notified."""

    conversation = ForeignKeyField(Conversation, on_delete="CASCADE", index=False)
    author = ForeignKeyField(User, null=True, on_delete="SET NULL")
    text = TextField()
    mentions = JSONField(default=list)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("conversation", "created_at"), False),)


class Snooze(BaseModel):
    """Why a conversation's status is `snoozed`: until `wake_at` (ms), or with no time until the
    customer writes again (any customer message wakes it either way). The wake-up is a
    `ScheduledJob`; `wake_at` is indexed so the clock can find a wake-up whose job was lost."""

    conversation = ForeignKeyField(Conversation, unique=True, on_delete="CASCADE")
    wake_at = BigIntegerField(null=True, index=True)
    snoozed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = BigIntegerField()


class CannedResponse(BaseModel):
    """A saved reply, inserted in the reply box by typing `/name`: a text (a template checked
    like campaign texts, `bot.core.compose`) with optional attachments and buttons, as a
    `MessageContent` would hold them. `scope` is `shared` (the whole team)
    or `user:<id>` (personal): (scope, name) is unique, which a nullable owner column could not
    enforce on both databases."""

    scope = CharField()
    owner = ForeignKeyField(User, null=True, on_delete="CASCADE")
    name = CharField(max_length=50)
    text = TextField()
    attachments = JSONField(default=list)
    buttons = JSONField(default=list)
    created_at = BigIntegerField()
    updated_at = BigIntegerField()

    class Meta:
        indexes = ((("scope", "name"), True),)


HELPDESK_MODELS: list[type[BaseModel]] = [Note, Snooze, CannedResponse]
ALL_MODELS += HELPDESK_MODELS


# --- sign-in throttling and log (migration 0010; owned by bot/staff/signin.py) ------------------------------


class SignInThrottle(BaseModel):
    """Recent failures of one key: an account (`account:<e-mail>`), a client address signing in
    (`address:<ip>`) or presenting bad API tokens (`token:<ip>`). Kept in the database so the API
    and dashboard processes share it; a row is forgotten once its failures are old."""

    key = CharField(unique=True)
    failures = IntegerField(default=0)
    last_failure_at = BigIntegerField()
    locked_until = BigIntegerField(null=True)


class SignInAttempt(BaseModel):
    """One sign-in (dashboard password) or refused API token, for admins to review."""

    at = BigIntegerField(index=True)
    method = CharField()  # password | token
    email = CharField(default="")  # as typed (normalised), also for unknown accounts
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    address = CharField(default="")
    outcome = CharField()  # ok | failed | throttled | locked


SIGNIN_MODELS: list[type[BaseModel]] = [SignInThrottle, SignInAttempt]
ALL_MODELS += SIGNIN_MODELS


# --- contact merges and assignment rules (migration 0016; owned by bot/helpdesk/merge.py and
# bot/automation/assignment.py) ---------------------------------------------------------------------------------


class ContactMerge(BaseModel):
    """One merge of `merged_id` into `survivor`, recorded so it can be undone exactly: `merged_row`
    is the removed contact as it was, `moved` the ids of the rows reassigned per table, and
    `displaced` the rows that could not move (the survivor already had that tag or attribute),
    kept whole so un-merging puts them back; `filled` the survivor's empty profile fields it took
    from the merged contact, emptied again by the undo (unless staff changed them since)."""

    survivor_id = IntegerField()  # not a foreign key: undoing a later merge brings the survivor back
    merged_id = IntegerField()
    merged_row = JSONField()
    moved = JSONField()  # {"identity": [ids], "conversation": [ids], "contact_tag": [ids], ...}
    displaced = JSONField(default=dict)  # {"contact_tag": [row dicts], ...}
    filled = JSONField(default=dict)  # survivor's empty profile fields taken from the merged one: {field: value}
    merged_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = BigIntegerField()
    unmerged_at = BigIntegerField(null=True)
    unmerged_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")

    class Meta:
        indexes = ((("survivor_id", "created_at"), False), (("merged_id",), False))


class StaffAvailability(BaseModel):
    """Whether a staff member takes new conversations now (toggled by themselves). Its own row per
    user, also the row locked while choosing an assignee, so two conversations arriving at once
    cannot both push one person over their cap."""

    user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
    available = BooleanField(default=False)
    updated_at = BigIntegerField()


class AssignmentRule(BaseModel):
    """Per channel: round-robin new conversations among available staff (all active staff, or the
    `members` listed), at most `cap` open conversations each. `last_user_id` is the round-robin
    cursor; the row is locked while it moves."""

    channel = ForeignKeyField(Channel, unique=True, on_delete="CASCADE")
    enabled = BooleanField(default=False)
    cap = IntegerField(default=10)
    members = JSONField(default=list)  # user ids; empty means every active staff member
    last_user_id = IntegerField(null=True)
    updated_at = BigIntegerField()


ROUTING_MODELS: list[type[BaseModel]] = [ContactMerge, StaffAvailability, AssignmentRule]
ALL_MODELS += ROUTING_MODELS


# --- custom contact attributes and status changes (issue 21, migration 0015) -------------------------


class AttributeDefinition(BaseModel):
    """A custom attribute admins define for contacts: `key` is what shortcodes and campaign
    conditions name (`{{ attributes.vip_level }}`), `kind` is text | number | date | list (one of
    `choices`). Owned by bot/helpdesk/attributes.py."""

    key = CharField(unique=True, max_length=50)
    label = CharField(max_length=100)
    kind = CharField()
    choices = JSONField(default=list)
    created_at = BigIntegerField()


class ContactAttribute(BaseModel):
    """One contact's value of one attribute, stored as checked text (a number as written
    canonically, a date as YYYY-MM-DD), so equality and sorting need no per-type column."""

    contact = ForeignKeyField(Contact, on_delete="CASCADE", index=False)
    attribute = ForeignKeyField(AttributeDefinition, on_delete="CASCADE")
    value = TextField()
    updated_at = BigIntegerField()

    class Meta:
        indexes = ((("contact", "attribute"), True),)


class StatusChange(BaseModel):
    """A conversation closed or reopened by staff, and when: the fact resolution times and
    per-agent closes are computed from (bot/reports.py). A customer's message reopening a
    conversation needs no row: the message itself is the fact."""

    conversation = ForeignKeyField(Conversation, on_delete="CASCADE", index=False)
    status = CharField()  # open | closed
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = BigIntegerField(index=True)

    class Meta:
        indexes = ((("conversation", "at"), False),)


ATTRIBUTE_MODELS: list[type[BaseModel]] = [AttributeDefinition, ContactAttribute, StatusChange]
ALL_MODELS += ATTRIBUTE_MODELS


class DeliveryJournalMark(BaseModel):
    """How far the embedded default's delivery journal (bot/platform/journal.py) has been moved
    into `delivery`, per journal file: written in the same transaction as the moved rows, so a
    journal row is moved exactly once even if the process dies before deleting it there."""

    generation = CharField(primary_key=True)
    moved_through = BigIntegerField()


JOURNAL_MODELS: list[type[BaseModel]] = [DeliveryJournalMark]
ALL_MODELS += JOURNAL_MODELS


# --- comment moderation and the Messenger profile (issue 22, migration 0025) -------------------------


class CommentModeration(BaseModel):
    """One moderation act on one comment (`action` like | hide), asked by a campaign or staff:
    unique per (comment, action), so a comment is liked or hidden once whoever asks again. The
    row is the ledger: `status` pending -> sending -> done | skipped | refused | failed, with the
    reason in plain words. Owned by bot/outbound/moderation.py."""

    channel = ForeignKeyField(Channel, on_delete="CASCADE")
    comment_id = CharField()
    action = CharField()
    origin = CharField()  # campaign:<run>:<action> | staff:<user id>
    status = CharField(default="pending")
    reason = TextField(null=True)
    error_code = IntegerField(null=True)
    attempts = IntegerField(default=0)
    next_attempt_at = BigIntegerField()
    started_at = BigIntegerField(null=True)
    done_at = BigIntegerField(null=True)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("comment_id", "action"), True), (("status", "next_attempt_at"), False))


class MessengerProfile(BaseModel):
    """A channel's Get Started button, greeting, persistent menu and ice breakers as edited
    (`spec`, bot/core/profile.py's ProfileSpec) and as last accepted by Meta (`pushed`): pushed
    only when they differ, because Meta rate-limits the profile API. Owned by bot/channels/profile.py."""

    channel = ForeignKeyField(Channel, unique=True, on_delete="CASCADE")
    spec = JSONField(default=dict)
    pushed = JSONField(null=True)
    status = CharField(default="pending")  # pending | pushing | pushed | failed
    reason = TextField(null=True)
    pushed_at = BigIntegerField(null=True)
    updated_at = BigIntegerField()


GROWTH_MODELS: list[type[BaseModel]] = [CommentModeration, MessengerProfile]
ALL_MODELS += GROWTH_MODELS


# --- campaign audience, referral sources, A/B variants, next-post scope (issue 22, migration 0024) ----

Campaign._meta.add_field("audience", JSONField(null=True))  # AudienceSpec: once per person, hours, delay...
Campaign._meta.add_field("source_conditions", JSONField(null=True))  # trigger.source_conditions (ref / ad id)
Campaign._meta.add_field("next_post", BooleanField(default=False))  # scope: the next post published
Campaign._meta.add_field("armed_at", BigIntegerField(null=True))  # next post: published at or after this
Campaign._meta.add_field("bound_post_id", CharField(null=True))  # next post: the post it bound to
CampaignStep._meta.add_field("variant", IntegerField(null=True))  # A/B: which message variant went


class ContactSource(BaseModel):
    """Where a contact came from: the first and the latest referral (m.me / ig.me `ref` link,
    Get Started with a ref, click-to-Messenger/Instagram ad) on any of its channels. Written by
    bot/automation/triggers.py; read by campaign conditions and the contact profile."""

    contact = ForeignKeyField(Contact, unique=True, on_delete="CASCADE")
    first_ref = CharField(null=True)
    first_ad_id = CharField(null=True)
    first_source = CharField(null=True)  # Meta's `source`: SHORTLINK, ADS, ...
    first_at = BigIntegerField()
    last_ref = CharField(null=True)
    last_ad_id = CharField(null=True)
    last_source = CharField(null=True)
    last_at = BigIntegerField()


class CampaignPerson(BaseModel):
    """A person a campaign with "once per person" reached: unique per (campaign, channel, scoped
    id), so two comments of one person drained at once still fire the campaign once."""

    campaign = ForeignKeyField(Campaign, on_delete="CASCADE", index=False)
    person = CharField()  # the commenter's page- or Instagram-scoped id on the campaign's channel
    run = ForeignKeyField(CampaignRun, on_delete="CASCADE")
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("campaign", "person"), True),)


AUDIENCE_MODELS: list[type[BaseModel]] = [ContactSource, CampaignPerson]
ALL_MODELS += AUDIENCE_MODELS


# --- attached files (issue 20) -----------------------------------------------------------------------


class StoredFile(BaseModel):
    """A file staff attached, kept by socialdesk (`bot.platform.files`): `key` names it in the
    store and in URLs; `content_type` is what its bytes are (sniffed), not what the browser said."""

    key = CharField(unique=True, max_length=64)
    name = CharField(max_length=255)
    content_type = CharField()
    media_type = CharField()  # image | video | audio | file: how Meta sends it
    size = IntegerField()
    sha256 = CharField(max_length=64)
    uploaded_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = BigIntegerField()


class MetaUpload(BaseModel):
    """A stored file uploaded to one page through Meta's Attachment Upload API: the reusable
    `attachment_id` Meta answered, reused for every send until it nears its 90 days."""

    file = ForeignKeyField(StoredFile, on_delete="CASCADE", index=False)
    channel = ForeignKeyField(Channel, on_delete="CASCADE")
    attachment_id = CharField()
    uploaded_at = BigIntegerField()

    class Meta:
        indexes = ((("file", "channel"), True),)


FILE_MODELS: list[type[BaseModel]] = [StoredFile, MetaUpload]
ALL_MODELS += FILE_MODELS


# --- teams (issue 21, migration 0022; owned by bot/helpdesk/teams.py) --------------------------------------------


class Team(BaseModel):
    """A group of staff working one channel (or, with no channel, every channel): conversations
    are assigned to it, an assignment rule can hand its work round-robin among its members, and
    canned responses can be kept for it."""

    name = CharField(unique=True, max_length=100)
    channel = ForeignKeyField(Channel, null=True, on_delete="CASCADE")
    created_at = BigIntegerField()
    updated_at = BigIntegerField()


class TeamMember(BaseModel):
    """One staff member of one team: a row (not a list on the team) so "my teams" is an indexed
    sub-select of the inbox query."""

    team = ForeignKeyField(Team, on_delete="CASCADE", index=False)
    user = ForeignKeyField(User, on_delete="CASCADE")

    class Meta:
        indexes = ((("team", "user"), True), (("user",), False))


# The team columns of two older tables, added here rather than in their classes so this block
# merges as one piece; migration 0022 adds the columns and the inbox's (team, status, newest) index.
Conversation._meta.add_field("team", ForeignKeyField(Team, null=True, on_delete="SET NULL"))
AssignmentRule._meta.add_field("team", ForeignKeyField(Team, null=True, on_delete="SET NULL"))

TEAM_MODELS: list[type[BaseModel]] = [Team, TeamMember]
ALL_MODELS += TEAM_MODELS


# --- configuration version (issue 18) -------------------------------------------------------------


class ConfigVersion(BaseModel):
    """One row whose `version` database triggers bump on every write to the configuration
    workers keep copies of (bot/platform/cache.py; the watched tables are in migration 0018)."""

    id = IntegerField(primary_key=True)
    epoch = CharField(max_length=32)
    version = BigIntegerField()


ALL_MODELS += [ConfigVersion]


# --- referral campaigns (issue 22, migration 0028) -------------------------------------------------

Campaign._meta.add_field("refs", JSONField(null=True))  # trigger "referral": any of these refs
Campaign._meta.add_field("ad_ids", JSONField(null=True))  # trigger "referral": any of these ad ids
