"""bot.meta.graph_shapes: Send API bodies, Graph answers, and §7's error table row by row."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.compose import Button, MediaAttachment, MessageContent, QuickReply
from bot.core.errors import GraphError, Invalid
from bot.core.events import CommentAdded, MessageEcho, MessageReceived, Platform
from bot.meta import graph_shapes as shapes


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def meta_error(code: int | str | None, subcode: int | str | None = None, **extra: Any) -> bytes:
    error: dict[str, Any] = {"message": "boom", "type": "OAuthException", "fbtrace_id": "AbC123", **extra}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return dumps({"error": error})


# ------------------------------------------------------------------ message bodies (§5)


def test_text_only() -> None:
    assert shapes.message_body(MessageContent(text="hi"), "facebook") == {"text": "hi"}


def test_text_with_buttons_is_a_button_template() -> None:
    part = MessageContent(
        text="Choose",
        buttons=(Button(title="Site", url="https://example.com"), Button(title="Yes", payload="YES")),
    )
    assert shapes.message_body(part, "facebook") == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": "Choose",
                "buttons": [
                    {"type": "web_url", "url": "https://example.com", "title": "Site"},
                    {"type": "postback", "title": "Yes", "payload": "YES"},
                ],
            },
        }
    }


def test_media_by_url_and_by_attachment_id() -> None:
    by_url = MessageContent(attachments=(MediaAttachment(type="image", url="https://cdn.example/a.png"),))
    by_id = MessageContent(attachments=(MediaAttachment(type="video", attachment_id="987"),))
    assert shapes.message_body(by_url, "facebook") == {
        "attachment": {"type": "image", "payload": {"url": "https://cdn.example/a.png", "is_reusable": True}}
    }
    assert shapes.message_body(by_url, "instagram") == {
        "attachment": {"type": "image", "payload": {"url": "https://cdn.example/a.png"}}
    }
    assert shapes.message_body(by_id, "facebook") == {
        "attachment": {"type": "video", "payload": {"attachment_id": "987"}}
    }


def test_quick_replies_ride_on_any_part() -> None:
    quick = (QuickReply(title="Yes", payload="Y"), QuickReply(title="No", payload="N"))
    body = shapes.message_body(
        MessageContent(
            attachments=(MediaAttachment(type="file", url="https://x.example/f"),), quick_replies=quick
        ),
        "facebook",
    )
    assert body["quick_replies"] == [
        {"content_type": "text", "title": "Yes", "payload": "Y"},
        {"content_type": "text", "title": "No", "payload": "N"},
    ]
    assert body["attachment"]["type"] == "file"


@pytest.mark.parametrize(
    "part",
    [
        MessageContent(text="t", attachments=(MediaAttachment(type="image", url="https://x.example/a"),)),
        MessageContent(attachments=(MediaAttachment(type="image", url="https://x.example/a"),) * 2),
        MessageContent(),
    ],
)
def test_a_part_that_needs_splitting_is_refused(part: MessageContent) -> None:
    with pytest.raises(Invalid):
        shapes.message_body(part, "facebook")


def test_send_body_with_tag_and_metadata() -> None:
    body = shapes.send_body(
        shapes.user_recipient("PSID1"), {"text": "hi"}, "MESSAGE_TAG", "HUMAN_AGENT", "out:42"
    )
    assert body == {
        "recipient": {"id": "PSID1"},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "hi", "metadata": "out:42"},
    }


def test_send_body_for_a_private_reply_leaves_the_message_untouched() -> None:
    message = {"text": "hi"}
    body = shapes.send_body(shapes.comment_recipient("C1"), message, "RESPONSE", None, None)
    assert body == {
        "recipient": {"comment_id": "C1"},
        "messaging_type": "RESPONSE",
        "message": {"text": "hi"},
    }
    assert message == {"text": "hi"}


def test_upload_body_names_instagram() -> None:
    fb = shapes.upload_body("image", "https://x.example/a.png")
    ig = shapes.upload_body("image", "https://x.example/a.png", "instagram")
    expected = {
        "attachment": {"type": "image", "payload": {"url": "https://x.example/a.png", "is_reusable": True}}
    }
    assert fb == {"message": expected}
    assert ig == {"message": expected, "platform": "instagram"}


def test_comment_reply_and_hide_shapes() -> None:
    assert shapes.comment_reply_path("facebook", "1_2") == "1_2/comments"
    assert shapes.comment_reply_path("instagram", "179") == "179/replies"
    assert shapes.comment_reply_body("facebook", "thanks", "https://x.example/i.png") == {
        "message": "thanks",
        "attachment_url": "https://x.example/i.png",
    }
    assert shapes.comment_reply_body("instagram", "thanks") == {"message": "thanks"}
    with pytest.raises(Invalid):
        shapes.comment_reply_body("instagram", "thanks", "https://x.example/i.png")
    assert shapes.hide_body("facebook", True) == {"is_hidden": True}
    assert shapes.hide_body("instagram", False) == {"hide": False}


def test_profile_fields_never_mix_in_extra_permissions() -> None:
    for fields in shapes.PROFILE_FIELDS.values():
        assert not {"locale", "timezone", "gender"} & set(fields.split(","))


# ------------------------------------------------------------------ errors (§7)

ERROR_TABLE = [
    # code, subcode, http, kind, retryable
    (2, None, 500, "temporary", True),
    (1, 1357046, 500, "ambiguous", False),
    (1, None, 500, "unknown", True),
    (1, 99, 400, "unknown", True),
    (4, None, 400, "rate_limit", True),
    (17, None, 400, "rate_limit", True),
    (32, None, 400, "rate_limit", True),
    (613, None, 400, "rate_limit", True),
    (80001, None, 400, "rate_limit", True),
    (80002, None, 400, "rate_limit", True),
    (10, 2018278, 400, "window", False),
    (10, 2018065, 400, "window", False),
    (10, 2018108, 400, "unavailable", False),
    (10, 1893063, 400, "restricted", False),
    (10, None, 403, "permission", False),
    (10, 1234, 403, "permission", False),
    (200, None, 403, "permission", False),
    (200, 1545041, 400, "unavailable", False),
    (551, 1545041, 400, "unavailable", False),
    (551, None, 400, "unavailable", False),
    (100, 2018001, 400, "bad_recipient", False),
    (100, 2018109, 400, "too_large", False),
    (100, 33, 400, "not_found", False),
    (100, None, 400, "invalid", False),
    (100, 2018278, 400, "invalid", False),  # the window subcode counts only under code 10
    (190, None, 401, "token", False),
    (190, 460, 400, "token", False),
    (190, 463, 400, "token", False),
    (190, 467, 400, "token", False),
    (230, None, 400, "disallowed", False),
    (368, None, 400, "policy", False),
    (2018218, None, 400, "no_profile", False),
    (10900, None, 400, "already_replied", False),
    (10903, None, 400, "cannot_reply", False),
    (10904, None, 400, "messages_disabled", False),
    (99999, None, 400, "unclassified", False),
    (99999, None, 503, "server", True),
]


@pytest.mark.parametrize(("code", "subcode", "http", "kind", "retryable"), ERROR_TABLE)
def test_error_table(code: int, subcode: int | None, http: int, kind: str, retryable: bool) -> None:
    error = shapes.graph_error(http, meta_error(code, subcode), {})
    assert (error.kind, error.retryable) == (kind, retryable)
    assert (error.code, error.subcode, error.http_status) == (code, subcode, http)
    assert (error.message, error.error_type, error.fbtrace_id) == ("boom", "OAuthException", "AbC123")
    assert error.invalidates_token == (kind == "token")


def test_codes_as_strings_are_read() -> None:
    error = shapes.graph_error(400, meta_error("10", "2018278"), None)
    assert (error.code, error.subcode, error.kind) == (10, 2018278, "window")


def test_instagram_is_transient_makes_an_unknown_code_retryable() -> None:
    error = shapes.graph_error(400, meta_error(99999, is_transient=True), None)
    assert (error.kind, error.retryable) == ("temporary", True)
    # ...but never overrides the table
    assert not shapes.graph_error(400, meta_error(10900, is_transient=True), None).retryable


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (502, b"<html>Bad gateway</html>", "server", True),
        (500, b"", "server", True),
        (503, None, "server", True),
        (429, b"slow down", "rate_limit", True),
        (400, b"not json", "unexpected", False),
        (404, dumps({"no": "envelope"}), "unexpected", False),
        (400, dumps({"error": "a string"}), "unexpected", False),
    ],
)
def test_answers_without_the_envelope(status: int, body: bytes | None, kind: str, retryable: bool) -> None:
    error = shapes.graph_error(status, body, {})
    assert (error.kind, error.retryable, error.http_status, error.code) == (kind, retryable, status, None)
    assert str(status) in error.message


def test_network_errors() -> None:
    plain = shapes.graph_error(None, None, None, "ConnectError: refused")
    assert (plain.kind, plain.retryable) == ("network", True)
    lost = shapes.graph_error(None, None, None, "ReadTimeout: timed out", maybe_delivered=True)
    assert (lost.kind, lost.retryable) == ("ambiguous", False)


def test_retry_after_comes_from_estimated_time_to_regain_access() -> None:
    usage = {"1234": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    error = shapes.graph_error(400, meta_error(80001), {"X-Business-Use-Case-Usage": json.dumps(usage)})
    assert error.retry_after == 7 * 60
    assert shapes.graph_error(400, meta_error(32), {}).retry_after is None
    assert shapes.graph_error(503, b"", {"Retry-After": "30"}).retry_after == 30
    # a permanent error carries no retry hint
    assert shapes.graph_error(400, meta_error(10900), {"Retry-After": "30"}).retry_after is None


def test_error_messages_never_carry_tokens() -> None:
    body = meta_error(190, message="bad https://graph.facebook.com/v1/me?access_token=EAAB123&x=1")
    error = shapes.graph_error(400, body, {})
    assert "EAAB123" not in str(error) and "access_token=[redacted]" in error.message
    network = shapes.graph_error(None, None, None, "GET /debug_token?input_token=EAAXYZ failed")
    assert "EAAXYZ" not in str(network)
    bare = shapes.graph_error(502, b"Authorization: Bearer EAAQQQ", {})
    assert "EAAQQQ" not in str(bare)


def test_graph_error_is_a_graph_error() -> None:
    assert isinstance(shapes.graph_error(400, meta_error(2), {}), GraphError)
    assert str(shapes.graph_error(400, meta_error(10, 2018278), {})) == "boom (10/2018278)"


# ------------------------------------------------------------------ usage headers (§8)


def test_usage_percent_is_the_highest_reported() -> None:
    headers = {
        "X-App-Usage": json.dumps({"call_count": 12, "total_cputime": 3, "total_time": 40}),
        "x-page-usage": json.dumps({"call_count": 55.5, "total_cputime": 1, "total_time": 2}),
        "X-Business-Use-Case-Usage": json.dumps(
            {"1": [{"type": "pages", "call_count": 20, "total_cputime": 91, "total_time": 5}]}
        ),
    }
    assert shapes.usage_percent(headers) == 91.0
    assert shapes.usage_percent({"X-App-Usage": json.dumps({"call_count": 12})}) == 12.0


@pytest.mark.parametrize(
    "headers",
    [None, {}, {"X-App-Usage": "not json"}, {"X-Business-Use-Case-Usage": json.dumps({"1": "x"})}],
)
def test_usage_percent_ignores_what_it_cannot_read(headers: dict[str, str] | None) -> None:
    assert shapes.usage_percent(headers) == 0.0


# ------------------------------------------------------------------ answers


def test_send_result() -> None:
    result = shapes.read_send_result(dumps({"recipient_id": "PSID", "message_id": "m_1"}))
    assert result == shapes.SendResult("m_1", "PSID")
    assert shapes.read_send_result(dumps({"message_id": "m_2"})) == shapes.SendResult("m_2", None)


@pytest.mark.parametrize("body", [b"", b"{", dumps({"recipient_id": "PSID"}), dumps([1])])
def test_unreadable_send_answer_is_ambiguous(body: bytes) -> None:
    with pytest.raises(GraphError) as caught:
        shapes.read_send_result(body)
    assert (caught.value.kind, caught.value.retryable) == ("ambiguous", False)


def test_new_comment_id_and_success() -> None:
    assert shapes.read_new_id(dumps({"id": "1_2_3"}), "comment reply") == "1_2_3"
    shapes.read_success(dumps({"success": True}), "subscribe")
    shapes.read_success(dumps({"success": "true"}), "subscribe")  # Meta's sample (§10)
    with pytest.raises(GraphError) as caught:
        shapes.read_success(dumps({"success": False}), "subscribe")
    assert caught.value.kind == "unexpected"


def test_profiles() -> None:
    fb = shapes.read_profile(
        dumps({"first_name": "Ana", "last_name": "Lima", "profile_pic": "https://p/x", "id": "1"})
    )
    assert fb == shapes.Profile(
        name="Ana Lima", first_name="Ana", last_name="Lima", picture_url="https://p/x"
    )
    ig = shapes.read_profile(
        dumps({"name": "Ana", "username": "ana.l", "follower_count": 12, "profile_pic": "u"})
    )
    assert ig == shapes.Profile(name="Ana", username="ana.l", picture_url="u", follower_count=12)
    assert shapes.read_profile(dumps({"id": "1"})) == shapes.Profile()


def test_pages_with_linked_instagram_and_paging() -> None:
    body = dumps(
        {
            "data": [
                {
                    "id": "P1",
                    "name": "Shop",
                    "access_token": "EAAPAGE",
                    "instagram_business_account": {
                        "id": "IG1",
                        "username": "shop",
                        "followers_count": 5000,
                        "profile_picture_url": "https://p/ig",
                    },
                },
                {"id": "P2", "name": "Other", "access_token": "EAAP2"},
            ],
            "paging": {"cursors": {"before": "b", "after": "a1"}, "next": "https://graph/next"},
        }
    )
    pages, after = shapes.read_pages(body)
    assert after == "a1"
    assert pages[0].instagram == shapes.InstagramAccount("IG1", "shop", 5000, "https://p/ig")
    assert pages[1].instagram is None and pages[1].access_token == "EAAP2"
    assert "EAAPAGE" not in repr(pages[0])


def test_posts_facebook_and_instagram() -> None:
    fb = shapes.read_posts(
        dumps(
            {
                "data": [
                    {
                        "id": "P1_9",
                        "message": "Sale!",
                        "created_time": "2024-05-01T12:00:00+0000",
                        "permalink_url": "https://fb/p",
                        "full_picture": "https://fb/pic",
                    }
                ],
                "paging": {"cursors": {"after": "zz"}},
            }
        )
    )
    assert fb == shapes.PostsPage(
        [shapes.Post("P1_9", "Sale!", 1714564800000, "https://fb/p", "https://fb/pic")], None
    )
    ig = shapes.read_posts(
        dumps(
            {
                "data": [
                    {
                        "id": "M1",
                        "caption": "Reel",
                        "media_type": "VIDEO",
                        "timestamp": "2024-05-01T12:00:00+0000",
                        "permalink": "https://ig/p",
                        "thumbnail_url": "https://ig/thumb",
                        "media_url": "https://ig/video.mp4",
                    }
                ],
                "paging": {"cursors": {"after": "c2"}, "next": "https://graph/next"},
            }
        )
    )
    assert ig == shapes.PostsPage(
        [shapes.Post("M1", "Reel", 1714564800000, "https://ig/p", "https://ig/thumb")], "c2"
    )


def test_subscribed_fields() -> None:
    body = dumps(
        {
            "data": [
                {"id": "OTHER", "name": "Other app", "subscribed_fields": ["feed"]},
                {"id": "APP", "name": "socialdesk", "subscribed_fields": ["messages", "feed"]},
            ]
        }
    )
    assert shapes.read_subscribed_fields(body, "APP") == ["messages", "feed"]
    assert shapes.read_subscribed_fields(body) == ["feed"]
    assert shapes.read_subscribed_fields(body, "MISSING") is None
    assert shapes.read_subscribed_fields(dumps({"data": []})) is None


def test_token_info() -> None:
    body = dumps({"data": {"is_valid": True, "expires_at": 1700000000, "scopes": ["pages_messaging"]}})
    assert shapes.read_token_info(body) == shapes.TokenInfo(True, 1700000000000, ["pages_messaging"])
    never = dumps({"data": {"is_valid": True, "expires_at": 0, "scopes": []}})
    assert shapes.read_token_info(never).expires_at is None
    assert not shapes.read_token_info(dumps({"data": {"is_valid": False}})).is_valid


def test_conversations_and_message_ids() -> None:
    page = shapes.read_conversations(
        dumps(
            {
                "data": [{"id": "t_1", "updated_time": "2024-05-01T12:00:00+0000"}],
                "paging": {"cursors": {"after": "n"}, "next": "https://graph/next"},
            }
        )
    )
    assert page == shapes.ConversationsPage([shapes.ConversationRef("t_1", 1714564800000)], "n")
    ids = shapes.read_conversation_messages(
        dumps(
            {"messages": {"data": [{"id": "m_1", "created_time": "2024-05-01T12:00:01+0000"}]}, "id": "t_1"}
        )
    )
    assert ids == [shapes.MessageRef("m_1", 1714564801000)]
    assert shapes.read_conversation_messages(dumps({"id": "t_1"})) == []


def test_message_read_back_as_the_webhook_event() -> None:
    received = shapes.read_message(
        dumps(
            {
                "id": "m_1",
                "created_time": "2024-05-01T12:00:00+0000",
                "from": {"id": "PSID", "name": "Ana Lima"},
                "to": {"data": [{"id": "PAGE", "name": "Shop"}]},
                "message": "hello",
                "attachments": {
                    "data": [
                        {
                            "mime_type": "image/jpeg",
                            "name": "a.jpg",
                            "image_data": {"url": "https://x/a.jpg"},
                        },
                        {"mime_type": "audio/mpeg", "name": "v.mp3", "file_url": "https://x/v.mp3"},
                    ]
                },
            }
        ),
        "facebook",
        "PAGE",
    )
    assert isinstance(received, MessageReceived)
    assert (received.mid, received.user_id, received.text, received.timestamp) == (
        "m_1",
        "PSID",
        "hello",
        1714564800000,
    )
    assert [(a.type, a.url) for a in received.attachments] == [
        ("image", "https://x/a.jpg"),
        ("audio", "https://x/v.mp3"),
    ]
    echo = shapes.read_message(
        dumps(
            {
                "id": "m_2",
                "created_time": 1714564900,
                "from": {"id": "IG1"},
                "to": {"data": [{"id": "IGSID"}]},
            }
        ),
        "instagram",
        "IG1",
    )
    assert isinstance(echo, MessageEcho)
    assert (echo.platform, echo.user_id, echo.text, echo.timestamp) == (
        Platform.INSTAGRAM,
        "IGSID",
        None,
        1714564900000,
    )


def test_comments_read_back_as_comment_added() -> None:
    page = shapes.read_comments(
        dumps(
            {
                "data": [
                    {
                        "id": "9_1",
                        "from": {"id": "U1", "name": "Ana"},
                        "message": "price?",
                        "created_time": "2024-05-01T12:00:00+0000",
                    },
                    {
                        "id": "9_2",
                        "from": {"id": "PAGE", "name": "Shop"},
                        "message": "DM sent",
                        "created_time": "2024-05-01T12:01:00+0000",
                        "parent": {"id": "9_1"},
                    },
                    {"id": "9_3", "message": "hidden author", "created_time": "2024-05-01T12:02:00+0000"},
                ],
                "paging": {"cursors": {"after": "c"}, "next": "https://graph/next"},
            }
        ),
        "facebook",
        "PAGE",
        "PAGE_9",
    )
    first, reply, anonymous = page.comments
    assert page.after == "c"
    assert first == CommentAdded(
        platform=Platform.FACEBOOK,
        account_id="PAGE",
        timestamp=1714564800000,
        comment_id="9_1",
        post_id="PAGE_9",
        from_id="U1",
        from_name="Ana",
        text="price?",
        created_time=1714564800000,
    )
    assert (reply.parent_id, reply.by_account) == ("9_1", True)
    assert (anonymous.from_id, anonymous.by_account) == (None, False)
    ig = shapes.read_comments(
        dumps(
            {
                "data": [
                    {
                        "id": "17",
                        "text": "hi",
                        "timestamp": "2024-05-01T12:00:00+0000",
                        "from": {"id": "IGSID", "username": "ana"},
                    }
                ]
            }
        ),
        "instagram",
        "IG1",
        "MEDIA1",
    ).comments[0]
    assert (ig.text, ig.from_username, ig.parent_id, ig.created_time) == ("hi", "ana", None, 1714564800000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00+0000", 1714564800000),
        ("2024-05-01T14:00:00+02:00", 1714564800000),
        (1714564800, 1714564800000),
        ("1714564800", 1714564800000),
        (None, None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_time_ms(value: str | int | None, expected: int | None) -> None:
    assert shapes.time_ms(value) == expected


def test_redact() -> None:
    text = "https://g/v1/debug_token?input_token=AAA&access_token=BBB&appsecret_proof=CCC Bearer DDD"
    redacted = shapes.redact(text)
    assert not any(secret in redacted for secret in ("AAA", "BBB", "CCC", "DDD"))
    assert redacted.count("[redacted]") == 4
