"""The sandbox's Graph API over real HTTP, reading side: profiles, nodes, pages, posts,
comments, subscriptions, uploads, token debugging and the Conversations API."""

from __future__ import annotations

from tests.sandbox import harness
from tests.sandbox.harness import (
    Sandbox,
    World,
    comment,
    dm,
    error_of,
    now_ms,
)

# The harness's fixtures, made available to this module.
receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world


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
    assert (profile["username"], profile["follower_count"], profile["is_verified_user"]) == (
        "ana.lima",
        0,
        False,
    )


def test_comment_and_post_nodes(sandbox: Sandbox, world: World) -> None:
    top = comment(sandbox, world.page_id, world.post_id, world.psid)
    reply = comment(sandbox, world.page_id, world.post_id, world.psid, parent_id=top)
    node = sandbox.graph(
        "GET", reply, world.token, fields="id,message,from,created_time,can_reply_privately,parent"
    ).json()
    assert node["parent"] == {"id": top} and node["from"] == {"id": world.psid, "name": "Jane Doe"}
    assert node["created_time"].endswith("+0000") and node["can_reply_privately"] is True
    post = sandbox.graph(
        "GET", world.post_id, world.token, fields="id,message,permalink_url,created_time"
    ).json()
    assert post["message"] == "Summer sale" and post["permalink_url"].startswith("https://www.facebook.com/")
    wrong = error_of(sandbox.graph("GET", world.post_id, world.token, fields="caption"))
    assert wrong["code"] == 100 and "nonexisting field (caption)" in wrong["message"]
    assert error_of(sandbox.graph("GET", "999999", world.token))["error_subcode"] == 33


# Pages, posts, comments lists


def test_me_accounts_lists_pages_with_their_instagram_account(sandbox: Sandbox, world: World) -> None:
    fields = (
        "id,name,access_token,instagram_business_account{id,username,followers_count,profile_picture_url}"
    )
    data = sandbox.graph("GET", "me/accounts", world.user_token, fields=fields).json()["data"]
    assert data == [
        {
            "id": world.page_id,
            "name": "Acme Shoes",
            "access_token": world.token,
            "instagram_business_account": {
                "id": world.ig_id,
                "username": "acme.shoes",
                "followers_count": 1200,
            },
        }
    ]
    assert error_of(sandbox.graph("GET", "me/accounts", world.token))["code"] == 100


def test_user_token_reads_the_page_node_for_its_token(sandbox: Sandbox, world: World) -> None:
    fields = "access_token,instagram_business_account"
    page = sandbox.graph("GET", world.page_id, world.user_token, fields=fields).json()
    assert page == {
        "access_token": world.token,
        "instagram_business_account": {"id": world.ig_id},
        "id": world.page_id,
    }
    assert error_of(sandbox.graph("GET", f"{world.page_id}/conversations", world.user_token))["code"] == 200


def test_published_posts_paginate_with_cursors(sandbox: Sandbox, world: World) -> None:
    base = now_ms() // 1000
    for index in range(5):
        sandbox.control(
            "posts", account_id=world.page_id, message=f"post {index}", created_time=base + index + 1
        )
    first = sandbox.graph(
        "GET",
        f"{world.page_id}/published_posts",
        world.token,
        limit=2,
        fields="id,message,created_time,permalink_url,full_picture",
    ).json()
    assert [post["message"] for post in first["data"]] == ["post 4", "post 3"]
    seen = [post["message"] for post in first["data"]]
    page = first
    while "next" in page["paging"]:
        page = sandbox.http.get(page["paging"]["next"]).json()
        seen.extend(post["message"] for post in page["data"])
    assert seen == ["post 4", "post 3", "post 2", "post 1", "post 0", "Summer sale"]
    after = sandbox.graph(
        "GET",
        f"{world.page_id}/published_posts",
        world.token,
        limit=2,
        after=first["paging"]["cursors"]["after"],
    ).json()
    assert [post["message"] for post in after["data"]] == ["post 2", "post 1"]
    media = sandbox.graph("GET", f"{world.ig_id}/media", world.token, fields="id,caption,media_type").json()
    assert media["data"] == [{"id": world.media_id, "caption": "New shoes", "media_type": "IMAGE"}]


def test_post_comments_stream_newest_first_with_parents(sandbox: Sandbox, world: World) -> None:
    base = now_ms() // 1000 - 100
    top = comment(sandbox, world.page_id, world.post_id, world.psid, created_time=base)
    reply = comment(sandbox, world.page_id, world.post_id, world.psid, parent_id=top, created_time=base + 1)
    stream = sandbox.graph(
        "GET",
        f"{world.post_id}/comments",
        world.token,
        filter="stream",
        order="reverse_chronological",
        fields="id,from,message,created_time,parent{id}",
    ).json()
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
    upload = {
        "message": {
            "attachment": {
                "type": "image",
                "payload": {"url": "https://cdn.example.com/a.png", "is_reusable": True},
            }
        }
    }
    attachment_id = sandbox.graph(
        "POST", f"{world.page_id}/message_attachments", world.token, json=upload
    ).json()["attachment_id"]
    dm(sandbox, world.page_id, world.psid)
    by_id = {"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}}
    assert (
        sandbox.send(
            world.token, world.page_id, {"recipient": {"id": world.psid}, "message": by_id}
        ).status_code
        == 200
    )
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
    mids = [
        sandbox.control(
            "dm", account_id=world.page_id, user_id=world.psid, text=f"m{i}", timestamp_ms=base + i
        )["mid"]
        for i in range(25)
    ]
    other = sandbox.control("customers", account_id=world.page_id, name="Zed")["user_id"]
    dm(sandbox, world.page_id, other)
    listing = sandbox.graph(
        "GET",
        f"{world.page_id}/conversations",
        world.token,
        platform="messenger",
        fields="id,updated_time,participants",
    ).json()["data"]
    assert len(listing) == 2 and listing[0]["participants"]["data"][0]["id"] == other
    mine = sandbox.graph("GET", f"{world.page_id}/conversations", world.token, user_id=world.psid).json()[
        "data"
    ]
    thread = sandbox.graph("GET", mine[0]["id"], world.token, fields="messages{id,created_time}").json()
    assert [m["id"] for m in thread["messages"]["data"]] == list(reversed(mids[-20:]))
    recent = sandbox.graph(
        "GET", mids[-1], world.token, fields="id,created_time,from,to,message,attachments"
    ).json()
    assert recent["message"] == "m24" and recent["from"]["id"] == world.psid
    assert recent["to"]["data"][0]["id"] == world.page_id
    assert error_of(sandbox.graph("GET", mids[0], world.token))["error_subcode"] == 33


def test_instagram_conversations_through_the_page(sandbox: Sandbox, world: World) -> None:
    dm(
        sandbox,
        world.ig_id,
        world.igsid,
        attachments=[{"type": "image", "url": "https://cdn.example.com/p.jpg"}],
    )
    listing = sandbox.graph(
        "GET",
        f"{world.page_id}/conversations",
        world.token,
        platform="instagram",
        fields="participants,messages{id,message,attachments}",
    ).json()["data"]
    assert listing[0]["participants"]["data"][0] == {"username": "ana.lima", "id": world.igsid}
    attachment = listing[0]["messages"]["data"][0]["attachments"]["data"][0]
    assert attachment["image_data"]["url"] == "https://cdn.example.com/p.jpg"
