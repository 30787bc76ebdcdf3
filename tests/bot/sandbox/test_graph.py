"""The sandbox's Graph API over real HTTP: tokens, Send API rules, windows, private and public
replies, profiles, pages, posts, comments, conversations, subscriptions, rate limits, faults."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.bot.sandbox.harness import (  # noqa: F401 (fixtures)
    Receiver,
    Sandbox,
    World,
    error_of,
    receiver,
    sandbox,
    text_body,
    world,
)
from tests.servers import wait_until

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def dm(sandbox: Sandbox, account_id: str, user_id: str, *, ago_ms: int = 0, **extra: Any) -> dict[str, Any]:
    return sandbox.control(
        "dm", account_id=account_id, user_id=user_id, text="hi", timestamp_ms=now_ms() - ago_ms, **extra
    )


def comment(sandbox: Sandbox, account_id: str, post_id: str, user_id: str, **extra: Any) -> str:
    return sandbox.control("comment", account_id=account_id, post_id=post_id, user_id=user_id, text="nice", **extra)[
        "comment_id"
    ]


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
    ("14 quick replies", {"message": {"text": "x", "quick_replies": [
        {"content_type": "text", "title": f"q{i}", "payload": f"P{i}"} for i in range(14)]}}, "at most 13"),
    ("quick reply title of 21", {"message": {"text": "x", "quick_replies": [
        {"content_type": "text", "title": "t" * 21, "payload": "P"}]}}, "title"),
    ("quick reply payload of 1001", {"message": {"text": "x", "quick_replies": [
        {"content_type": "text", "title": "t", "payload": "p" * 1001}]}}, "payload"),
    ("attachment of unknown type", {"message": {"attachment": {"type": "gif", "payload": {"url": "https://x.io/a"}}}},
     "attachment][type]"),
    ("attachment without url or id", {"message": {"attachment": {"type": "image", "payload": {}}}},
     "url or attachment_id"),
    ("attachment with ftp url", {"message": {"attachment": {"type": "image", "payload": {"url": "ftp://x.io/a"}}}},
     "http(s)"),
    ("template text of 641", {"message": {"attachment": _template(text="t" * 641)}}, "640"),
    ("template with 4 buttons", {"message": {"attachment": _template(buttons=[
        {"type": "postback", "title": f"b{i}", "payload": "P"} for i in range(4)])}}, "1 to 3 buttons"),
    ("template with no button", {"message": {"attachment": _template(buttons=[])}}, "1 to 3 buttons"),
    ("button title of 21", {"message": {"attachment": _template(buttons=[
        {"type": "postback", "title": "b" * 21, "payload": "P"}])}}, "title"),
    ("button payload of 1001", {"message": {"attachment": _template(buttons=[
        {"type": "postback", "title": "b", "payload": "p" * 1001}])}}, "payload"),
    ("web_url button with a non-http url", {"message": {"attachment": _template(buttons=[
        {"type": "web_url", "title": "Open", "url": "javascript:alert(1)"}])}}, "http(s)"),
    ("generic template", {"message": {"attachment": {"type": "template", "payload": {
        "template_type": "generic", "elements": []}}}}, "only button"),
]


@pytest.mark.parametrize(("case", "body", "named"), INVALID_BODIES, ids=[case for case, _, _ in INVALID_BODIES])
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
    assert (sent[0]["kind"], sent[0]["account_id"], sent[0]["private_reply"]) == ("message", world.page_id, False)


def test_form_encoded_send_with_json_strings_is_understood(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    form = {"recipient": json.dumps({"id": world.psid}), "message": json.dumps({"text": "hi"}),
            "messaging_type": "RESPONSE"}
    response = sandbox.graph("POST", f"{world.page_id}/messages", world.token, data=form)
    assert response.status_code == 200, response.text


def test_sender_action_is_answered_without_message_id(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    response = sandbox.send(world.token, world.page_id, {"recipient": {"id": world.psid}, "sender_action": "typing_on"})
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
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, messaging_type="UPDATE"))
    assert (error_of(response)["code"], error_of(response)["error_subcode"]) == (10, 2018278)


def test_postback_and_referral_open_the_window_but_a_reaction_does_not(sandbox: Sandbox, world: World) -> None:
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
    sandbox.send(world.token, world.page_id, {"recipient": {"comment_id": comment_id}, "message": {"text": "hi"}})
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}))
    assert error_of(response)["error_subcode"] == 2018278


def test_private_reply_to_a_comment_older_than_7_days_is_10903(sandbox: Sandbox, world: World) -> None:
    eight_days_ago = now_ms() // 1000 - 8 * 24 * 3600
    comment_id = comment(sandbox, world.page_id, world.post_id, world.psid, created_time=eight_days_ago)
    response = sandbox.send(world.token, world.page_id, {"recipient": {"comment_id": comment_id},
                                                         "message": {"text": "late"}})
    assert error_of(response)["code"] == 10903


def test_private_reply_to_the_pages_own_comment_is_10903(sandbox: Sandbox, world: World) -> None:
    own = sandbox.control("comment", account_id=world.page_id, post_id=world.post_id, as_account=True, text="Hi!")
    response = sandbox.send(world.token, world.page_id, {"recipient": {"comment_id": own["comment_id"]},
                                                         "message": {"text": "x"}})
    assert error_of(response)["code"] == 10903


def test_instagram_private_reply_refuses_media_but_takes_text(sandbox: Sandbox, world: World) -> None:
    comment_id = comment(sandbox, world.ig_id, world.media_id, world.igsid)
    image = {"attachment": {"type": "image", "payload": {"url": "https://cdn.example.com/a.png"}}}
    refused = sandbox.send(world.token, world.page_id, {"recipient": {"comment_id": comment_id}, "message": image})
    error = error_of(refused)
    assert error["code"] == 100 and "media" in error["message"] and "is_transient" in error
    sent = sandbox.send(world.token, world.page_id, {"recipient": {"comment_id": comment_id},
                                                     "message": {"text": "Check your DMs"}})
    assert sent.json()["recipient_id"] == world.igsid


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


# Profiles and nodes


def test_messenger_profile_needs_a_message_first(sandbox: Sandbox, world: World) -> None:
    fields = "first_name,last_name,name,profile_pic"
    before = error_of(sandbox.graph("GET", world.psid, world.token, fields=fields))
    assert (before["code"], before["error_subcode"]) == (100, 33)
    dm(sandbox, world.page_id, world.psid)
    profile = sandbox.graph("GET", world.psid, world.token, fields=fields).json()
    assert profile == {"first_name": "Jane", "last_name": "Doe", "name": "Jane Doe", "id": world.psid}
    locale = error_of(sandbox.graph("GET", world.psid, world.token, fields="first_name,locale"))
    assert (locale["code"], locale["error_subcode"]) == (100, 2018247)


def test_instagram_profile_needs_consent(sandbox: Sandbox, world: World) -> None:
    fields = "name,username,profile_pic,follower_count,is_verified_user"
    before = error_of(sandbox.graph("GET", world.igsid, world.token, fields=fields))
    assert "User consent is required" in before["message"]
    dm(sandbox, world.ig_id, world.igsid)
    profile = sandbox.graph("GET", world.igsid, world.token, fields=fields).json()
    assert (profile["username"], profile["follower_count"], profile["is_verified_user"]) == ("ana.lima", 0, False)


def test_comment_and_post_nodes(sandbox: Sandbox, world: World) -> None:
    top = comment(sandbox, world.page_id, world.post_id, world.psid)
    reply = comment(sandbox, world.page_id, world.post_id, world.psid, parent_id=top)
    node = sandbox.graph(
        "GET", reply, world.token, fields="id,message,from,created_time,can_reply_privately,parent"
    ).json()
    assert node["parent"] == {"id": top} and node["from"] == {"id": world.psid, "name": "Jane Doe"}
    assert node["created_time"].endswith("+0000") and node["can_reply_privately"] is True
    post = sandbox.graph("GET", world.post_id, world.token, fields="id,message,permalink_url,created_time").json()
    assert post["message"] == "Summer sale" and post["permalink_url"].startswith("https://www.facebook.com/")
    wrong = error_of(sandbox.graph("GET", world.post_id, world.token, fields="caption"))
    assert wrong["code"] == 100 and "nonexisting field (caption)" in wrong["message"]
    assert error_of(sandbox.graph("GET", "999999", world.token))["error_subcode"] == 33


# Pages, posts, comments lists


def test_me_accounts_lists_pages_with_their_instagram_account(sandbox: Sandbox, world: World) -> None:
    fields = "id,name,access_token,instagram_business_account{id,username,followers_count,profile_picture_url}"
    data = sandbox.graph("GET", "me/accounts", world.user_token, fields=fields).json()["data"]
    assert data == [{
        "id": world.page_id,
        "name": "Acme Shoes",
        "access_token": world.token,
        "instagram_business_account": {"id": world.ig_id, "username": "acme.shoes", "followers_count": 1200},
    }]
    assert error_of(sandbox.graph("GET", "me/accounts", world.token))["code"] == 100


def test_published_posts_paginate_with_cursors(sandbox: Sandbox, world: World) -> None:
    base = now_ms() // 1000
    for index in range(5):
        sandbox.control("posts", account_id=world.page_id, message=f"post {index}", created_time=base + index + 1)
    first = sandbox.graph("GET", f"{world.page_id}/published_posts", world.token, limit=2,
                          fields="id,message,created_time,permalink_url,full_picture").json()
    assert [post["message"] for post in first["data"]] == ["post 4", "post 3"]
    seen = [post["message"] for post in first["data"]]
    page = first
    while "next" in page["paging"]:
        page = sandbox.http.get(page["paging"]["next"]).json()
        seen.extend(post["message"] for post in page["data"])
    assert seen == ["post 4", "post 3", "post 2", "post 1", "post 0", "Summer sale"]
    after = sandbox.graph("GET", f"{world.page_id}/published_posts", world.token, limit=2,
                          after=first["paging"]["cursors"]["after"]).json()
    assert [post["message"] for post in after["data"]] == ["post 2", "post 1"]
    media = sandbox.graph("GET", f"{world.ig_id}/media", world.token, fields="id,caption,media_type").json()
    assert media["data"] == [{"id": world.media_id, "caption": "New shoes", "media_type": "IMAGE"}]


def test_post_comments_stream_newest_first_with_parents(sandbox: Sandbox, world: World) -> None:
    base = now_ms() // 1000 - 100
    top = comment(sandbox, world.page_id, world.post_id, world.psid, created_time=base)
    reply = comment(sandbox, world.page_id, world.post_id, world.psid, parent_id=top, created_time=base + 1)
    stream = sandbox.graph("GET", f"{world.post_id}/comments", world.token, filter="stream",
                           order="reverse_chronological", fields="id,from,message,created_time,parent{id}").json()
    assert [(c["id"], c.get("parent")) for c in stream["data"]] == [(reply, {"id": top}), (top, None)]
    toplevel = sandbox.graph("GET", f"{world.post_id}/comments", world.token).json()
    assert [c["id"] for c in toplevel["data"]] == [top]


def test_subscribed_apps_read_write_and_unsubscribe(sandbox: Sandbox, world: World) -> None:
    edge = f"{world.page_id}/subscribed_apps"
    assert "feed" in sandbox.graph("GET", edge, world.token).json()["data"][0]["subscribed_fields"]
    sandbox.control("subscriptions/unsubscribe", account_id=world.page_id)
    assert sandbox.graph("GET", edge, world.token).json() == {"data": []}
    answer = sandbox.graph("POST", edge, world.token, subscribed_fields="messages,feed")
    assert answer.json() == {"success": True}
    data = sandbox.graph("GET", edge, world.token).json()["data"]
    assert data[0]["subscribed_fields"] == ["messages", "feed"] and data[0]["name"] == "socialdesk"
    bad = sandbox.graph("POST", edge, world.token, subscribed_fields="messages,bogus")
    assert error_of(bad)["code"] == 100 and "bogus" in error_of(bad)["message"]
    assert sandbox.graph("DELETE", edge, world.token).json() == {"success": True}
    assert sandbox.graph("GET", edge, world.token).json() == {"data": []}


def test_uploaded_attachment_can_be_sent_by_id(sandbox: Sandbox, world: World) -> None:
    upload = {"message": {"attachment": {"type": "image", "payload": {"url": "https://cdn.example.com/a.png",
                                                                       "is_reusable": True}}}}
    attachment_id = sandbox.graph("POST", f"{world.page_id}/message_attachments", world.token,
                                  json=upload).json()["attachment_id"]
    dm(sandbox, world.page_id, world.psid)
    by_id = {"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}}
    assert sandbox.send(world.token, world.page_id, {"recipient": {"id": world.psid}, "message": by_id}).status_code == 200
    unknown = {"attachment": {"type": "image", "payload": {"attachment_id": "42"}}}
    refused = sandbox.send(world.token, world.page_id, {"recipient": {"id": world.psid}, "message": unknown})
    assert error_of(refused)["code"] == 100


def test_debug_token(sandbox: Sandbox, world: World) -> None:
    valid = sandbox.graph("GET", "debug_token", world.user_token, input_token=world.token).json()["data"]
    assert valid["is_valid"] is True and valid["profile_id"] == world.page_id
    assert "pages_messaging" in valid["scopes"] and valid["expires_at"] == 0
    invalid = sandbox.graph("GET", "debug_token", world.user_token, input_token="nope").json()["data"]
    assert invalid["is_valid"] is False and invalid["error"]["code"] == 190


# Conversations API


def test_conversations_serve_only_the_20_most_recent_messages(sandbox: Sandbox, world: World) -> None:
    base = now_ms() - 60_000
    mids = [sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text=f"m{i}",
                            timestamp_ms=base + i)["mid"] for i in range(25)]
    other = sandbox.control("customers", account_id=world.page_id, name="Zed")["user_id"]
    dm(sandbox, world.page_id, other)
    listing = sandbox.graph("GET", f"{world.page_id}/conversations", world.token, platform="messenger",
                            fields="id,updated_time,participants").json()["data"]
    assert len(listing) == 2 and listing[0]["participants"]["data"][0]["id"] == other
    mine = sandbox.graph("GET", f"{world.page_id}/conversations", world.token, user_id=world.psid).json()["data"]
    thread = sandbox.graph("GET", mine[0]["id"], world.token, fields="messages{id,created_time}").json()
    assert [m["id"] for m in thread["messages"]["data"]] == list(reversed(mids[-20:]))
    recent = sandbox.graph("GET", mids[-1], world.token, fields="id,created_time,from,to,message,attachments").json()
    assert recent["message"] == "m24" and recent["from"]["id"] == world.psid
    assert recent["to"]["data"][0]["id"] == world.page_id
    assert error_of(sandbox.graph("GET", mids[0], world.token))["error_subcode"] == 33


def test_instagram_conversations_through_the_page(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.ig_id, world.igsid, attachments=[{"type": "image", "url": "https://cdn.example.com/p.jpg"}])
    listing = sandbox.graph("GET", f"{world.page_id}/conversations", world.token, platform="instagram",
                            fields="participants,messages{id,message,attachments}").json()["data"]
    assert listing[0]["participants"]["data"][0] == {"username": "ana.lima", "id": world.igsid}
    attachment = listing[0]["messages"]["data"][0]["attachments"]["data"][0]
    assert attachment["image_data"]["url"] == "https://cdn.example.com/p.jpg"


# Rate limits and injected faults


def test_rate_limit_per_page_is_80001_with_usage_headers(sandbox: Sandbox, world: World) -> None:
    sandbox.control("config", rate_limit_per_second=3)
    answers = [sandbox.graph("GET", world.page_id, world.token) for _ in range(4)]
    usage = [json.loads(a.headers["X-Business-Use-Case-Usage"])[world.page_id][0] for a in answers]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert [u["call_count"] for u in usage[:3]] == [33, 66, 100]
    error = error_of(answers[3])
    assert (answers[3].status_code, error["code"]) == (400, 80001)
    assert usage[3]["estimated_time_to_regain_access"] == 0 and usage[3]["type"] == "pages"
    wait_until(lambda: sandbox.graph("GET", world.page_id, world.token).status_code == 200, 5, what="regain")


def test_injected_server_errors_are_500_code_2(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", error_rate=1.0, error_kinds=["server"])
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}))
    assert (response.status_code, error_of(response)["code"]) == (500, 2)
    assert sandbox.read("sent")["sent"] == []
    assert sandbox.read("attempts")["attempts"][-1]["injected"] is True
    assert sandbox.graph("GET", world.page_id, world.token).status_code == 200  # reads are not failed


def test_injected_rate_limits_are_613_or_80001(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", error_rate=1.0, error_kinds=["rate_limit"], seed=7)
    codes = {error_of(sandbox.send(world.token, world.page_id, text_body({"id": world.psid})))["code"]
             for _ in range(12)}
    assert codes == {613, 80001}


def test_injected_errors_follow_the_seed(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)

    def run() -> list[int]:
        sandbox.control("config", error_rate=0.5, error_kinds=["server"], seed=42)
        return [sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).status_code
                for _ in range(10)]

    first = run()
    assert first == run() and set(first) == {200, 500}


def test_ambiguous_failure_went_through(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", error_rate=1.0, error_kinds=["ambiguous"])
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, "maybe"))
    error = error_of(response)
    assert (response.status_code, error["code"], error["error_subcode"]) == (500, 1, 1357046)
    sent = sandbox.read("sent")["sent"]
    assert [s["body"]["message"]["text"] for s in sent] == ["maybe"]
    echo = wait_until(lambda: [i for i in receiver.items() if i.get("message", {}).get("is_echo")], 10)
    assert echo[0]["message"]["mid"] == sent[0]["message_id"]


def test_latency_delays_every_graph_call(sandbox: Sandbox, world: World) -> None:
    sandbox.control("config", latency_ms=300)
    started = time.monotonic()
    assert sandbox.graph("GET", world.page_id, world.token).status_code == 200
    assert time.monotonic() - started >= 0.3
