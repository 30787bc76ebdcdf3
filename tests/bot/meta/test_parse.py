"""bot.meta.parse: Meta's webhook bodies -> our events (shared/meta-platform.md §1-§4)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import events
from bot.core.events import (
    Attachment,
    CommentAdded,
    CommentEdited,
    CommentRemoved,
    CommentVisibility,
    Ignored,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    MessagesDelivered,
    MessagesRead,
    Platform,
    Postback,
    PostPublished,
    ReactionChanged,
    ReferralInfo,
    Referred,
    TemplateButton,
)
from bot.meta.parse import MalformedBody, ParsedDelivery, parse_delivery
from tests.bot.meta import payloads as p
from tests.bot.meta.payloads import IG_ID, IGSID, PAGE_ID, POST_ID, PSID, T_MS, T_S

FB = {"platform": Platform.FACEBOOK, "account_id": PAGE_ID}
IG = {"platform": Platform.INSTAGRAM, "account_id": IG_ID}


def parse(body: dict[str, Any]) -> ParsedDelivery:
    return parse_delivery(p.encode(body))


def only_event(body: dict[str, Any]) -> events.Event:
    parsed = parse(body)
    assert parsed.ignored == []
    assert len(parsed.events) == 1, parsed.events
    return parsed.events[0]


def only_ignored(body: dict[str, Any]) -> Ignored:
    parsed = parse(body)
    assert parsed.events == []
    assert len(parsed.ignored) == 1, parsed.ignored
    return parsed.ignored[0]


# --- Messenger messages (§2) ------------------------------------------------------------------


def test_messenger_text_message_with_quick_reply_reply_to_and_referral() -> None:
    body = p.messenger_message(
        PAGE_ID,
        PSID,
        "m_abc",
        text="Hällo 👋",
        quick_reply="SIZE_M",
        reply_to="m_earlier",
        referral=p.referral_body(ref="spring", source="ADS", ad_id="6045246247433"),
    )
    assert only_event(body) == MessageReceived(
        **FB,
        timestamp=T_MS,
        user_id=PSID,
        mid="m_abc",
        text="Hällo 👋",
        quick_reply_payload="SIZE_M",
        reply_to_mid="m_earlier",
        referral=ReferralInfo(ref="spring", source="ADS", type="OPEN_THREAD", ad_id="6045246247433"),
    )
    assert parse(body).object == "page"


@pytest.mark.parametrize("kind", ["image", "audio", "video", "file"])
def test_media_attachments_keep_payload_url(kind: str) -> None:
    url = f"https://scontent.xx.fbcdn.net/v/{kind}.bin?oh=1&oe=2"
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=[p.media(kind, url)]))
    assert isinstance(event, MessageReceived)
    assert event.text is None
    assert event.attachments == (Attachment(type=kind, url=url),)


def test_sticker_attachment() -> None:
    body = p.messenger_message(
        PAGE_ID, PSID, "m_1", attachments=[p.sticker(369239263222822, "https://s/st.png")]
    )
    event = only_event(body)
    assert isinstance(event, MessageReceived)
    assert event.attachments == (
        Attachment(type="sticker", url="https://s/st.png", sticker_id="369239263222822"),
    )


def test_legacy_double_sticker_comes_out_once_as_the_sticker() -> None:
    pair = p.legacy_sticker_pair(369239263222822, "https://s/st.png")
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=pair))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (
        Attachment(type="sticker", url="https://s/st.png", sticker_id="369239263222822"),
    )


def test_double_sticker_with_different_urls_still_comes_out_once() -> None:
    pair = p.legacy_sticker_pair(369239263222822, "https://s/image-form.png")
    pair[1]["payload"]["url"] = "https://s/sticker-form.webp"
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=pair))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (
        Attachment(type="sticker", url="https://s/sticker-form.webp", sticker_id="369239263222822"),
    )


def test_legacy_sticker_image_alone_is_a_sticker() -> None:
    image_form = p.legacy_sticker_pair(369239263222822, "https://s/st.png")[0]
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=[image_form]))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (
        Attachment(type="sticker", url="https://s/st.png", sticker_id="369239263222822"),
    )


def test_photos_next_to_a_sticker_are_kept() -> None:
    atts = [p.media("image", "https://s/photo.jpg"), *p.legacy_sticker_pair(1, "https://s/st.png")]
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=atts))
    assert isinstance(event, MessageReceived)
    assert [a.type for a in event.attachments] == ["image", "sticker"]


@pytest.mark.parametrize("payload", [None, {"url": "https://example.com/a"}])
def test_fallback_takes_title_and_url_from_the_attachment(payload: dict[str, str] | None) -> None:
    att = p.fallback("Example Domain", "https://example.com/a", payload)
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", text="look", attachments=[att]))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (
        Attachment(type="fallback", url="https://example.com/a", title="Example Domain"),
    )


def test_fallback_without_payload_key() -> None:
    att = {"type": "fallback", "title": "t", "url": "https://u"}
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=[att]))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (Attachment(type="fallback", url="https://u", title="t"),)


def test_location_coordinates() -> None:
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=[p.location(48.8584, 2.2945)]))
    assert isinstance(event, MessageReceived)
    (att,) = event.attachments
    assert (att.type, att.latitude, att.longitude, att.title) == (
        "location",
        48.8584,
        2.2945,
        "Pinned location",
    )


def test_share_reel_and_post_attachments() -> None:
    atts = [
        p.media("share", "https://www.facebook.com/share/1"),
        p.reel("https://lookaside/reel.mp4", "18012345678901234", type_="reel"),
        p.reel("https://lookaside/igreel.mp4", "18099999999999999"),
        {"type": "post", "payload": {"url": "https://www.facebook.com/post/1", "title": "A post"}},
        p.ig_post("17900000000000001", "https://lookaside/post.jpg", title="caption"),
        {"type": "appointment_booking", "payload": {"title": "Booking"}},
    ]
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=atts))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (
        Attachment(type="share", url="https://www.facebook.com/share/1"),
        Attachment(
            type="reel", url="https://lookaside/reel.mp4", title="a reel", media_id="18012345678901234"
        ),
        Attachment(
            type="ig_reel", url="https://lookaside/igreel.mp4", title="a reel", media_id="18099999999999999"
        ),
        Attachment(type="post", url="https://www.facebook.com/post/1", title="A post"),
        Attachment(
            type="ig_post", url="https://lookaside/post.jpg", title="caption", media_id="17900000000000001"
        ),
        Attachment(type="appointment_booking", title="Booking"),
    )


def test_unknown_attachment_type_is_kept_as_unsupported() -> None:
    atts = [
        {"type": "hologram", "payload": {"url": "https://h"}},
        {"type": "image", "payload": "not an object"},
        {"payload": {"url": "https://no-type"}},
        42,
    ]
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=atts))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (
        Attachment(type="unsupported", original_type="hologram", url="https://h"),
        Attachment(type="unsupported", original_type="image"),
        Attachment(type="unsupported", url="https://no-type"),
        Attachment(type="unsupported"),
    )


def test_template_from_a_customer_is_unsupported() -> None:
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", attachments=[p.button_template("Pick one")]))
    assert isinstance(event, MessageReceived)
    assert event.attachments == (Attachment(type="unsupported", original_type="template"),)


def test_deleted_message() -> None:
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_gone", is_deleted=True))
    assert event == MessageDeleted(**FB, timestamp=T_MS, user_id=PSID, mid="m_gone")


def test_echo_is_addressed_to_the_customer() -> None:
    body = p.messenger_echo(PAGE_ID, PSID, "m_echo", text="Thanks!", metadata="outgoing:42")
    assert only_event(body) == MessageEcho(
        **FB,
        timestamp=T_MS,
        user_id=PSID,
        mid="m_echo",
        text="Thanks!",
        app_id="1517776481860111",
        metadata="outgoing:42",
    )


def test_echo_of_a_button_template_and_a_double_sticker() -> None:
    atts = [
        p.button_template("Want the catalogue?"),
        *p.legacy_sticker_pair(126361874215276, "https://s/t.png"),
    ]
    event = only_event(p.messenger_echo(PAGE_ID, PSID, "m_echo", attachments=atts, app_id="263902037430900"))
    assert isinstance(event, MessageEcho)
    assert event.app_id == "263902037430900"
    assert event.attachments == (
        Attachment(type="template", title="Want the catalogue?", template_type="button",
                   text="Want the catalogue?",
                   buttons=(TemplateButton(type="postback", title="Yes", payload="YES"),)),
        Attachment(type="sticker", url="https://s/t.png", sticker_id="126361874215276"),
    )


def test_echo_from_another_tool_has_no_app_id() -> None:
    event = only_event(p.messenger_echo(PAGE_ID, PSID, "m_echo", text="hi", app_id=None))
    assert isinstance(event, MessageEcho)
    assert (event.app_id, event.metadata) == (None, None)


# --- other Messenger items (§2) ---------------------------------------------------------------


def test_postback_with_referral() -> None:
    body = p.messenger_postback(PAGE_ID, PSID, "GET_STARTED", referral=p.referral_body(ref="welcome"))
    assert only_event(body) == Postback(
        **FB,
        timestamp=T_MS,
        user_id=PSID,
        payload="GET_STARTED",
        title="Get Started",
        mid="m_postback_1",
        referral=ReferralInfo(ref="welcome", source="SHORTLINK", type="OPEN_THREAD"),
    )


def test_postback_without_mid_or_payload() -> None:
    event = only_event(p.messenger_postback(PAGE_ID, PSID, "BUY", mid=None))
    assert isinstance(event, Postback)
    assert (event.mid, event.payload) == (None, "BUY")
    body = p.messenger_postback(PAGE_ID, PSID, "BUY")
    del body["entry"][0]["messaging"][0]["postback"]["payload"]
    assert only_ignored(body).reason == "postback without payload"


def test_read_watermark() -> None:
    event = only_event(p.messenger_read(PAGE_ID, PSID, watermark=T_MS - 5000))
    assert event == MessagesRead(**FB, timestamp=T_MS, user_id=PSID, watermark=T_MS - 5000)


def test_delivery_without_timestamp_uses_the_watermark() -> None:
    body = p.messenger_delivery(PAGE_ID, PSID, watermark=T_MS - 10, mids=["m_1", "m_2"])
    assert only_event(body) == MessagesDelivered(
        **FB, timestamp=T_MS - 10, user_id=PSID, watermark=T_MS - 10, mids=("m_1", "m_2"),
        notes=("timestamp missing: the delivery watermark used",),
    )


def test_delivery_without_mids() -> None:
    event = only_event(p.messenger_delivery(PAGE_ID, PSID, watermark=T_MS, timestamp=T_MS + 3))
    assert event == MessagesDelivered(**FB, timestamp=T_MS + 3, user_id=PSID, watermark=T_MS)


def test_reaction_and_unreact() -> None:
    react = only_event(p.messenger_reaction(PAGE_ID, PSID, "m_ours", reaction="love", emoji="\u2764"))
    assert react == ReactionChanged(
        **FB, timestamp=T_MS, user_id=PSID, mid="m_ours", action="react", reaction="love", emoji="\u2764"
    )
    unreact = only_event(
        p.messenger_reaction(PAGE_ID, PSID, "m_ours", action="unreact", reaction=None, emoji=None)
    )
    assert unreact == ReactionChanged(**FB, timestamp=T_MS, user_id=PSID, mid="m_ours", action="unreact")


def test_referral_from_an_ad() -> None:
    body = p.messenger_referral(PAGE_ID, PSID, ref=None, source="ADS", ad_id="6045246247433")
    assert only_event(body) == Referred(
        **FB,
        timestamp=T_MS,
        user_id=PSID,
        referral=ReferralInfo(source="ADS", type="OPEN_THREAD", ad_id="6045246247433"),
    )


@pytest.mark.parametrize("num_edit", [2, "2"])
def test_message_edit(num_edit: int | str) -> None:
    event = only_event(p.messenger_edit(PAGE_ID, PSID, "m_1", "fixed typo", num_edit=num_edit))
    assert event == MessageEdited(
        **FB, timestamp=T_MS, user_id=PSID, mid="m_1", text="fixed typo", num_edit=2
    )


def test_string_timestamps_and_watermarks() -> None:
    body = p.batch(
        p.messenger_message(PAGE_ID, PSID, "m_1", text="a", timestamp=str(T_MS)),
        p.messenger_read(PAGE_ID, PSID, watermark=str(T_MS - 1), timestamp=str(T_MS + 1)),
        p.messenger_delivery(PAGE_ID, PSID, watermark=str(T_MS + 2)),
    )
    parsed = parse(body)
    assert parsed.ignored == []
    assert [e.timestamp for e in parsed.events] == [T_MS, T_MS + 1, T_MS + 2]
    assert isinstance(parsed.events[1], MessagesRead)
    assert parsed.events[1].watermark == T_MS - 1


def test_timestamp_in_seconds_becomes_milliseconds() -> None:
    event = only_event(p.messenger_message(PAGE_ID, PSID, "m_1", text="a", timestamp=T_S))
    assert event.timestamp == T_S * 1000


def test_item_without_timestamp_takes_the_entry_time() -> None:
    body = p.messenger_message(PAGE_ID, PSID, "m_1", text="a")
    del body["entry"][0]["messaging"][0]["timestamp"]
    assert only_event(body).timestamp == body["entry"][0]["time"]


def test_user_ref_sender_is_ignored() -> None:
    ignored = only_ignored(p.user_ref_message(PAGE_ID, "guest-7f3a", "m_1", "hi"))
    assert ignored == Ignored(
        reason="user_ref sender not supported", object="page", field="message", account_id=PAGE_ID
    )


def test_echo_to_a_user_ref_is_ignored() -> None:
    body = p.messenger_echo(PAGE_ID, PSID, "m_1", text="hi")
    body["entry"][0]["messaging"][0]["recipient"] = {"user_ref": "guest-7f3a"}
    assert only_ignored(body).reason == "user_ref recipient not supported"


def test_standby_items_parse_like_messaging() -> None:
    body = p.batch(
        p.messenger_message(PAGE_ID, PSID, "m_1", text="hello"),
        p.messenger_echo(PAGE_ID, PSID, "m_2", text="from the other app", app_id=999),
    )
    assert parse(p.as_standby(body)).events == parse(body).events
    assert "standby" in p.encode(p.as_standby(body)).decode()


def test_messaging_items_we_do_not_handle_are_ignored_with_their_keys() -> None:
    item = p.messaging_item({"id": PSID}, {"id": PAGE_ID}, T_MS, optin={"ref": "x"}, pass_thread_control={})
    ignored = only_ignored(p.delivery("page", p.entry(PAGE_ID, T_MS, messaging=[item])))
    assert ignored == Ignored(
        reason="messaging item with no handled key ('optin', 'pass_thread_control')",
        object="page",
        field="messaging",
        account_id=PAGE_ID,
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda item: item["message"].pop("mid"), "message without mid"),
        (lambda item: item.pop("sender"), "item without sender id"),
        (lambda item: item["sender"].update(id=""), "item without sender id"),
        (lambda item: item["message"].update(text=12), "messaging item not readable"),
        (lambda item: item.update(timestamp={"ms": 1}), "messaging item not readable"),
        (lambda item: item["message"].update(attachments="x"), "messaging item not readable"),
    ],
)
def test_items_missing_ids_or_with_wrong_types_are_ignored(mutate: Any, reason: str) -> None:
    body = p.messenger_message(PAGE_ID, PSID, "m_1", text="hi")
    mutate(body["entry"][0]["messaging"][0])
    ignored = only_ignored(body)
    assert ignored.reason.startswith(reason), ignored
    assert (ignored.object, ignored.account_id) == ("page", PAGE_ID)


def test_one_bad_item_does_not_spoil_the_others() -> None:
    body = p.batch(
        p.messenger_message(PAGE_ID, PSID, "m_1", text="first"),
        p.messenger_message(PAGE_ID, PSID, "m_2", text="second"),
    )
    body["entry"][0]["messaging"].insert(0, "garbage")
    body["entry"][1]["messaging"][0]["reaction"] = {"mid": "m_x"}  # message wins; reaction unread
    body["entry"][1]["messaging"].append({"sender": {"id": PSID}, "reaction": {"action": "react"}})
    parsed = parse(body)
    assert [e.mid for e in parsed.events if isinstance(e, MessageReceived)] == ["m_1", "m_2"]
    assert [i.reason.split(":")[0] for i in parsed.ignored] == [
        "messaging item not readable",
        "reaction without mid or action",
    ]


# --- Instagram messaging (§3) -----------------------------------------------------------------


def test_instagram_message_with_story_mention_and_shared_post() -> None:
    atts = [
        p.media("story_mention", "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"),
        p.ig_post("17912345678901234", "https://scontent.cdninstagram.com/p.jpg", title="New drop"),
        p.media("share", "https://www.instagram.com/p/old"),
    ]
    body = p.instagram_message(
        IG_ID, IGSID, "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3", text="look", attachments=atts
    )
    assert only_event(body) == MessageReceived(
        **IG,
        timestamp=T_MS,
        user_id=IGSID,
        mid="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3",
        text="look",
        attachments=(
            Attachment(type="story_mention", url="https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"),
            Attachment(
                type="ig_post",
                url="https://scontent.cdninstagram.com/p.jpg",
                title="New drop",
                media_id="17912345678901234",
            ),
            Attachment(type="share", url="https://www.instagram.com/p/old"),
        ),
    )


def test_instagram_story_reply_and_message_reply() -> None:
    story = only_event(
        p.instagram_message(
            IG_ID, IGSID, "mid_1", text="love it", reply_to_story=("1798", "https://cdn/story.mp4")
        )
    )
    assert isinstance(story, MessageReceived)
    assert (story.reply_to_story_url, story.reply_to_mid) == ("https://cdn/story.mp4", None)
    reply = only_event(p.instagram_message(IG_ID, IGSID, "mid_2", text="and?", reply_to="mid_1"))
    assert isinstance(reply, MessageReceived)
    assert (reply.reply_to_story_url, reply.reply_to_mid) == (None, "mid_1")


def test_instagram_unsupported_message_and_attachment() -> None:
    body = p.instagram_message(
        IG_ID,
        IGSID,
        "mid_1",
        is_unsupported=True,
        attachments=[{"type": "unsupported_type", "payload": None}],
    )
    assert only_event(body) == MessageReceived(
        **IG,
        timestamp=T_MS,
        user_id=IGSID,
        mid="mid_1",
        attachments=(Attachment(type="unsupported", original_type="unsupported_type"),),
        is_unsupported=True,
    )


def test_instagram_quick_reply_and_referral() -> None:
    body = p.instagram_message(
        IG_ID,
        IGSID,
        "mid_1",
        text="Yes",
        quick_reply="YES",
        referral=p.referral_body(ref="bio", source="IGME"),
    )
    event = only_event(body)
    assert isinstance(event, MessageReceived)
    assert event.quick_reply_payload == "YES"
    assert event.referral == ReferralInfo(ref="bio", source="IGME", type="OPEN_THREAD")


def test_instagram_deleted_echo_and_seen() -> None:
    body = p.batch(
        p.instagram_message(IG_ID, IGSID, "mid_1", is_deleted=True),
        p.instagram_echo(IG_ID, IGSID, "mid_2", text="Hi from the app"),
        p.instagram_read(IG_ID, IGSID, "mid_2", timestamp=T_MS + 9),
    )
    assert parse(body).events == [
        MessageDeleted(**IG, timestamp=T_MS, user_id=IGSID, mid="mid_1"),
        MessageEcho(**IG, timestamp=T_MS, user_id=IGSID, mid="mid_2", text="Hi from the app"),
        MessagesRead(**IG, timestamp=T_MS + 9, user_id=IGSID, mid="mid_2"),
    ]


def test_instagram_postback_reaction_referral() -> None:
    body = p.batch(
        p.instagram_postback(IG_ID, IGSID, "MORE_INFO", title="More info"),
        p.instagram_reaction(IG_ID, IGSID, "mid_9", reaction="love", emoji="\u2764\ufe0f"),
        p.instagram_referral(IG_ID, IGSID, ref="ig_ad", source="ADS", ad_id="238"),
    )
    assert parse(body).events == [
        Postback(
            **IG, timestamp=T_MS, user_id=IGSID, payload="MORE_INFO", title="More info", mid="aWdfcG9zdGJhY2s"
        ),
        ReactionChanged(
            **IG,
            timestamp=T_MS,
            user_id=IGSID,
            mid="mid_9",
            action="react",
            reaction="love",
            emoji="\u2764\ufe0f",
        ),
        Referred(
            **IG,
            timestamp=T_MS,
            user_id=IGSID,
            referral=ReferralInfo(ref="ig_ad", source="ADS", type="OPEN_THREAD", ad_id="238"),
        ),
    ]


# --- Facebook Page feed comments (§4) ---------------------------------------------------------

COMMENT_ID = "1122334455667788_9988776655"


def test_feed_comment_added_top_level() -> None:
    body = p.feed_comment(
        PAGE_ID,
        COMMENT_ID,
        POST_ID,
        message="Price?",
        photo="https://scontent/photo.jpg",
        permalink_url="https://www.facebook.com/104870358931474/posts/1122334455667788",
    )
    assert only_event(body) == CommentAdded(
        **FB,
        timestamp=T_S * 1000,
        comment_id=COMMENT_ID,
        post_id=POST_ID,
        from_id=PSID,
        from_name="Jane Doe",
        text="Price?",
        attachments=(Attachment(type="image", url="https://scontent/photo.jpg"),),
        created_time=T_S * 1000,
        post_permalink="https://www.facebook.com/104870358931474/posts/1122334455667788",
    )


def test_feed_reply_to_a_comment_keeps_parent_and_video() -> None:
    parent = "1122334455667788_1111"
    event = only_event(
        p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, parent_id=parent, video="https://v/clip.mp4")
    )
    assert isinstance(event, CommentAdded)
    assert event.parent_id == parent
    assert event.attachments == (Attachment(type="video", url="https://v/clip.mp4"),)
    assert event.post_permalink is None


def test_feed_comment_without_parent_id_is_top_level() -> None:
    body = p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID)
    del body["entry"][0]["changes"][0]["value"]["parent_id"]
    event = only_event(body)
    assert isinstance(event, CommentAdded)
    assert event.parent_id is None


def test_feed_comment_legacy_sender_and_string_created_time() -> None:
    body = p.feed_comment(
        PAGE_ID, COMMENT_ID, POST_ID, legacy_sender=True, created_time=str(T_S), time=str(T_S + 5)
    )
    body["entry"][0]["changes"][0]["value"]["sender_id"] = int(PSID)  # old payloads: a number
    event = only_event(body)
    assert isinstance(event, CommentAdded)
    assert (event.from_id, event.from_name, event.created_time, event.timestamp) == (
        PSID,
        "Jane Doe",
        T_S * 1000,
        T_S * 1000,
    )


def test_feed_comment_without_from() -> None:
    event = only_event(p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, from_id=None))
    assert isinstance(event, CommentAdded)
    assert (event.from_id, event.from_name, event.by_account) == (None, None, False)
    assert event.inbox_key.endswith(":unknown")


def test_comment_by_the_page_itself() -> None:
    event = only_event(p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, from_id=PAGE_ID, from_name="Shop"))
    assert isinstance(event, CommentAdded)
    assert event.by_account is True


def test_feed_comment_without_created_time_uses_entry_time() -> None:
    event = only_event(p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, created_time=None, time=T_S + 7))
    assert isinstance(event, CommentAdded)
    assert (event.timestamp, event.created_time) == ((T_S + 7) * 1000, None)


def test_entry_time_in_milliseconds_is_kept() -> None:
    event = only_event(p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, created_time=None, time=T_MS))
    assert event.timestamp == T_MS


def test_feed_comment_edited_removed_hidden_unhidden() -> None:
    parent = "1122334455667788_1111"
    common = {"comment_id": COMMENT_ID, "post_id": POST_ID, "from_id": PSID, "from_name": "Jane Doe"}
    body = p.batch(
        p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, verb="edited", message="Price? (edit)", time=T_S + 60),
        p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, verb="hide", time=T_S + 61),
        p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, verb="unhide", time=T_S + 62),
        p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, verb="remove", parent_id=parent, time=T_S + 63),
    )
    assert parse(body).events == [
        CommentEdited(**FB, timestamp=(T_S + 60) * 1000, **common, text="Price? (edit)"),
        CommentVisibility(**FB, timestamp=(T_S + 61) * 1000, **common, hidden=True),
        CommentVisibility(**FB, timestamp=(T_S + 62) * 1000, **common, hidden=False),
        CommentRemoved(**FB, timestamp=(T_S + 63) * 1000, **common, parent_id=parent),
    ]


def test_a_post_the_page_publishes() -> None:
    """Issue 22: the page's new post (feed item status/photo/video, verb add) is an event, so a
    campaign waiting for "the next post" can bind to it; its time is the post's created_time."""
    body = p.feed_item(PAGE_ID, "photo", post_id=POST_ID, message="Summer drop", created_time=T_S - 5,
                       published=1, **{"from": {"id": PAGE_ID, "name": "Shop"}})
    assert only_event(body) == PostPublished(**FB, timestamp=(T_S - 5) * 1000, post_id=POST_ID, item="photo",
                                             text="Summer drop")
    assert only_event(p.feed_item(PAGE_ID, "status", post_id=POST_ID)).timestamp == T_S * 1000  # entry time


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, verb="block"), "comment verb 'block' not handled"),
        (p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, verb="mute"), "comment verb 'mute' not handled"),
        (
            p.feed_item(PAGE_ID, "status", message="Visitor post", post_id=POST_ID, **{"from": {"id": PSID}}),
            "post by a visitor, not by the page",
        ),
        (p.feed_item(PAGE_ID, "photo", link="https://p/1.jpg"), "post without post_id"),
        (p.feed_item(PAGE_ID, "status", post_id=POST_ID, published=0), "unpublished post"),
        (p.feed_item(PAGE_ID, "status", verb="edited", post_id=POST_ID), "feed item 'status' not handled"),
        (
            p.feed_item(PAGE_ID, "reaction", reaction_type="like", post_id=POST_ID),
            "feed item 'reaction' not handled",
        ),
        (p.feed_item(PAGE_ID, "share", verb="remove", post_id=POST_ID), "feed item 'share' not handled"),
        (p.change("page", PAGE_ID, "ratings", {"item": "rating"}), "unhandled field 'ratings'"),
        (p.change("page", PAGE_ID, "feed", {"item": "comment", "verb": "add"}), "comment without comment_id"),
    ],
)
def test_feed_changes_we_do_not_handle(body: dict[str, Any], reason: str) -> None:
    ignored = only_ignored(body)
    assert ignored.reason.startswith(reason)
    assert (ignored.object, ignored.account_id) == ("page", PAGE_ID)
    assert ignored.field == body["entry"][0]["changes"][0]["field"]


