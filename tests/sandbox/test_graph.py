"""The sandbox's Graph API over real HTTP, writing side: tokens, Send API rules, messaging
windows, private replies, public replies and hiding."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.sandbox import harness
from tests.sandbox.harness import (
    DAY_MS,
    HOUR_MS,
    SECRET,
    Receiver,
    Sandbox,
    World,
    comment,
    dm,
    error_of,
    now_ms,
    text_body,
)

# The harness's fixtures, made available to this module.
receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world


# Tokens


def test_unknown_token_is_190_with_metas_exact_envelope(sandbox: Sandbox, world: World) -> None:
    response = sandbox.send("EAAnot-a-token", world.page_id, text_body({"id": world.psid}))
    assert response.status_code == 400
    error = error_of(response)
    assert set(error) == {"message", "type", "code", "fbtrace_id"}
    assert (error["code"], error["type"]) == (190, "OAuthException")


def test_bearer_header_is_accepted(sandbox: Sandbox, world: World) -> None:
    response = sandbox.http.get(
        f"/graph/v21.0/{world.page_id}", headers={"Authorization": f"Bearer {world.token}"}
    )
    assert response.status_code == 200
    assert response.json() == {"name": "Acme Shoes", "id": world.page_id}


def test_revoked_token_is_190_460_and_me_accounts_serves_a_new_one(sandbox: Sandbox, world: World) -> None:
    revoked = sandbox.control("tokens/revoke", token=world.token)
    response = sandbox.graph("GET", world.page_id, world.token)
    error = error_of(response)
    assert (response.status_code, error["code"], error["error_subcode"]) == (400, 190, 460)
    accounts = sandbox.graph("GET", "me/accounts", world.user_token).json()["data"]
    assert accounts[0]["access_token"] == revoked["replacement"] != world.token
    assert sandbox.graph("GET", world.page_id, revoked["replacement"]).status_code == 200


def test_appsecret_proof_is_checked_when_given(sandbox: Sandbox, world: World) -> None:
    proof = hmac.new(SECRET.encode(), world.token.encode(), hashlib.sha256).hexdigest()
    assert sandbox.graph("GET", world.page_id, world.token, appsecret_proof=proof).status_code == 200
    wrong = error_of(sandbox.graph("GET", world.page_id, world.token, appsecret_proof="0" * 64))
    assert wrong["code"] == 100 and "appsecret_proof" in wrong["message"]


def test_token_of_another_page_is_a_200_permission_error(sandbox: Sandbox, world: World) -> None:
    other = sandbox.control("pages", name="Other Page")
    response = sandbox.send(other["page_token"], world.page_id, text_body({"id": world.psid}))
    assert response.status_code == 403
    assert error_of(response)["code"] == 200


def test_missing_scope_is_a_200_permission_error(sandbox: Sandbox) -> None:
    page = sandbox.control("pages", name="No Messaging", scopes=["pages_show_list"])
    user = sandbox.control("customers", account_id=page["page_id"], name="Bo")["user_id"]
    dm(sandbox, page["page_id"], user)
    response = sandbox.send(page["page_token"], page["page_id"], text_body({"id": user}))
    assert error_of(response)["code"] == 200
    assert "pages_messaging" in error_of(response)["message"]


# Send API validations


def _template(text: str = "Pick one", buttons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    buttons = buttons if buttons is not None else [{"type": "postback", "title": "Yes", "payload": "YES"}]
    return {"type": "template", "payload": {"template_type": "button", "text": text, "buttons": buttons}}


INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("no recipient", {"messaging_type": "RESPONSE", "message": {"text": "x"}}, "recipient"),
    ("message and sender_action", {"message": {"text": "x"}, "sender_action": "typing_on"}, "sender_action"),
    ("neither message nor action", {"messaging_type": "RESPONSE"}, "either message or sender_action"),
    ("unknown messaging_type", {"messaging_type": "PROMO", "message": {"text": "x"}}, "messaging_type"),
    ("MESSAGE_TAG without tag", {"messaging_type": "MESSAGE_TAG", "message": {"text": "x"}}, "tag"),
    ("text of 2001 characters", {"message": {"text": "a" * 2001}}, "2000"),
    ("text and attachment", {"message": {"text": "x", "attachment": _template()}}, "not both"),
    ("empty message", {"message": {}}, "text or attachment"),
    (
        "14 quick replies",
        {
            "message": {
                "text": "x",
                "quick_replies": [
                    {"content_type": "text", "title": f"q{i}", "payload": f"P{i}"} for i in range(14)
                ],
            }
        },
        "at most 13",
    ),
    (
        "quick reply title of 21",
        {
            "message": {
                "text": "x",
                "quick_replies": [{"content_type": "text", "title": "t" * 21, "payload": "P"}],
            }
        },
        "title",
    ),
    (
        "quick reply payload of 1001",
        {
            "message": {
                "text": "x",
                "quick_replies": [{"content_type": "text", "title": "t", "payload": "p" * 1001}],
            }
        },
        "payload",
    ),
    (
        "attachment of unknown type",
        {"message": {"attachment": {"type": "gif", "payload": {"url": "https://x.io/a"}}}},
        "attachment][type]",
    ),
    (
        "attachment without url or id",
        {"message": {"attachment": {"type": "image", "payload": {}}}},
        "url or attachment_id",
    ),
    (
        "attachment with ftp url",
        {"message": {"attachment": {"type": "image", "payload": {"url": "ftp://x.io/a"}}}},
        "http(s)",
    ),
    ("template text of 641", {"message": {"attachment": _template(text="t" * 641)}}, "640"),
    (
        "template with 4 buttons",
        {
            "message": {
                "attachment": _template(
                    buttons=[{"type": "postback", "title": f"b{i}", "payload": "P"} for i in range(4)]
                )
            }
        },
        "1 to 3 buttons",
    ),
    ("template with no button", {"message": {"attachment": _template(buttons=[])}}, "1 to 3 buttons"),
    (
        "button title of 21",
        {
            "message": {
                "attachment": _template(buttons=[{"type": "postback", "title": "b" * 21, "payload": "P"}])
            }
        },
        "title",
    ),
    (
        "button payload of 1001",
        {
            "message": {
                "attachment": _template(buttons=[{"type": "postback", "title": "b", "payload": "p" * 1001}])
            }
        },
        "payload",
    ),
    (
        "web_url button with a non-http url",
        {
            "message": {
                "attachment": _template(
                    buttons=[{"type": "web_url", "title": "Open", "url": "javascript:alert(1)"}]
                )
            }
        },
        "http(s)",
    ),
    (
        "generic template without cards",
        {
            "message": {
                "attachment": {"type": "template", "payload": {"template_type": "generic", "elements": []}}
            }
        },
        "must have 1 to 10 elements",
    ),
    (
        "unknown template",
        {
            "message": {
                "attachment": {"type": "template", "payload": {"template_type": "receipt", "elements": []}}
            }
        },
        "only button and generic",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "named"), INVALID_BODIES, ids=[case for case, _, _ in INVALID_BODIES]
)
def test_invalid_send_bodies_are_100_naming_the_problem(
    sandbox: Sandbox, world: World, case: str, body: dict[str, Any], named: str
) -> None:
    dm(sandbox, world.page_id, world.psid)
    body = {"recipient": {"id": world.psid}, **body} if case != "no recipient" else body
    response = sandbox.send(world.token, world.page_id, body)
    error = error_of(response)
    assert (response.status_code, error["code"]) == (400, 100), error
    assert "error_subcode" not in error
    assert named in error["message"]
    assert sandbox.read("sent")["sent"] == []
    attempts = sandbox.read("attempts")["attempts"]
    assert attempts[-1]["status"] == 400 and attempts[-1]["response"]["error"]["code"] == 100


def test_messenger_text_of_exactly_2000_characters_is_sent(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, "é" * 2000))
    assert response.status_code == 200, response.text


def test_instagram_text_limit_counts_utf8_bytes(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.ig_id, world.igsid)
    fits = sandbox.send(world.token, world.ig_id, text_body({"id": world.igsid}, "ä" * 500))
    too_long = sandbox.send(world.token, world.ig_id, text_body({"id": world.igsid}, "ä" * 500 + "a"))
    assert fits.status_code == 200, fits.text
    error = error_of(too_long)
    assert error["code"] == 100 and "1000" in error["message"] and "bytes" in error["message"]
    assert error["is_transient"] is False


def test_unknown_recipient_is_100_2018001(sandbox: Sandbox, world: World) -> None:
    other = sandbox.control("pages", name="Other Page")
    stranger = sandbox.control("customers", account_id=other["page_id"], name="Not Ours")["user_id"]
    for recipient in ("123456789", stranger):
        error = error_of(sandbox.send(world.token, world.page_id, text_body({"id": recipient})))
        assert (error["code"], error["error_subcode"]) == (100, 2018001)


def test_successful_send_is_answered_and_recorded_with_its_body(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    body = text_body({"id": world.psid}, "Hello Jane")
    response = sandbox.graph("POST", "me/messages", world.token, json=body)
    answer = response.json()
    assert response.status_code == 200
    assert answer["recipient_id"] == world.psid and answer["message_id"].startswith("m_")
    sent = sandbox.read("sent", recipient_id=world.psid)["sent"]
    assert len(sent) == 1
    assert sent[0]["body"] == body and sent[0]["message_id"] == answer["message_id"]
    assert (sent[0]["kind"], sent[0]["account_id"], sent[0]["private_reply"]) == (
        "message",
        world.page_id,
        False,
    )


def test_form_encoded_send_with_json_strings_is_understood(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    form = {
        "recipient": json.dumps({"id": world.psid}),
        "message": json.dumps({"text": "hi"}),
        "messaging_type": "RESPONSE",
    }
    response = sandbox.graph("POST", f"{world.page_id}/messages", world.token, data=form)
    assert response.status_code == 200, response.text


def test_sender_action_is_answered_without_message_id(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    response = sandbox.send(
        world.token, world.page_id, {"recipient": {"id": world.psid}, "sender_action": "typing_on"}
    )
    assert response.json() == {"recipient_id": world.psid}


# Windows


@pytest.mark.parametrize(
    ("ago_ms", "body_extra", "allowed"),
    [
        (23 * HOUR_MS, {}, True),
        (25 * HOUR_MS, {}, False),
        (25 * HOUR_MS, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}, True),
        (6 * DAY_MS, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}, True),
        (8 * DAY_MS, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}, False),
        (25 * HOUR_MS, {"messaging_type": "UPDATE"}, False),
    ],
    ids=["response-23h", "response-25h", "human-agent-25h", "human-agent-6d", "human-agent-8d", "update-25h"],
)
def test_messaging_windows(
    sandbox: Sandbox, world: World, ago_ms: int, body_extra: dict[str, Any], allowed: bool
) -> None:
    dm(sandbox, world.page_id, world.psid, ago_ms=ago_ms)
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, **body_extra))
    if allowed:
        assert response.status_code == 200, response.text
    else:
        error = error_of(response)
        assert (response.status_code, error["code"], error["error_subcode"]) == (400, 10, 2018278)


def test_update_to_someone_who_never_wrote_is_outside_the_window(sandbox: Sandbox, world: World) -> None:
    response = sandbox.send(
        world.token, world.page_id, text_body({"id": world.psid}, messaging_type="UPDATE")
    )
    assert (error_of(response)["code"], error_of(response)["error_subcode"]) == (10, 2018278)


def test_postback_and_referral_open_the_window_but_a_reaction_does_not(
    sandbox: Sandbox, world: World
) -> None:
    old = dm(sandbox, world.page_id, world.psid, ago_ms=30 * HOUR_MS)
    sandbox.control("react", account_id=world.page_id, user_id=world.psid, mid=old["mid"], reaction="love")
    assert sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).status_code == 400
    sandbox.control("postback", account_id=world.page_id, user_id=world.psid, payload="GET_STARTED")
    assert sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).status_code == 200
    other = sandbox.control("customers", account_id=world.page_id, name="Ref Person")["user_id"]
    sandbox.control("referral", account_id=world.page_id, user_id=other, ref="summer", source="SHORTLINK")
    assert sandbox.send(world.token, world.page_id, text_body({"id": other})).status_code == 200


# Private replies


def test_private_reply_answers_the_commenter_once(sandbox: Sandbox, world: World) -> None:
    comment_id = comment(sandbox, world.page_id, world.post_id, world.psid)
    fields = {"fields": "can_reply_privately"}
    assert sandbox.graph("GET", comment_id, world.token, **fields).json()["can_reply_privately"] is True
    body = {"recipient": {"comment_id": comment_id}, "message": {"attachment": _template()}}
    first = sandbox.send(world.token, world.page_id, body)
    assert first.status_code == 200, first.text
    assert first.json()["recipient_id"] == world.psid
    second = sandbox.send(world.token, world.page_id, body)
    error = error_of(second)
    assert (error["code"], error["message"]) == (10900, "(#10900) Activity already replied to")
    assert sandbox.graph("GET", comment_id, world.token, **fields).json()["can_reply_privately"] is False
    sent = sandbox.read("sent", comment_id=comment_id)["sent"]
    assert [(s["kind"], s["private_reply"], s["recipient_id"]) for s in sent] == [
        ("private_reply", True, world.psid)
    ]


def test_private_reply_does_not_open_the_window(sandbox: Sandbox, world: World) -> None:
    comment_id = comment(sandbox, world.page_id, world.post_id, world.psid)
    sandbox.send(
        world.token, world.page_id, {"recipient": {"comment_id": comment_id}, "message": {"text": "hi"}}
    )
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}))
    assert error_of(response)["error_subcode"] == 2018278


def test_private_reply_to_a_comment_older_than_7_days_is_10903(sandbox: Sandbox, world: World) -> None:
    eight_days_ago = now_ms() // 1000 - 8 * 24 * 3600
    comment_id = comment(sandbox, world.page_id, world.post_id, world.psid, created_time=eight_days_ago)
    response = sandbox.send(
        world.token, world.page_id, {"recipient": {"comment_id": comment_id}, "message": {"text": "late"}}
    )
    assert error_of(response)["code"] == 10903


def test_private_reply_to_the_pages_own_comment_is_10903(sandbox: Sandbox, world: World) -> None:
    own = sandbox.control(
        "comment", account_id=world.page_id, post_id=world.post_id, as_account=True, text="Hi!"
    )
    response = sandbox.send(
        world.token, world.page_id, {"recipient": {"comment_id": own["comment_id"]}, "message": {"text": "x"}}
    )
    assert error_of(response)["code"] == 10903


def test_instagram_private_reply_refuses_media_but_takes_text(sandbox: Sandbox, world: World) -> None:
    comment_id = comment(sandbox, world.ig_id, world.media_id, world.igsid)
    image = {"attachment": {"type": "image", "payload": {"url": "https://cdn.example.com/a.png"}}}
    refused = sandbox.send(
        world.token, world.page_id, {"recipient": {"comment_id": comment_id}, "message": image}
    )
    error = error_of(refused)
    assert error["code"] == 100 and "media" in error["message"] and "is_transient" in error
    sent = sandbox.send(
        world.token,
        world.page_id,
        {"recipient": {"comment_id": comment_id}, "message": {"text": "Check your DMs"}},
    )
    assert sent.json()["recipient_id"] == world.igsid


def _card(**element: Any) -> dict[str, Any]:
    card = {"title": "Summer sale", "subtitle": "10% off", "image_url": "https://cdn.example.com/c.png",
            "buttons": [{"type": "postback", "title": "Talk", "payload": "TALK"}], **element}
    return {"type": "template", "payload": {"template_type": "generic", "elements": [card]}}


@pytest.mark.parametrize(
    ("element", "problem"),
    [
        ({"title": "t" * 81}, "[title] must be at most 80"),
        ({"subtitle": "s" * 81}, "[subtitle] must be at most 80"),
        ({"title": ""}, "[title] is required"),
        ({"image_url": "not a url"}, "[image_url] must be an http(s) URL"),
        ({"buttons": [{"type": "postback", "title": "b", "payload": "B"}] * 4}, "at most 3 buttons"),
        ({"buttons": [{"type": "postback", "title": "b" * 21, "payload": "B"}]}, "[title] must be at most 20"),
    ],
)
def test_facebook_private_reply_takes_a_card_within_metas_limits(
    sandbox: Sandbox, world: World, element: dict[str, Any], problem: str
) -> None:
    comment_id = comment(sandbox, world.page_id, world.post_id, world.psid)
    refused = sandbox.send(world.token, world.page_id,
                           {"recipient": {"comment_id": comment_id}, "message": {"attachment": _card(**element)}})
    error = error_of(refused)
    assert error["code"] == 100 and problem in error["message"], error
    sent = sandbox.send(world.token, world.page_id,
                        {"recipient": {"comment_id": comment_id}, "message": {"attachment": _card()}})
    assert sent.status_code == 200 and sent.json()["recipient_id"] == world.psid


def test_instagram_private_reply_refuses_a_card(sandbox: Sandbox, world: World) -> None:
    comment_id = comment(sandbox, world.ig_id, world.media_id, world.igsid)
    refused = sandbox.send(world.token, world.page_id,
                           {"recipient": {"comment_id": comment_id}, "message": {"attachment": _card()}})
    error = error_of(refused)
    assert error["code"] == 100 and "Instagram private reply" in error["message"]


# Public replies and hiding


def test_facebook_public_reply_is_a_page_comment_and_emits_a_feed_change(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    comment_id = comment(sandbox, world.page_id, world.post_id, world.psid)
    response = sandbox.graph("POST", f"{comment_id}/comments", world.token, data={"message": "Thanks!"})
    reply_id = response.json()["id"]
    assert reply_id.startswith(world.post_id.split("_")[1] + "_")
    changes = [item for item in receiver.wait_for(2) and receiver.items() if item.get("field") == "feed"]
    assert changes[-1]["value"]["from"] == {"id": world.page_id, "name": "Acme Shoes"}
    assert changes[-1]["value"]["parent_id"] == comment_id and changes[-1]["value"]["comment_id"] == reply_id
    sent = sandbox.read("sent", comment_id=comment_id)["sent"]
    assert sent[0]["kind"] == "comment_reply" and sent[0]["reply_comment_id"] == reply_id
    wrong_edge = sandbox.graph("POST", f"{comment_id}/replies", world.token, data={"message": "x"})
    assert error_of(wrong_edge)["code"] == 100


def test_instagram_reply_to_a_reply_lands_under_the_top_level_comment(sandbox: Sandbox, world: World) -> None:
    top = comment(sandbox, world.ig_id, world.media_id, world.igsid)
    nested = comment(sandbox, world.ig_id, world.media_id, world.igsid, parent_id=top)
    response = sandbox.graph("POST", f"{nested}/replies", world.token, data={"message": "Hello"})
    reply = sandbox.graph("GET", response.json()["id"], world.token, fields="parent_id,text,from").json()
    assert reply["parent_id"] == top and reply["from"]["id"] == world.ig_id
    replies = sandbox.graph("GET", f"{top}/replies", world.token).json()["data"]
    assert {item["id"] for item in replies} == {nested, response.json()["id"]}


def test_hidden_instagram_comment_refuses_replies(sandbox: Sandbox, world: World) -> None:
    top = comment(sandbox, world.ig_id, world.media_id, world.igsid)
    assert sandbox.graph("POST", top, world.token, data={"hide": "true"}).json() == {"success": True}
    assert sandbox.graph("GET", top, world.token, fields="hidden").json()["hidden"] is True
    response = sandbox.graph("POST", f"{top}/replies", world.token, data={"message": "Hello"})
    assert error_of(response)["code"] == 100 and "hidden" in error_of(response)["message"]


def test_hiding_uses_each_platforms_parameter(sandbox: Sandbox, world: World) -> None:
    fb = comment(sandbox, world.page_id, world.post_id, world.psid)
    assert error_of(sandbox.graph("POST", fb, world.token, data={"hide": "true"}))["code"] == 100
    assert sandbox.graph("POST", fb, world.token, data={"is_hidden": "true"}).json() == {"success": True}
    assert sandbox.graph("GET", fb, world.token, fields="is_hidden").json()["is_hidden"] is True
    ig = comment(sandbox, world.ig_id, world.media_id, world.igsid)
    assert error_of(sandbox.graph("POST", ig, world.token, data={"is_hidden": "true"}))["code"] == 100
