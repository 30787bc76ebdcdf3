"""The nine ways real deliveries lost or misfiled data (issue 23), one test each: each fails
when its fix is removed."""

from __future__ import annotations

from bot.automation.flows.engine import ECHO_OUTSIDE
from bot.core.events import Attachment, Ignored, MessageEcho, MessagesRead
from bot.inbound import inbox
from bot.meta.parse import parse_delivery
from bot.platform.db import transaction
from bot.platform.models import Message
from dashboard.widgets import UNSUPPORTED_WORDS
from tests.bot.meta import payloads as p
from tests.bot.meta.test_corpus import NOW, apply_body, channels, rendered, stored

PAGE, PSID = "104870358931474", "6543210987654321"
IG, IGSID = "17841405822304914", "1234567890123456"
T = 1761287294014


def fb(item: dict) -> dict:
    return {"object": "page", "entry": [{"id": PAGE, "time": T + 150, "messaging": [item]}]}


def ig(item: dict) -> dict:
    return {"object": "instagram", "entry": [{"id": IG, "time": T + 150, "messaging": [item]}]}


def echo(mid: str, **message: object) -> dict:
    return fb({"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": T,
               "message": {"mid": mid, "is_echo": True, "app_id": 263902037430900, **message}})


def events(body: dict) -> list:
    return parse_delivery(p.encode(body), now=NOW).events


def test_1_fallback_with_a_string_payload_keeps_title_and_url() -> None:
    body = fb({"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": T, "message": {
        "mid": "m_1", "attachments": [{"type": "fallback", "title": "A review", "url": "https://r.example/a",
                                       "payload": "opaque-token"}]}})
    (event,) = events(body)
    assert event.attachments == (Attachment(type="fallback", url="https://r.example/a", title="A review"),)


def test_2_story_reply_stores_and_shows_the_story(db) -> None:
    channels()
    apply_body(ig({"sender": {"id": IGSID}, "recipient": {"id": IG}, "timestamp": T, "message": {
        "mid": "m_2", "text": "so pretty!",
        "reply_to": {"story": {"id": "18034567890123456", "url": "https://lookaside.fbsbx.com/s?asset_id=1"}}}}))
    row = stored({"mid": "m_2"})
    assert row.reply_to_story == {"id": "18034567890123456", "url": "https://lookaside.fbsbx.com/s?asset_id=1"}
    shown = rendered(row)
    assert "Replied to [the story](https://lookaside.fbsbx.com/s?asset_id=1)" in shown
    assert "18034567890123456" in shown


def test_3_is_unsupported_is_stored_and_sends_staff_to_meta(db) -> None:
    channels()
    apply_body(ig({"sender": {"id": IGSID}, "recipient": {"id": IG}, "timestamp": T,
                   "message": {"mid": "m_3", "is_unsupported": True}}))
    row = stored({"mid": "m_3"})
    assert row.unsupported is True
    assert UNSUPPORTED_WORDS in rendered(row)


def test_4_echoes_get_delivery_and_read_receipts_and_hand_over(db) -> None:
    channels()
    (event,) = events(echo("m_4", text="Your parcel left."))
    with transaction():
        applied = inbox.apply(event)
    assert applied.note == ECHO_OUTSIDE  # what pauses the bot (handover)
    row = stored({"mid": "m_4"})
    assert (row.direction, row.recipient_id, row.status) == ("out", PSID, "sent")
    apply_body(fb({"sender": {"id": PSID}, "recipient": {"id": PAGE},
                   "delivery": {"mids": ["m_4"], "watermark": T + 10}}))
    assert stored({"mid": "m_4"}).status == "delivered"
    apply_body(fb({"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": T + 20,
                   "read": {"watermark": T + 10}}))
    assert stored({"mid": "m_4"}).status == "read"