# --- Instagram comments (§4) ------------------------------------------------------------------


def test_instagram_comment() -> None:
    body = p.instagram_comment(IG_ID, "17865799348089039", "17887498072083520", media_product_type="REELS")
    assert only_event(body) == CommentAdded(
        **IG,
        timestamp=T_S * 1000,
        comment_id="17865799348089039",
        post_id="17887498072083520",
        from_id=IGSID,
        from_username="jane.doe",
        text="Price please",
        media_product_type="REELS",
    )


def test_instagram_reply_by_the_account_and_live_comment() -> None:
    body = p.batch(
        p.instagram_comment(IG_ID, "c2", "m1", parent_id="c1", from_id=IG_ID, username="shop"),
        p.instagram_comment(
            IG_ID, "c3", "live1", field="live_comments", from_id=None, media_product_type="LIVE"
        ),
    )
    reply, live = parse(body).events
    assert isinstance(reply, CommentAdded)
    assert isinstance(live, CommentAdded)
    assert (reply.parent_id, reply.by_account, reply.from_username) == ("c1", True, "shop")
    assert (live.comment_id, live.from_id, live.media_product_type) == ("c3", None, "LIVE")


def test_other_instagram_fields_are_ignored() -> None:
    ignored = only_ignored(p.change("instagram", IG_ID, "mentions", {"media_id": "1", "comment_id": "2"}))
    assert ignored == Ignored(
        reason="unhandled field 'mentions'", object="instagram", field="mentions", account_id=IG_ID
    )
    feed_on_instagram = only_ignored(p.change("instagram", IG_ID, "feed", {"item": "comment"}))
    assert feed_on_instagram.reason == "unhandled field 'feed'"


