"""The sandbox's Instagram host (`/instagram/{version}`, graph.instagram.com for Instagram Login)
over real HTTP: per-host tokens, `/me` with `user_id`, subscription, sends and private replies
under the same rules as the Facebook host, and the webhooks of an account with no page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox import harness
from tests.sandbox.harness import VERSION, Receiver, Sandbox, World, error_of, text_body

receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world


def ig(sandbox: Sandbox, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
    params = kwargs.pop("params", {})
    if token is not None:
        params["access_token"] = token
    return sandbox.http.request(method, f"/instagram/{VERSION}/{path}", params=params, **kwargs)


@pytest.fixture
def account(sandbox: Sandbox) -> dict[str, str]:
    created = sandbox.control("instagram-accounts", username="solo.shop", name="Solo Shop", followers_count=321)
    person = sandbox.control("customers", account_id=created["instagram_id"], name="Ana Lima")["user_id"]
    return {**created, "igsid": person}


def test_me_names_the_account_by_user_id_and_tokens_stay_on_their_host(
        sandbox: Sandbox, world: World, account: dict[str, str]) -> None:
    me = ig(sandbox, "GET", "me", account["token"], params={"fields": "user_id,username,followers_count"}).json()
    assert me["user_id"] == account["instagram_id"] and me["username"] == "solo.shop"
    assert me["id"] != me["user_id"]  # `id` is app-scoped: never the account id
    assert me["followers_count"] == 321
    for response in (sandbox.graph("GET", "me", account["token"]),  # an Instagram token on Facebook's host
                     ig(sandbox, "GET", "me", world.token),  # a page token on Instagram's host
                     ig(sandbox, "GET", "debug_token", world.token, params={"input_token": world.token})):
        assert (response.status_code, error_of(response)["code"]) == (400, 190)
    unknown = ig(sandbox, "GET", "debug_token", account["token"], params={"input_token": account["token"]})
    assert error_of(unknown)["code"] == 100  # the Instagram host has no debug_token


def test_subscription_and_a_send_through_the_instagram_host(sandbox: Sandbox, account: dict[str, str],
                                                              receiver: Receiver) -> None:
    token, account_id, person = account["token"], account["instagram_id"], account["igsid"]
    unsubscribed = ig(sandbox, "POST", "me/subscribed_apps", token, json={"subscribed_fields": "messages,bogus"})
    assert error_of(unsubscribed)["code"] == 100
    assert ig(sandbox, "POST", "me/subscribed_apps", token,
              json={"subscribed_fields": "messages,comments"}).json() == {"success": True}
    fields = ig(sandbox, "GET", "me/subscribed_apps", token).json()["data"][0]["subscribed_fields"]
    assert fields == ["messages", "comments"]
    outside = ig(sandbox, "POST", f"{account_id}/messages", token, json=text_body({"id": person}))
    assert (error_of(outside)["code"], error_of(outside)["error_subcode"]) == (10, 2018278)  # no message yet
    sandbox.control("dm", account_id=account_id, user_id=person, text="hi")
    item = receiver.wait_item("message")
    assert item["recipient"]["id"] == account_id and receiver.received[0].json()["object"] == "instagram"
    too_long = ig(sandbox, "POST", "me/messages", token, json=text_body({"id": person}, "é" * 501))
    assert error_of(too_long)["code"] == 100  # 1002 bytes: Instagram counts UTF-8 bytes
    sent = ig(sandbox, "POST", "me/messages", token, json=text_body({"id": person}, "Hello Ana"))
    assert sent.status_code == 200 and sent.json()["recipient_id"] == person
    [row] = sandbox.read("sent", recipient_id=person)["sent"]
    assert row["path"] == f"/{VERSION}/me/messages" and row["body"]["message"]["text"] == "Hello Ana"


def test_private_reply_once_per_comment_on_the_instagram_host(sandbox: Sandbox, account: dict[str, str]) -> None:
    token, account_id, person = account["token"], account["instagram_id"], account["igsid"]
    media = sandbox.control("posts", account_id=account_id, message="New drop")["post_id"]
    comment_id = harness.comment(sandbox, account_id, media, person)
    first = ig(sandbox, "POST", f"{account_id}/messages", token, json=text_body({"comment_id": comment_id}))
    assert first.status_code == 200 and first.json()["recipient_id"] == person
    again = ig(sandbox, "POST", f"{account_id}/messages", token, json=text_body({"comment_id": comment_id}))
    assert error_of(again)["code"] == 10900
    no_scope = sandbox.control("instagram-accounts", username="limited", scopes=["instagram_business_basic"])
    other = ig(sandbox, "POST", "me/messages", no_scope["token"], json=text_body({"id": person}))
    assert error_of(other)["code"] == 200  # no instagram_business_manage_messages


def test_story_mentions_are_instagram_only(sandbox: Sandbox, world: World) -> None:
    refused = sandbox.control_raw("dm", account_id=world.page_id, user_id=world.psid,
                                  attachments=[{"type": "story_mention", "url": "https://cdn.example/s.mp4"}])
    assert refused.status_code == 400
    sandbox.control("dm", account_id=world.ig_id, user_id=world.igsid, text=None,
                    attachments=[{"type": "story_mention", "url": "https://cdn.example/s.mp4"}])
    sent = sandbox.send(world.token, world.page_id, text_body({"id": world.igsid}, "Thanks for the mention"))
    assert sent.status_code == 200  # the mention opened the 24-hour window (§12)


def test_token_refresh_needs_a_day_old_token_and_gives_sixty_days(sandbox: Sandbox, account: dict[str, str]) -> None:
    young = ig(sandbox, "GET", "refresh_access_token", account["token"], params={"grant_type": "ig_refresh_token"})
    assert error_of(young)["code"] == 100
    old = sandbox.control("instagram-accounts", username="older.shop", token_age_days=2)["token"]
    wrong = ig(sandbox, "GET", "refresh_access_token", old, params={"grant_type": "fb_exchange_token"})
    assert error_of(wrong)["code"] == 100
    fresh = ig(sandbox, "GET", "refresh_access_token", old, params={"grant_type": "ig_refresh_token"}).json()
    assert fresh["token_type"] == "bearer" and fresh["expires_in"] == 60 * 86400
    assert ig(sandbox, "GET", "me", fresh["access_token"], params={"fields": "username"}).json()["username"] == (
        "older.shop")
