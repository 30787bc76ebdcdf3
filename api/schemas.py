"""REST request bodies and the parameters shared by several resources. Every body struct (and
every `bot` struct nested in one) forbids unknown fields: a misspelt or unsupported field is a
422 naming it, never silently dropped. The OpenAPI schema is
generated from these and from the read models of `bot.queries` / `bot.outbound.outhooks`, which the
handlers return as they are, so responses match the schema by construction.

Bounds here (ids, lengths, page sizes) keep every value within what both databases store
(PostgreSQL's `integer` ids and `varchar(255)`), so a wild value is a 422, never a 500. The
rules themselves (what a valid campaign or reply is) stay in `bot/`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar.openapi.spec import Example
from litestar.params import Body, Parameter

from bot.automation.audience import AudienceSpec
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.automation.handover import MAX_PAUSE_SECONDS, HandoverSettings
from bot.core.compose import Button, MediaAttachment
from bot.outbound.outhooks import EVENTS
from bot.staff.auth import MAX_TOKEN_DAYS

MAX_ID = 2**31 - 1  # PostgreSQL `integer`
MAX_PAGE = 100_000
MAX_NAME = 200  # fits varchar(255)

IdParam = Annotated[int, Parameter(ge=1, le=MAX_ID)]
PageParam = Annotated[int, Parameter(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSizeParam = Annotated[int, Parameter(ge=1, le=100, description="items per page")]
DbId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
MAX_FILTER_IDS = 100
# In a repeated query parameter the item's msgspec.Meta is what validates and its Parameter is
# what the OpenAPI schema shows; Litestar reads each from a different place, so both are given.
ListedId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID), Parameter(ge=1, le=MAX_ID)]
ChannelIdsParam = Annotated[list[ListedId] | None, Parameter(
    max_items=MAX_FILTER_IDS,
    description="only conversations of these channels (repeat the parameter: `channel_id=1&channel_id=2`); "
                "an id no channel has matches nothing")]
Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
MetaId = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,40}$", description="a Meta id (digits)")]

ConversationKind = Literal["messenger", "instagram", "facebook_comments", "instagram_comments"]
EventName = Literal[EVENTS]  # type: ignore[valid-type]


# --- conversations -----------------------------------------------------------------------------------


class ReplyMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to send: text, up to 3 attachments, up to 2 buttons (the rules live in bot.core.compose)."""

    text: str | None = None
    attachments: list[MediaAttachment] = []
    buttons: list[Button] = []


class ReplyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A staff reply. `reply_type`: `message` in a DM thread; in a comment conversation `private`
    (the one private reply to the comment) or `comment` (a public reply, text only).
    `comment_id` picks the comment (default: the person's latest). `client_key` makes retries
    of the same request safe: the same key never sends twice."""

    message: ReplyMessage
    reply_type: Literal["message", "private", "comment"] = "message"
    comment_id: Name | None = None
    client_key: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class AssignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`assignee`: a staff user's id, or null to unassign."""

    assignee: DbId | None


class QueuedOut(msgspec.Struct, kw_only=True):
    """How many comments got the campaign, and how many messages were queued for sending."""

    comments: int
    queued: int


class PauseIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`minutes` the bot stays silent; the channel's default pause time when left out."""

    minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAUSE_SECONDS // 60)] | None = None  # the service's bound


class TagIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    tag: Annotated[str, msgspec.Meta(max_length=MAX_NAME)]


class TagList(msgspec.Struct):
    tags: list[str]


# --- channels ----------------------------------------------------------------------------------------


class ConnectChannelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Connect (or reconnect with a new token) a Facebook Page, and optionally its Instagram
    professional account; our app is subscribed to the page's webhooks."""

    page_id: MetaId
    name: Name
    token: Annotated[str, msgspec.Meta(pattern=r"^[\x21-\x7e]{1,4096}$", description="the page access token")]
    instagram_id: MetaId | None = None
    instagram_username: Name | None = None
    instagram_followers: Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)] | None = None


class ConnectInstagramLoginIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Connect (or reconnect) an Instagram professional account with Instagram Login: no Facebook
    Page, an Instagram User access token. `instagram_id`, when given, must be the token's account."""

    token: Annotated[str, msgspec.Meta(pattern=r"^[\x21-\x7e]{1,4096}$",
                                       description="the Instagram User access token")]
    instagram_id: MetaId | None = None