def test_instagram_comment_without_media_is_ignored() -> None:
    body = p.instagram_comment(IG_ID, "c1", "m1")
    del body["entry"][0]["changes"][0]["value"]["media"]
    assert only_ignored(body).reason == "comment without id or media.id"


# --- batches, order, envelope problems (§1) ---------------------------------------------------


def test_batch_keeps_entry_then_item_order() -> None:
    first = p.messenger_message(PAGE_ID, PSID, "m_1", text="one", timestamp=T_MS + 50)
    first["entry"][0]["messaging"].append(
        p.messaging_item({"id": PSID}, {"id": PAGE_ID}, T_MS + 10, read={"watermark": T_MS})
    )
    second_page = "200000000000001"
    body = p.batch(
        first,
        p.messenger_delivery(second_page, "777", watermark=T_MS, mids=["m_x"]),
        p.messenger_message(PAGE_ID, "888", "m_2", text="two"),
    )
    body["entry"].append(
        {"id": PAGE_ID, "time": T_S, "changes": [{"field": "feed", "value": {"item": "status"}}]}
    )
    parsed = parse(body)
    assert [(type(e).__name__, e.account_id) for e in parsed.events] == [
        ("MessageReceived", PAGE_ID),
        ("MessagesRead", PAGE_ID),
        ("MessagesDelivered", second_page),
        ("MessageReceived", PAGE_ID),
    ]
    assert [i.reason for i in parsed.ignored] == ["feed item 'status' not handled"]