def test_5_timestamp_zero_is_never_1970_and_is_noted(db) -> None:
    channels()
    apply_body(echo("m_5", text="Coupon"))
    body = fb({"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 0,
               "delivery": {"mids": ["m_5"], "watermark": T + 10}})
    (event,) = events(body)
    assert event.timestamp == T + 10
    assert event.notes == ("timestamp 0 unusable: the delivery watermark used",)
    apply_body(body)
    assert stored({"mid": "m_5"}).delivered_at == T + 10


def test_5_seconds_future_and_missing_timestamps_are_repaired_with_a_note() -> None:
    def message(timestamp: object) -> dict:
        item = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message": {"mid": "m", "text": "x"}}
        return fb(item if timestamp is None else {**item, "timestamp": timestamp})

    (seconds,) = events(message(T // 1000))
    assert (seconds.timestamp, seconds.notes) == (T // 1000 * 1000, (f"timestamp {T // 1000} was in seconds",))
    (future,) = events(message(NOW + 86_400_000))
    assert future.timestamp == NOW and "in the future" in future.notes[0]
    (missing,) = events(message(None))
    assert missing.timestamp == T + 150 and missing.notes == ("timestamp missing: the entry time used",)
    (tiny,) = events(message(5))
    assert tiny.timestamp == T + 150 and tiny.notes == ("timestamp 5 is before 2010: the entry time used",)


def test_6_generic_template_echo_keeps_and_shows_the_card(db) -> None:
    channels()
    card = {"title": "Trail Runner X", "subtitle": "89 €", "image_url": "https://cdn.example/x.jpg",
            "default_action": {"type": "web_url", "url": "https://shop.example/x"},
            "buttons": [{"type": "web_url", "url": "https://shop.example/x/buy", "title": "Buy now"},
                        {"type": "postback", "title": "Colours", "payload": "COLOURS"}]}
    apply_body(echo("m_6", attachments=[{"type": "template",
                                         "payload": {"template_type": "generic", "elements": [card]}}]))
    row = stored({"mid": "m_6"})
    (template,) = row.attachments
    assert template["template_type"] == "generic"
    assert template["elements"][0]["title"] == "Trail Runner X"
    assert [b["title"] for b in template["elements"][0]["buttons"]] == ["Buy now", "Colours"]
    shown = rendered(row)
    for text in ("Trail Runner X", "89 €", "https://cdn.example/x.jpg", "Buy now", "https://shop.example/x/buy",
                 "Colours"):
        assert text in shown
    assert row.text is None and "[template]" not in shown


def test_7_an_echo_to_the_account_itself_is_refused_as_malformed() -> None:
    body = fb({"sender": {"id": PAGE}, "recipient": {"id": PAGE}, "timestamp": T,
               "message": {"mid": "m_7", "is_echo": True, "text": "hi"}})
    parsed = parse_delivery(p.encode(body), now=NOW)
    assert parsed.events == []
    assert parsed.ignored == [Ignored(reason="malformed echo: its recipient is the account itself, not a customer",
                                      object="page", field="message", account_id=PAGE)]


def test_8_instagram_read_without_sender_marks_the_named_message_read(db) -> None:
    channels()
    apply_body(ig({"sender": {"id": IG}, "recipient": {"id": IGSID}, "timestamp": T,
                   "message": {"mid": "m_8", "is_echo": True, "text": "Reserved for you"}}))
    body = ig({"timestamp": T + 50, "read": {"mid": "m_8"}})
    (event,) = events(body)
    assert isinstance(event, MessagesRead) and event.user_id == "" and event.mid == "m_8"
    apply_body(body)
    row = Message.get(Message.mid == "m_8")
    assert (row.status, row.read_at) == ("read", T + 50)


def test_echo_event_names_the_customer() -> None:
    (event,) = events(echo("m_e", text="x"))
    assert isinstance(event, MessageEcho) and event.user_id == PSID


def test_7_a_message_from_the_account_itself_without_is_echo_is_refused_too() -> None:
    body = fb({"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": T,
               "message": {"mid": "m_7b", "text": "x"}})
    parsed = parse_delivery(p.encode(body), now=NOW)
    assert parsed.events == []
    assert parsed.ignored[0].reason == "malformed item: its sender is the account itself, not a customer"