class ChannelSettingsIn(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Only the settings given change. `fallback_message`: the bot's answer when nothing
    matches (an empty string removes it)."""

    receive_messages: bool | None = None
    receive_comments: bool | None = None
    notifications: bool | None = None
    emails: bool | None = None
    human_agent: bool | None = None
    notify_postbacks: bool | None = None  # button taps ring the bell (default off)
    notify_campaign_comments: bool | None = None  # comments a campaign answered ring it (default off)
    fallback_message: Annotated[str, msgspec.Meta(max_length=2000)] | None = None

    def changes(self) -> dict[str, bool | str | None]:
        given = {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}
        if given.get("fallback_message") == "":
            given["fallback_message"] = None
        return given


# --- campaigns ---------------------------------------------------------------------------------------


class CampaignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A campaign: trigger "comment on a post" and an ordered list of actions
    (send_message, reply_comment, add_tag, wait). Validated by `bot.automation.campaigns.validate`.
    The channel is named by `channel_id` (ours) or `page_id` (Meta's id of the page or Instagram
    account). `trigger.post_ids` take Meta's `{page-id}_{post-id}` or the bare post id."""

    name: Name
    channel_id: DbId | None = None
    page_id: MetaId | None = None
    trigger: TriggerSpec = msgspec.field(default_factory=TriggerSpec)
    actions: list[ActionSpec] = []
    is_active: bool = False
    audience: AudienceSpec = msgspec.field(default_factory=AudienceSpec)

    def spec(self, channel_id: int) -> CampaignSpec:
        """The campaign for the channel `bot.automation.campaigns.resolve_channel` found."""
        return CampaignSpec(name=self.name, channel_id=channel_id, trigger=self.trigger,
                            actions=list(self.actions), is_active=self.is_active, audience=self.audience)


# --- users -------------------------------------------------------------------------------------------


class UserIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
    password: Annotated[str, msgspec.Meta(max_length=1000)]
    role: Literal["admin", "agent"] = "agent"
    name: Name = ""


# --- API tokens --------------------------------------------------------------------------------------


class TokenIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new token for yourself (or, for admins, for `user_id`); it stops working after
    `expires_in_days` when given."""

    name: Name = ""
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOKEN_DAYS)] | None = None
    user_id: DbId | None = None


# --- outgoing webhooks -------------------------------------------------------------------------------


class WebhookIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Subscribe a URL to events. Deliveries are signed: `X-Socialdesk-Signature-256:
    sha256=<hex HMAC-SHA256 of the raw body keyed with the endpoint's secret>`."""

    url: Annotated[str, msgspec.Meta(max_length=2000)]
    events: list[EventName]
    description: Annotated[str, msgspec.Meta(max_length=MAX_NAME)] = ""


class WebhookPatch(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Only the fields given change."""

    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    events: list[EventName] | None = None
    description: Annotated[str, msgspec.Meta(max_length=MAX_NAME)] | None = None
    is_active: bool | None = None


# --- documented examples (also what schemathesis tries first) -------------------------------------------


def _body(summary: str, value: dict) -> Body:
    """A request body's documented example."""
    return Body(examples=[Example(summary=summary, value=value)])


ReplyBody = Annotated[ReplyIn, _body("A reply with a button", {
    "message": {"text": "Yes, we ship to Berlin in 2 days.",
                "buttons": [{"title": "Track my order", "url": "https://shop.example/track"}]},
    "reply_type": "message", "client_key": "order-1234-reply"})]
AssignBody = Annotated[AssignIn, _body("Assign to user 2", {"assignee": 2})]
TagBody = Annotated[TagIn, _body("A tag", {"tag": "VIP"})]
PauseBody = Annotated[PauseIn, _body("Pause for an hour", {"minutes": 60})]
ConnectChannelBody = Annotated[ConnectChannelIn, _body("A page and its Instagram account", {
    "page_id": "104870358931474", "name": "Acme Shoes", "token": "EAAG...page-token",
    "instagram_id": "17841405822304914", "instagram_username": "acme.shoes"})]
ConnectInstagramLoginBody = Annotated[ConnectInstagramLoginIn, _body("An Instagram account without a page", {
    "token": "IGAA...instagram-user-token", "instagram_id": "17841405822304914"})]
ChannelSettingsBody = Annotated[ChannelSettingsIn, _body("Stop showing comments", {
    "receive_comments": False, "fallback_message": "Thanks! We answer within a day."})]
HandoverBody = Annotated[HandoverSettings, _body("Hand over on a button or two phrases, pause for two hours", {
    "handover_payloads": ["HUMAN"], "handover_keywords": ["human", "talk to a person"],
    "handover_message": "Thanks {{ first_name }}, a colleague will answer you shortly.", "pause_seconds": 7200})]
CampaignBody = Annotated[CampaignIn, _body("Answer 'price' comments privately", {
    "name": "Price answers", "channel_id": 1, "is_active": False,
    "trigger": {"all_posts": True, "keywords_any": ["price", "how much"]},
    "actions": [{"kind": "send_message", "message": {"text": "Hi {{ first_name }}, it is 49 EUR."}},
                {"kind": "reply_comment", "text": "Sent you a message!"}]})]
UserBody = Annotated[UserIn, _body("An agent", {
    "email": "sam@example.com", "password": "a long passphrase", "role": "agent", "name": "Sam"})]
TokenBody = Annotated[TokenIn, _body("A token for a CRM, valid 90 days", {"name": "CRM", "expires_in_days": 90})]
WebhookBody = Annotated[WebhookIn, _body("A CRM receiving new messages", {
    "url": "https://crm.example/hooks/socialdesk", "events": ["conversation.created", "message.received"],
    "description": "CRM"})]
WebhookPatchBody = Annotated[WebhookPatch, _body("Pause the endpoint", {"is_active": False})]