def test_feed_changes_batch() -> None:
    body = p.batch(
        p.feed_comment(PAGE_ID, "1_1", POST_ID),
        p.feed_comment(PAGE_ID, "1_2", POST_ID, verb="remove"),
    )
    body["entry"][0]["changes"].append(body["entry"].pop()["changes"][0])
    parsed = parse(body)
    assert len(body["entry"]) == 1
    assert [type(e) for e in parsed.events] == [CommentAdded, CommentRemoved]


@pytest.mark.parametrize(
    ("body", "ignored"),
    [
        ({"object": "user", "entry": []}, Ignored(reason="unknown object 'user'", object="user")),
        ({"object": "whatsapp"}, Ignored(reason="unknown object 'whatsapp'", object="whatsapp")),
        ({"entry": []}, Ignored(reason="delivery without object")),
        ({"object": None}, Ignored(reason="delivery without object")),
        ({"object": 7, "entry": []}, Ignored(reason="object is not a string")),
        ({"object": "page"}, Ignored(reason="entry is missing or not a list", object="page")),
        (
            {"object": "page", "entry": {"id": "1"}},
            Ignored(reason="entry is missing or not a list", object="page"),
        ),
        ({"object": "page", "entry": [{"time": 1}]}, Ignored(reason="entry without id", object="page")),
        (
            {"object": "page", "entry": [{"id": "1"}]},
            Ignored(reason="entry without messaging, standby or changes", object="page", account_id="1"),
        ),
    ],
)
def test_envelope_problems_are_ignored_not_raised(body: dict[str, Any], ignored: Ignored) -> None:
    assert parse(body).ignored == [ignored]
    assert parse(body).events == []


