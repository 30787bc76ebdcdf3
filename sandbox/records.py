"""What the sandbox remembers: plain records of Meta's world (pages, people, posts, messages).

These are the sandbox's own nouns, deliberately not socialdesk's: the sandbox is a second,
independent reading of Meta's rules, so it must not share a model with the code it checks.
Records are mutable dataclasses guarded by `Store.lock`; nothing outside the lock touches them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FACEBOOK = "facebook"
INSTAGRAM = "instagram"

# Subscribe fields per platform (meta-platform.md §2, §3). Extra real-world names are accepted
# when subscribing so a correct app is never refused; deliveries are gated by these names.
PAGE_FIELDS = (
    "messages",
    "messaging_postbacks",
    "message_deliveries",
    "message_reads",
    "message_reactions",
    "messaging_referrals",
    "message_echoes",
    "message_edits",
    "standby",
    "feed",
)
PAGE_FIELDS_ACCEPTED = PAGE_FIELDS + (
    "messaging_optins",
    "messaging_handovers",
    "messaging_policy_enforcement",
    "messaging_account_linking",
    "messaging_game_plays",
    "messaging_customer_information",
    "message_template_status_update",
    "response_feedback",
    "inbox_labels",
    "mention",
    "ratings",
    "name",
    "picture",
)
# "messaging_referral" is the documented spelling (unconfirmed, meta-platform.md §3).
INSTAGRAM_FIELDS = (
    "messages",
    "messaging_postbacks",
    "messaging_seen",
    "message_reactions",
    "messaging_referral",
    "comments",
    "live_comments",
    "mentions",
)
INSTAGRAM_FIELDS_ACCEPTED = INSTAGRAM_FIELDS + (
    "messaging_optins",
    "messaging_handover",
    "message_edit",
    "standby",
    "story_insights",
)

DEFAULT_SCOPES = (
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_manage_engagement",
    "pages_read_user_content",
    "instagram_basic",
    "instagram_manage_messages",
    "instagram_manage_comments",
    "business_management",
)


@dataclass
class Config:
    """Runtime knobs set through `/control/config`; `seed` makes fault injection repeatable."""

    app_secret: str
    webhook_url: str | None = None
    latency_ms: int = 0
    error_rate: float = 0.0
    error_kinds: list[str] = field(default_factory=lambda: ["rate_limit", "server"])
    drop_rate: float = 0.0
    """Share of Graph API connections closed without an answer (half before the call is
    handled, half after it took effect): a network that loses requests and answers."""
    drop_kinds: list[str] = field(default_factory=lambda: ["before", "after"])
    rate_limit_per_second: int | None = None
    auto_receipts: bool = False
    seed: int = 0
    user_token: str = "EAAsandboxUSER"
    user_id: str = "10000000000001"
    user_name: str = "Sandbox Admin"
    app_id: str = "1234567890123456"
    app_name: str = "socialdesk"
    delivery_timeout_s: float = 10.0


@dataclass
class Account:
    """A Facebook Page or an Instagram professional account (a "channel").

    `page_id` is the page that owns the account (itself for a page); `linked_id` is the page's
    Instagram account, or the Instagram account's page. Subscription state is per account.
    """

    id: str
    platform: str
    name: str
    page_id: str
    username: str | None = None
    followers_count: int = 0
    profile_picture_url: str | None = None
    linked_id: str | None = None
    subscribed_fields: list[str] = field(default_factory=list)


@dataclass
class Token:
    """An access token: `kind` is "page" (acts for `page_id` and its Instagram account) or "user"."""

    value: str
    kind: str
    page_id: str | None = None
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    revoked_subcode: int | None = None
    issued_at: int = 0


@dataclass
class Customer:
    """A person as one account sees them: a PSID for a page, an IGSID for an Instagram account.

    `last_inbound_ms` is the last message/postback/quick reply/referral (what opens the 24 h
    window); `consented` turns true on the first such fact and unlocks the profile fields.
    """

    id: str
    account_id: str
    platform: str
    name: str
    first_name: str
    last_name: str
    username: str | None = None
    profile_pic: str | None = None
    follower_count: int = 0
    is_verified_user: bool = False
    last_inbound_ms: int | None = None
    consented: bool = False
    read_watermark_ms: int = 0


@dataclass
class Post:
    """A page post or an Instagram media (`created_time` in unix seconds)."""

    id: str
    account_id: str
    message: str
    created_time: int
    permalink_url: str
    picture_url: str | None = None
    media_product_type: str = "FEED"


@dataclass
class Comment:
    """A comment under a post; `parent_id` is None for a top-level comment."""

    id: str
    account_id: str
    post_id: str
    author_id: str
    author_name: str
    text: str
    created_time: int
    by_account: bool = False
    parent_id: str | None = None
    photo_url: str | None = None
    hidden: bool = False
    removed: bool = False
    private_reply_mid: str | None = None
    liked: bool = False  # liked by the page (moderation_api)


@dataclass
class Message:
    """One message of a conversation, inbound or outbound.

    `sender_id` is the customer or the account. `app_id` is set for messages the page sent
    (ours or another tool's). `body` keeps the full Send API request for messages our app sent,
    so postbacks can be played from the buttons that were really sent.
    """

    mid: str
    account_id: str
    conversation_id: str
    customer_id: str
    sender_id: str
    recipient_id: str
    created_ms: int
    text: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    quick_reply_payload: str | None = None
    app_id: str | None = None
    body: dict[str, Any] | None = None
    private_reply_to: str | None = None
    deleted: bool = False
    num_edit: int = 0

    @property
    def from_account(self) -> bool:
        return self.sender_id == self.account_id


@dataclass
class Conversation:
    """The thread between an account and one customer; `mids` oldest first."""

    id: str
    account_id: str
    customer_id: str
    updated_ms: int = 0
    mids: list[str] = field(default_factory=list)


@dataclass
class Upload:
    """An attachment uploaded through `/message_attachments`, reusable by `attachment_id`: by
    URL, or as a file whose bytes are kept (`data`) and served at `url` like Meta's CDN."""

    id: str
    page_id: str
    type: str
    url: str
    data: bytes | None = None
    content_type: str | None = None
    filename: str | None = None


@dataclass
class Sent:
    """Something our app sent successfully (what `/control/sent` lists)."""

    seq: int
    kind: str
    account_id: str
    platform: str
    path: str
    body: dict[str, Any]
    time_ms: int
    recipient_id: str | None = None
    comment_id: str | None = None
    message_id: str | None = None
    reply_comment_id: str | None = None
    messaging_type: str | None = None
    tag: str | None = None
    private_reply: bool = False


@dataclass
class Attempt:
    """Every write call to the Graph API, refused or not, with what was answered."""

    seq: int
    method: str
    path: str
    account_id: str | None
    body: dict[str, Any]
    status: int
    response: dict[str, Any]
    time_ms: int
    injected: bool = False
    dropped: str | None = None  # "before" (never handled) or "after" (handled, answer lost): drop_rate
    host: str = "facebook"  # which Graph host was called: "facebook" or "instagram" (Instagram Login)


@dataclass
class QueuedItem:
    """One webhook item waiting to be sent (while deliveries are held) or being sent.

    `section` is the entry key it goes under ("messaging" or "changes"); `field` is the
    subscription field that gates it; `time` is the entry time (ms for messaging, seconds for
    changes, as Meta sends them).
    """

    object: str
    account_id: str
    section: str
    field: str
    item: dict[str, Any]
    time: int


@dataclass
class Delivery:
    """One webhook POST as sent: its exact body text and signature, and what came back."""

    index: int
    object: str
    url: str | None
    body: str
    signature: str
    items: int
    sent_ms: int
    status: int | None = None
    error: str | None = None
    redelivery_of: int | None = None
