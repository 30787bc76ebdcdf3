"""Webhooks from the sandbox, received over real HTTP: shapes, signatures over the exact bytes,
holding, batching, shuffling, duplicating, redelivering, subscriptions and receipts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

from sandbox.app import build_sandbox
from sandbox.control_api import add_page
from sandbox.control_schemas import PageSpec
from sandbox.records import QueuedItem
from tests.sandbox import harness
from tests.sandbox.harness import SECRET, Receiver, Sandbox, World, text_body
from tests.servers import free_port

# The harness's fixtures, made available to this module.
receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world


def only_item(receiver: Receiver, count: int = 1) -> dict[str, Any]:
    return receiver.wait_for(count)[count - 1].json()


def test_messenger_message_is_signed_over_escaped_bytes(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    answer = sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="Grüße 😀 a/b")
    assert answer["delivery"] == {"status": 200, "held": False, "index": 0}
    received = receiver.wait_for(1)[0]
    assert received.signature_ok
    assert received.headers["X-Hub-Signature-256"].startswith("sha256=")
    assert b"Gr\\u00fc\\u00dfe \\ud83d\\ude00 a\\/b" in received.body
    assert received.body.isascii()
    body = received.json()
    assert body["object"] == "page"
    entry = body["entry"][0]
    assert entry["id"] == world.page_id
    item = entry["messaging"][0]
    assert item["sender"] == {"id": world.psid} and item["recipient"] == {"id": world.page_id}
    assert item["message"] == {"mid": answer["mid"], "text": "Grüße 😀 a/b"}
    assert isinstance(item["timestamp"], int)


def test_instagram_message_shape_with_attachments_and_story_reply(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    attachments = [
        {"type": "image", "url": "https://cdn.example.com/i.jpg"},
        {
            "type": "ig_post",
            "url": "https://instagram.com/p/x",
            "title": "A post",
            "ig_post_media_id": "1790",
        },
    ]
    sandbox.control(
        "dm",
        account_id=world.ig_id,
        user_id=world.igsid,
        text="look",
        attachments=attachments,
        story_reply_url="https://cdn.example.com/story.mp4",
    )
    body = only_item(receiver)
    assert body["object"] == "instagram" and body["entry"][0]["id"] == world.ig_id
    message = body["entry"][0]["messaging"][0]["message"]
    assert message["attachments"] == [
        {"type": "image", "payload": {"url": "https://cdn.example.com/i.jpg"}},
        {
            "type": "ig_post",
            "payload": {"ig_post_media_id": "1790", "title": "A post", "url": "https://instagram.com/p/x"},
        },
    ]
    assert message["reply_to"]["story"]["url"] == "https://cdn.example.com/story.mp4"


def test_messenger_attachment_kinds(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    attachments = [
        {
            "type": "sticker",
            "url": "https://cdn.example.com/s.png",
            "sticker_id": 369239263222822,
            "legacy": True,
        },
        {"type": "fallback", "url": "https://example.com/article", "title": "An article"},
        {"type": "audio", "url": "https://cdn.example.com/a.mp4"},
    ]
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, attachments=attachments)
    shaped = only_item(receiver)["entry"][0]["messaging"][0]["message"]["attachments"]
    assert [a["type"] for a in shaped] == ["image", "sticker", "fallback", "audio"]
    assert shaped[1]["payload"]["sticker_id"] == 369239263222822
    assert shaped[2] == {
        "type": "fallback",
        "title": "An article",
        "url": "https://example.com/article",
        "payload": None,
    }


def test_facebook_comment_is_a_feed_change(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    top = sandbox.control(
        "comment",
        account_id=world.page_id,
        post_id=world.post_id,
        user_id=world.psid,
        text="How much?",
        created_time=1_700_000_000,
    )["comment_id"]
    sandbox.control(
        "comment",
        account_id=world.page_id,
        post_id=world.post_id,
        user_id=world.psid,
        text="Anyone?",
        parent_id=top,
    )
    first, second = (r.json()["entry"][0]["changes"][0] for r in receiver.wait_for(2))
    assert first["field"] == "feed"
    value = first["value"]
    assert (value["item"], value["verb"], value["post_id"], value["parent_id"]) == (
        "comment",
        "add",
        world.post_id,
        world.post_id,
    )
    assert value["comment_id"] == top and value["created_time"] == 1_700_000_000
    assert value["from"] == {"id": world.psid, "name": "Jane Doe"} and value["message"] == "How much?"
    assert value["post"]["id"] == world.post_id and value["post"]["permalink_url"].startswith("https://")
    assert second["value"]["parent_id"] == top


def test_instagram_comment_change(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    created = sandbox.control(
        "comment", account_id=world.ig_id, post_id=world.media_id, user_id=world.igsid, text="Love it"
    )
    change = only_item(receiver)["entry"][0]["changes"][0]
    assert change["field"] == "comments"
    assert change["value"]["id"] == created["comment_id"] and change["value"]["text"] == "Love it"
    assert change["value"]["from"]["id"] == world.igsid and change["value"]["from"]["username"] == "ana.lima"
    assert change["value"]["media"] == {"id": world.media_id, "media_product_type": "FEED"}
    own = sandbox.control(
        "comment",
        account_id=world.ig_id,
        post_id=world.media_id,
        as_account=True,
        text="Thanks",
        parent_id=created["comment_id"],
    )
    reply = only_item(receiver, 2)["entry"][0]["changes"][0]["value"]
    assert reply["from"]["id"] == world.ig_id and reply["parent_id"] == created["comment_id"]
    assert reply["id"] == own["comment_id"]


def test_comment_edit_remove_and_hide_verbs(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    comment_id = sandbox.control(
        "comment", account_id=world.page_id, post_id=world.post_id, user_id=world.psid, text="v1"
    )["comment_id"]
    sandbox.control("comment/edit", comment_id=comment_id, text="v2")
    sandbox.control("comment/hide", comment_id=comment_id, hidden=True)
    sandbox.control("comment/remove", comment_id=comment_id)
    values = [r.json()["entry"][0]["changes"][0]["value"] for r in receiver.wait_for(4)]
    assert [v["verb"] for v in values] == ["add", "edited", "hide", "remove"]
    assert values[1]["message"] == "v2"
    assert "message" not in values[3] and "created_time" not in values[3]
    ig = sandbox.control(
        "comment", account_id=world.ig_id, post_id=world.media_id, user_id=world.igsid, text="x"
    )
    silent = sandbox.control("comment/remove", comment_id=ig["comment_id"])
    assert silent["delivery"]["status"] is None and "skipped" in silent["delivery"]


def test_hold_then_flush_one_by_one(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    assert sandbox.control("deliveries/hold", hold=True) == {"hold": True, "queued": 0}
    mids = [
        sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text=f"m{i}") for i in range(3)
    ]
    assert all(answer["delivery"] == {"status": None, "held": True} for answer in mids)
    assert receiver.received == [] and sandbox.read("deliveries")["queued"] == 3
    flushed = sandbox.control("deliveries/flush")["deliveries"]
    assert [d["status"] for d in flushed] == [200, 200, 200]
    texts = [r.json()["entry"][0]["messaging"][0]["message"]["text"] for r in receiver.wait_for(3)]
    assert texts == ["m0", "m1", "m2"]


def test_batched_flush_groups_entries_per_account_and_object(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    other = sandbox.control("pages", name="Second Page")
    other_user = sandbox.control("customers", account_id=other["page_id"], name="Bob")["user_id"]
    sandbox.control("deliveries/hold", hold=True)
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="a")
    sandbox.control("dm", account_id=other["page_id"], user_id=other_user, text="b")
    sandbox.control("dm", account_id=world.ig_id, user_id=world.igsid, text="c")
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="d")
    sandbox.control("comment", account_id=world.page_id, post_id=world.post_id, user_id=world.psid, text="e")
    flushed = sandbox.control("deliveries/flush", batch=True)["deliveries"]
    assert [(d["object"], d["items"]) for d in flushed] == [("page", 4), ("instagram", 1)]
    received = receiver.wait_for(2)
    assert all(r.signature_ok for r in received)
    page_body = received[0].json()
    grouped = [(e["id"], [m["message"]["text"] for m in e.get("messaging", [])]) for e in page_body["entry"]]
    assert grouped == [(world.page_id, ["a", "d"]), (other["page_id"], ["b"]), (world.page_id, [])]
    assert page_body["entry"][2]["changes"][0]["value"]["message"] == "e"


def test_shuffled_and_duplicated_flush(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    sandbox.control("config", seed=3)
    sandbox.control("deliveries/hold", hold=True)
    for index in range(8):
        sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text=str(index))
    sandbox.control("deliveries/flush", shuffle=True, duplicate=True)
    received = receiver.wait_for(16)
    texts = [r.json()["entry"][0]["messaging"][0]["message"]["text"] for r in received]
    assert texts[0::2] == texts[1::2]
    assert [r.body for r in received[0::2]] == [r.body for r in received[1::2]]
    assert sorted(texts[0::2]) == [str(i) for i in range(8)] and texts[0::2] != [str(i) for i in range(8)]


def test_redeliver_sends_the_same_bytes_and_signature(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="once")
    original = receiver.wait_for(1)[0]
    sandbox.control("config", app_secret="rotated-secret")
    redelivered = sandbox.control("deliveries/redeliver", index=0)["delivery"]
    again = receiver.wait_for(2)[1]
    assert again.body == original.body
    assert again.headers["X-Hub-Signature-256"] == original.headers["X-Hub-Signature-256"]
    assert redelivered["redelivery_of"] == 0 and redelivered["status"] == 200
    assert sandbox.control_raw("deliveries/redeliver", index=99).status_code == 404


def test_delivery_log_records_bodies_signatures_and_failures(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    receiver.status = 500
    failed = sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="x")
    assert failed["delivery"]["status"] == 500
    sandbox.control("config", webhook_url=f"http://127.0.0.1:{free_port()}/nowhere")
    unreachable = sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="y")
    assert unreachable["delivery"]["status"] is None and "Connect" in unreachable["delivery"]["error"]
    log = sandbox.read("deliveries")["deliveries"]
    assert [d["status"] for d in log] == [500, None]
    expected = "sha256=" + hmac.new(SECRET.encode(), log[0]["body"].encode(), hashlib.sha256).hexdigest()
    assert log[0]["signature"] == expected
    assert json.loads(log[0]["body"])["entry"][0]["messaging"][0]["message"]["text"] == "x"
    assert sandbox.read("deliveries", since=1)["deliveries"][0]["index"] == 1


def test_unsubscribed_account_gets_nothing_but_facts_are_kept(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    sandbox.control("subscriptions/unsubscribe", account_id=world.page_id)
    answer = sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="while down")
    assert answer["delivery"] == {"status": None, "held": False, "skipped": "unsubscribed"}
    comment = sandbox.control(
        "comment", account_id=world.page_id, post_id=world.post_id, user_id=world.psid, text="missed"
    )
    assert comment["delivery"]["skipped"] == "unsubscribed"
    ig = sandbox.control("dm", account_id=world.ig_id, user_id=world.igsid, text="ig still on")
    assert ig["delivery"]["status"] == 200
    conversations = sandbox.graph(
        "GET", f"{world.page_id}/conversations", world.token, fields="messages{id,message}"
    ).json()["data"]
    assert conversations[0]["messages"]["data"][0] == {"id": answer["mid"], "message": "while down"}
    comments = sandbox.graph("GET", f"{world.post_id}/comments", world.token, filter="stream").json()["data"]
    assert [c["id"] for c in comments] == [comment["comment_id"]]
    sandbox.graph("POST", f"{world.page_id}/subscribed_apps", world.token, subscribed_fields="messages")
    back = sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="back")
    assert back["delivery"]["status"] == 200
    assert len(receiver.wait_for(2)) == 2


def test_echo_follows_a_send_unless_echoes_are_not_subscribed(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="hi")
    sent = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, "Hello!")).json()
    echo = only_item(receiver, 2)["entry"][0]["messaging"][0]
    assert echo["sender"] == {"id": world.page_id} and echo["recipient"] == {"id": world.psid}
    assert echo["message"]["is_echo"] is True and echo["message"]["mid"] == sent["message_id"]
    assert str(echo["message"]["app_id"]) == sandbox.read("config")["app_id"]
    sandbox.graph("POST", f"{world.page_id}/subscribed_apps", world.token, subscribed_fields="messages")
    sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, "No echo"))
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="after")
    texts = [r.json()["entry"][0]["messaging"][0]["message"]["text"] for r in receiver.wait_for(3)]
    assert texts == ["hi", "Hello!", "after"]


def test_auto_receipts_send_delivery_and_read_after_each_send(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    sandbox.control("config", auto_receipts=True)
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="hi")
    sent = sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).json()
    items = [r.json()["entry"][0]["messaging"][0] for r in receiver.wait_for(4)]
    echo, delivery, read = items[1:4]
    assert echo["message"]["is_echo"] is True
    assert delivery["delivery"]["mids"] == [sent["message_id"]] and "timestamp" not in delivery
    assert read["read"]["watermark"] == delivery["delivery"]["watermark"]
    sandbox.control("dm", account_id=world.ig_id, user_id=world.igsid, text="hi")
    ig_sent = sandbox.send(world.token, world.ig_id, text_body({"id": world.igsid})).json()
    ig_items = [r.json()["entry"][0]["messaging"][0] for r in receiver.wait_for(7)[4:]]
    assert [next(k for k in i if k in ("message", "read")) for i in ig_items] == [
        "message",
        "message",
        "read",
    ]
    assert ig_items[2]["read"] == {"mid": ig_sent["message_id"]}


def test_webhooks_caused_before_a_reset_are_dropped() -> None:
    """An echo still on its way when a test resets the sandbox must not reach the next test."""
    built = build_sandbox(SECRET, "http://127.0.0.1:9/unused")
    page = add_page(built.store, PageSpec(name="Before"))
    item = QueuedItem(
        object="page",
        account_id=page["page_id"],
        section="messaging",
        field="messages",
        item={"sender": {"id": "1"}},
        time=0,
    )
    before = built.store.generation
    built.store.reset(keep_config=True)
    add_page(built.store, PageSpec(name="After", page_id=page["page_id"]))
    report = asyncio.run(built.webhooks.emit(item, before))
    assert report == {"status": None, "held": False, "skipped": "reset since"}
    assert built.store.deliveries == []