def test_entry_with_wrong_types_is_ignored() -> None:
    body = p.batch(p.messenger_message(PAGE_ID, PSID, "m_1", text="ok"))
    body["entry"].insert(0, {"id": PAGE_ID, "messaging": "nope"})
    parsed = parse(body)
    assert [e.mid for e in parsed.events if isinstance(e, MessageReceived)] == ["m_1"]
    assert parsed.ignored[0].reason.startswith("entry not readable")


def test_empty_entry_list() -> None:
    assert parse({"object": "instagram", "entry": []}) == ParsedDelivery(
        object="instagram", events=[], ignored=[]
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"page"',
        b"42",
        b"null",
        b'{"object": "page"',
        b'{"object":"page"} x',
        b"[" * 100_000,
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_delivery(body)


def test_non_utf8_bytes_and_lone_surrogates_are_repaired_not_refused() -> None:
    body = p.encode(p.messenger_message(PAGE_ID, PSID, "m_1", text="XX"))
    broken_utf8 = body.replace(b"XX", b"X\xff")
    lone_surrogate = body.replace(b"XX", b"X\\ud83d")
    escaped_backslash = body.replace(b"XX", b"\\\\ud83d")  # the text `\ud83d`, not an escape
    assert [e.text for e in parse_delivery(broken_utf8).events] == ["X\ufffd"]  # type: ignore[union-attr]
    assert [e.text for e in parse_delivery(lone_surrogate).events] == ["X\ufffd"]  # type: ignore[union-attr]
    assert [e.text for e in parse_delivery(escaped_backslash).events] == ["\\ud83d"]  # type: ignore[union-attr]


def test_a_nul_in_an_id_or_a_text_becomes_u_fffd() -> None:
    """PostgreSQL text cannot hold NUL: an event whose id carried one could not be stored."""
    body = p.encode(p.messenger_message(PAGE_ID, PSID, "m_1", text="XX"))
    nul = body.replace(b"m_1", b"m_\\u0000").replace(b"XX", b"X\\u0000")
    escaped_backslash = body.replace(b"XX", b"\\\\u0000")  # the text `\u0000`, not an escape
    event = parse_delivery(nul).events[0]
    assert (event.mid, event.text) == ("m_\ufffd", "X\ufffd")  # type: ignore[union-attr]
    assert event.event_key == "msg:m_\ufffd"
    assert [e.text for e in parse_delivery(escaped_backslash).events] == ["\\u0000"]  # type: ignore[union-attr]


def test_escaped_unicode_is_decoded() -> None:
    body = p.encode(p.messenger_message(PAGE_ID, PSID, "m_1", text="ä 😀"))
    assert b"\\u00e4" in body
    assert b"\\ud83d\\ude00" in body
    assert [e.text for e in parse_delivery(body).events] == ["ä 😀"]  # type: ignore[union-attr]


# --- every sample round-trips through bot.core.events; fuzzing --------------------------------------

SAMPLES: list[dict[str, Any]] = [
    p.messenger_message(
        PAGE_ID,
        PSID,
        "m_1",
        text="hi",
        attachments=[
            p.location(1.5, 2.5),
            p.fallback("t", "https://u"),
            *p.legacy_sticker_pair(5, "https://s"),
        ],
        quick_reply="Q",
        reply_to="m_0",
        referral=p.referral_body(ad_id="1"),
    ),
    p.messenger_echo(PAGE_ID, PSID, "m_2", text="yo", attachments=[p.button_template("t")], metadata="x"),
    p.messenger_postback(PAGE_ID, PSID, "P", referral=p.referral_body()),
    p.batch(p.messenger_read(PAGE_ID, PSID, T_MS), p.messenger_delivery(PAGE_ID, PSID, T_MS, mids=["m_1"])),
    p.messenger_reaction(PAGE_ID, PSID, "m_1"),
    p.messenger_referral(PAGE_ID, PSID),
    p.feed_item(PAGE_ID, "status", post_id=POST_ID, message="m", created_time=T_S, published=1,
                **{"from": {"id": PAGE_ID}}),
    p.messenger_edit(PAGE_ID, PSID, "m_1", "new", num_edit="3"),
    p.as_standby(p.messenger_message(PAGE_ID, PSID, "m_3", text="standby", is_deleted=True)),
    p.instagram_message(
        IG_ID,
        IGSID,
        "mid_1",
        text="x",
        attachments=[p.ig_post("1", "https://p"), p.media("story_mention", "https://s")],
        reply_to_story=("1", "https://story"),
    ),
    p.batch(p.instagram_read(IG_ID, IGSID, "mid_1"), p.instagram_echo(IG_ID, IGSID, "mid_2", text="e")),
    p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, photo="https://p", permalink_url="https://l"),
    p.feed_comment(PAGE_ID, COMMENT_ID, POST_ID, verb="hide"),
    p.instagram_comment(IG_ID, "c1", "m1", parent_id="c0"),
]


