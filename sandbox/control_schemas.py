"""Request bodies of the control API (`/control/...`), typed so Litestar validates them (400 on a
wrong type or an unknown key) and documents them in the sandbox's OpenAPI schema."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    """Unknown keys are refused: a typo in a test must fail loudly, not be ignored."""


class ConfigChange(_Body):
    """Partial update; a key left out keeps its value; null clears webhook_url or the rate limit."""

    app_secret: str | UnsetType = UNSET
    webhook_url: str | None | UnsetType = UNSET
    latency_ms: int | UnsetType = UNSET
    error_rate: float | UnsetType = UNSET
    error_kinds: list[str] | UnsetType = UNSET
    drop_rate: float | UnsetType = UNSET
    drop_kinds: list[str] | UnsetType = UNSET
    rate_limit_per_second: int | None | UnsetType = UNSET
    auto_receipts: bool | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    user_token: str | UnsetType = UNSET
    user_id: str | UnsetType = UNSET
    user_name: str | UnsetType = UNSET
    app_id: str | UnsetType = UNSET
    app_name: str | UnsetType = UNSET
    delivery_timeout_s: float | UnsetType = UNSET


class ResetRequest(_Body):
    keep_config: bool = False


class InstagramLoginSpec(_Body):
    """An Instagram professional account connected with Instagram Login (no Facebook Page)."""

    username: str
    name: str | None = None
    ig_id: str | None = None
    token: str | None = None
    followers_count: int = 0
    subscribed: bool = True
    scopes: list[str] | None = None
    token_age_days: int = 0  # the token was issued this many days ago (refresh needs 1 day)


class InstagramSpec(_Body):
    username: str
    followers_count: int = 0
    ig_id: str | None = None
    name: str | None = None
    profile_picture_url: str | None = None


class PageSpec(_Body):
    name: str
    page_id: str | None = None
    page_token: str | None = None
    instagram: InstagramSpec | None = None
    followers_count: int = 0
    subscribed: bool = True
    scopes: list[str] | None = None


class PostSpec(_Body):
    account_id: str
    message: str = ""
    picture_url: str | None = None
    created_time: int | None = None
    media_product_type: str = "FEED"
    # Meta sends the Page `feed` change (item status/photo, verb add) for a page's new post; off by
    # default so setups that only seed posts stay quiet. Instagram sends none (nothing documented).
    webhook: bool = False


class CustomerSpec(_Body):
    account_id: str
    name: str
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    profile_pic: str | None = None
    follower_count: int = 0
    is_verified_user: bool = False


class DmSpec(_Body):
    account_id: str
    user_id: str
    text: str | None = None
    attachments: list[dict[str, Any]] = []
    quick_reply_payload: str | None = None
    reply_to_mid: str | None = None
    story_reply_url: str | None = None
    is_unsupported: bool = False
    timestamp_ms: int | None = None
    ref: str | None = None  # the message opens the thread from an m.me / ig.me link with this ref
    ad_id: str | None = None  # ... or from a click-to-Messenger/Instagram ad (`referral.source: ADS`)


class CommentSpec(_Body):
    account_id: str
    post_id: str
    text: str
    user_id: str | None = None
    as_account: bool = False
    parent_id: str | None = None
    photo_url: str | None = None
    created_time: int | None = None


class CommentEdit(_Body):
    comment_id: str
    text: str


class CommentRef(_Body):
    comment_id: str


class CommentHide(_Body):
    comment_id: str
    hidden: bool = True


class PostbackSpec(_Body):
    """Either a tap on a button we sent (`mid` + `button_index`, 0-based; with `card_index`, the
    button of that card of a generic template, else counted through all the message's buttons)
    or a bare postback such as Get Started or an ice breaker (`payload` + `title`)."""

    account_id: str
    user_id: str
    mid: str | None = None
    button_index: int | None = None
    card_index: int | None = None
    payload: str | None = None
    title: str | None = None
    ref: str | None = None
    timestamp_ms: int | None = None


class PersonRef(_Body):
    account_id: str
    user_id: str
    timestamp_ms: int | None = None


class ReactSpec(_Body):
    account_id: str
    user_id: str
    mid: str
    reaction: str = "love"
    action: str = "react"
    emoji: str | None = None


class MessageEdit(_Body):
    mid: str
    text: str


class MessageRef(_Body):
    mid: str


class EchoSpec(_Body):
    account_id: str
    user_id: str
    text: str | None = None
    attachments: list[dict[str, Any]] = []
    app_id: str | None = None


class ReferralSpec(_Body):
    account_id: str
    user_id: str
    ref: str | None = None
    source: str = "SHORTLINK"
    type: str = "OPEN_THREAD"
    ad_id: str | None = None
    timestamp_ms: int | None = None


class HoldRequest(_Body):
    hold: bool = True


class FlushRequest(_Body):
    batch: bool = False
    shuffle: bool = False
    duplicate: bool = False


class RedeliverRequest(_Body):
    index: int


class RevokeRequest(_Body):
    token: str
    subcode: int = 460


class AccountRef(_Body):
    account_id: str