@pytest.mark.parametrize("body", SAMPLES)
def test_samples_parse_cleanly_and_round_trip(body: dict[str, Any]) -> None:
    parsed = parse(body)
    assert parsed.ignored == []
    assert parsed.events
    assert_valid(parsed)


def assert_valid(parsed: ParsedDelivery) -> None:
    """The contract every parse result keeps: valid events that survive storage."""
    assert isinstance(parsed, ParsedDelivery)
    for event in parsed.events:
        assert events.decode(events.encode(event)) == event
        assert isinstance(event.account_id, str)
        assert event.account_id
        assert isinstance(event.timestamp, int)
        assert 0 <= event.timestamp < 2**63
        assert event.event_key
        assert event.conversation_key
    for ignored in parsed.ignored:
        assert isinstance(ignored, Ignored)
        assert isinstance(ignored.reason, str)


def parse_or_malformed(body: bytes) -> None:
    try:
        parsed = parse_delivery(body)
    except MalformedBody:
        return
    assert_valid(parsed)


json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Values Meta's fields could plausibly be confused with: the fuzz hits the type checks with them.
nasty_values = json_values | st.sampled_from(
    ["", "0", "1718000000000", "1.5e3", "nan", "inf", "true", "null", "sticker", "comment", "add", "hide",
     "page", "instagram", "feed", "comments", 2**64, -1, 1e300, 1.5, True, [], {}, {"id": None}]
)  # fmt: skip


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _mutate(body: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "insert" and isinstance(parent, list):
        parent.insert(last, value)
    elif action == "insert" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent[last] = value
    return body


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    body = json.loads(json.dumps(draw(st.sampled_from(SAMPLES))))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(body)[1:]  # not the root: the random-JSON test covers that
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "insert"]))
        body = _mutate(body, path, action, copy.deepcopy(draw(nasty_values)))
    return json.dumps(body).encode()


CONFUSING = [None, True, 0, -1, 1.5, 2**64, "", "x", "nan", "1718000000000", [], [1], {}, {"id": "1"}]


@pytest.mark.parametrize("sample", range(len(SAMPLES)))
def test_every_field_replaced_by_every_type_or_deleted(sample: int) -> None:
    """Exhaustive, where the random fuzz is only likely: each field of each sample, in turn,
    replaced by a value of every JSON type (and by deletion)."""
    for path in _paths(SAMPLES[sample])[1:]:
        for action, value in [("delete", None), *(("replace", v) for v in CONFUSING)]:
            body = _mutate(json.loads(json.dumps(SAMPLES[sample])), path, action, value)
            parse_or_malformed(json.dumps(body).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_samples())
def test_fuzz_mutated_payloads(body: bytes) -> None:
    parse_or_malformed(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
def test_fuzz_random_json_and_bytes(body: bytes) -> None:
    parse_or_malformed(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.data())
def test_fuzz_byte_level_damage(sample: dict[str, Any], data: st.DataObject) -> None:
    body = bytearray(p.encode(sample))
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(body) - 1))
        body[index : index + data.draw(st.integers(0, 4))] = data.draw(st.binary(max_size=4))
    parse_or_malformed(bytes(body))
