"""The sandbox's control API over real HTTP: configuration, the world (pages, posts, people),
playing the customer (button taps, quick replies, reactions, edits, unsends, echoes, referrals),
and the logs of what the app sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, asgi

from sandbox import create_sandbox_app
from tests.sandbox import harness
from tests.sandbox.harness import Receiver, Sandbox, World, build_world, error_of, text_body
from tests.servers import LiveServer, free_port, wait_until

# The harness's fixtures, made available to this module.
receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world


def last_item(receiver: Receiver, count: int) -> dict[str, Any]:
    return receiver.wait_for(count)[count - 1].json()["entry"][0]["messaging"][0]


def postback_of(receiver: Receiver, count: int) -> dict[str, Any]:
    """The postback among the first `count` deliveries: the send's echo and the tap are delivered
    concurrently (as Meta does, no order between them), so the postback need not come last."""
    items = [r.json()["entry"][0]["messaging"][0] for r in receiver.wait_for(count)]
    return next(item for item in items if "postback" in item)


def button_message(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "button", "text": "Choose", "buttons": list(buttons)},
        }
    }


def test_config_round_trip_and_validation(sandbox: Sandbox) -> None:
    changed = sandbox.control(
        "config",
        latency_ms=5,
        error_rate=0.25,
        error_kinds=["server"],
        rate_limit_per_second=10,
        auto_receipts=True,
        seed=9,
    )
    assert (changed["latency_ms"], changed["error_rate"], changed["error_kinds"]) == (5, 0.25, ["server"])
    assert sandbox.read("config") == changed
    assert sandbox.control("config", rate_limit_per_second=None)["rate_limit_per_second"] is None
    assert sandbox.control_raw("config", error_rate=2).status_code == 400
    assert sandbox.control_raw("config", error_kinds=["meteor"]).status_code == 400
    assert sandbox.control_raw("config", latency=5).status_code == 400  # unknown key


def test_reset_forgets_the_world_and_restores_the_config(sandbox: Sandbox, world: World) -> None:
    sandbox.control("config", latency_ms=7)
    sandbox.control("reset")
    assert sandbox.read("config")["latency_ms"] == 0
    assert error_of(sandbox.graph("GET", world.page_id, world.token))["code"] == 190
    assert sandbox.read("state")["accounts"] == []


def test_ids_are_distinct_per_kind_and_shaped_like_metas(sandbox: Sandbox, world: World) -> None:
    ids = [world.page_id, world.ig_id, world.psid, world.igsid, world.media_id]
    assert len(set(ids)) == len(ids) and all(i.isdigit() for i in ids)
    page_part, post_part = world.post_id.split("_")
    assert page_part == world.page_id and post_part.isdigit()
    media = sandbox.read("state")["posts"][1]
    assert media["permalink_url"].startswith("https://www.instagram.com/p/")
    same_person = sandbox.control("customers", account_id=world.ig_id, name="Jane Doe")["user_id"]
    assert same_person != world.psid
    custom = sandbox.control("pages", name="Fixed", page_id="555000111", page_token="EAAfixed")
    assert (custom["page_id"], custom["page_token"], custom["instagram_id"]) == (
        "555000111",
        "EAAfixed",
        None,
    )
    assert sandbox.control("pages", name="Again", page_id="555000111") == custom  # idempotent
    assert sandbox.control_raw("pages", name="Clash", page_id=world.psid).status_code == 409


def test_generated_ids_skip_ids_chosen_by_the_caller(sandbox: Sandbox) -> None:
    chosen = sandbox.control("pages", name="Demo Shop", page_id="100000000000001")  # the first generated id
    generated = sandbox.control("pages", name="Generated")
    assert generated["page_id"] != chosen["page_id"] and generated["page_token"] != chosen["page_token"]


def test_unknown_ids_are_404(sandbox: Sandbox, world: World) -> None:
    assert sandbox.control_raw("customers", account_id="nope", name="X").status_code == 404
    assert (
        sandbox.control_raw("dm", account_id=world.page_id, user_id=world.igsid, text="x").status_code == 404
    )
    missing = sandbox.control_raw(
        "comment", account_id=world.page_id, post_id=world.media_id, user_id=world.psid, text="x"
    )
    assert missing.status_code == 404 and "error" in missing.json()


def test_postback_from_a_sent_button(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="hi")
    message = button_message(
        {"type": "web_url", "title": "Shop", "url": "https://shop.example.com"},
        {"type": "postback", "title": "Talk to us", "payload": "HUMAN"},
    )
    sent = sandbox.send(
        world.token, world.page_id, {"recipient": {"id": world.psid}, "message": message}
    ).json()
    tapped = sandbox.control(
        "postback", account_id=world.page_id, user_id=world.psid, mid=sent["message_id"], button_index=1
    )
    item = postback_of(receiver, 3)
    assert item["postback"] == {"mid": tapped["mid"], "title": "Talk to us", "payload": "HUMAN"}
    assert item["sender"] == {"id": world.psid}
    web = sandbox.control_raw(
        "postback", account_id=world.page_id, user_id=world.psid, mid=sent["message_id"], button_index=0
    )
    assert web.status_code == 400 and "web_url" in web.json()["error"]
    beyond = sandbox.control_raw(
        "postback", account_id=world.page_id, user_id=world.psid, mid=sent["message_id"], button_index=2
    )
    assert beyond.status_code == 400


def test_postback_from_a_button_of_a_card(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    """A generic template's button is named by card and button (0-based), as the person sees it."""
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="hi")
    cards = [{"title": "Red", "buttons": [{"type": "postback", "title": "Buy red", "payload": "RED"}]},
             {"title": "Blue", "buttons": [{"type": "web_url", "title": "See", "url": "https://shop.example.com"},
                                           {"type": "postback", "title": "Buy blue", "payload": "BLUE"}]}]
    message = {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": cards}}}
    sent = sandbox.send(world.token, world.page_id, {"recipient": {"id": world.psid}, "message": message})
    mid = sent.json()["message_id"]
    tap = {"account_id": world.page_id, "user_id": world.psid, "mid": mid}
    tapped = sandbox.control("postback", **tap, card_index=1, button_index=1)
    assert postback_of(receiver, 3)["postback"] == {"mid": tapped["mid"], "title": "Buy blue", "payload": "BLUE"}
    for card, button, said in ((1, 0, "web_url"), (0, 1, "no button 1 in card 0"), (2, 0, "no card 2")):
        refused = sandbox.control_raw("postback", **tap, card_index=card, button_index=button)
        assert refused.status_code == 400 and said in refused.json()["error"], refused.text


def test_postback_from_a_private_reply_button_opens_the_window(sandbox: Sandbox, world: World) -> None:
    comment_id = sandbox.control(
        "comment", account_id=world.page_id, post_id=world.post_id, user_id=world.psid, text="info?"
    )["comment_id"]
    message = button_message({"type": "postback", "title": "Yes please", "payload": "CAMPAIGN_YES"})
    sent = sandbox.send(
        world.token, world.page_id, {"recipient": {"comment_id": comment_id}, "message": message}
    )
    assert sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).status_code == 400
    sandbox.control(
        "postback",
        account_id=world.page_id,
        user_id=world.psid,
        mid=sent.json()["message_id"],
        button_index=0,
    )
    assert sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).status_code == 200


def test_get_started_postback_and_quick_reply_titles(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    sandbox.control(
        "postback", account_id=world.page_id, user_id=world.psid, payload="GET_STARTED", ref="ad-7"
    )
    first = last_item(receiver, 1)["postback"]
    assert (first["payload"], first["title"], first["referral"]["ref"]) == (
        "GET_STARTED",
        "Get Started",
        "ad-7",
    )
    quick = {
        "text": "Size?",
        "quick_replies": [{"content_type": "text", "title": "Large", "payload": "SIZE_L"}],
    }
    sandbox.send(world.token, world.page_id, {"recipient": {"id": world.psid}, "message": quick})
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, quick_reply_payload="SIZE_L")
    message = receiver.wait_item("message", lambda item: "quick_reply" in item["message"])["message"]
    assert (message["text"], message["quick_reply"]) == ("Large", {"payload": "SIZE_L"})


def test_reaction_edit_unsend_read_delivery_referral_shapes(
    sandbox: Sandbox, world: World, receiver: Receiver
) -> None:
    mid = sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="draft")["mid"]
    sent = sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).json()
    sandbox.control(
        "react", account_id=world.page_id, user_id=world.psid, mid=sent["message_id"], reaction="like"
    )
    sandbox.control(
        "react", account_id=world.page_id, user_id=world.psid, mid=sent["message_id"], action="unreact"
    )
    sandbox.control("message/edit", mid=mid, text="final")
    sandbox.control("message/unsend", mid=mid)
    sandbox.control("read", account_id=world.page_id, user_id=world.psid, timestamp_ms=1_800_000_000_000)
    sandbox.control("delivery", account_id=world.page_id, user_id=world.psid)
    sandbox.control(
        "referral", account_id=world.page_id, user_id=world.psid, ref="summer", source="ADS", ad_id="6045"
    )
    sandbox.control("dm", account_id=world.page_id, user_id=world.psid, text="From the ad", ad_id="6046")
    receiver.wait_for(10)
    # The echo of the send goes out after its answer: leave it out of the ordered control facts.
    items = [item for item in receiver.items() if not item.get("message", {}).get("is_echo")][1:]
    assert items[0]["reaction"] == {
        "mid": sent["message_id"],
        "action": "react",
        "reaction": "like",
        "emoji": "\U0001f44d",
    }
    assert items[1]["reaction"] == {"mid": sent["message_id"], "action": "unreact"}
    assert items[2]["message_edit"] == {"mid": mid, "text": "final", "num_edit": 1}
    assert items[3]["message"] == {"mid": mid, "is_deleted": True}
    assert items[4]["read"] == {"watermark": 1_800_000_000_000}
    assert items[5]["delivery"]["mids"] == [sent["message_id"]] and "timestamp" not in items[5]
    assert items[6]["referral"] == {"source": "ADS", "type": "OPEN_THREAD", "ref": "summer", "ad_id": "6045"}
    assert items[7]["message"]["referral"] == {"source": "ADS", "type": "OPEN_THREAD", "ad_id": "6046"}
    assert sandbox.control_raw("delivery", account_id=world.ig_id, user_id=world.igsid).status_code == 400


def test_echo_from_business_suite_is_not_our_send(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    echo = sandbox.control(
        "echo", account_id=world.page_id, user_id=world.psid, text="Answered from the phone"
    )
    item = last_item(receiver, 1)
    assert item["sender"] == {"id": world.page_id} and item["recipient"] == {"id": world.psid}
    assert item["message"]["is_echo"] is True and item["message"]["mid"] == echo["mid"]
    assert str(item["message"]["app_id"]) != sandbox.read("config")["app_id"]
    assert sandbox.read("sent")["sent"] == []
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}))
    assert error_of(response)["error_subcode"] == 2018278  # an echo opens no window


def test_sent_and_attempts_logs_filter_and_keep_order(sandbox: Sandbox, world: World) -> None:
    other = sandbox.control("customers", account_id=world.page_id, name="Other")["user_id"]
    for person in (world.psid, other):
        sandbox.control("dm", account_id=world.page_id, user_id=person, text="hi")
        sandbox.send(world.token, world.page_id, text_body({"id": person}, f"to {person}"))
    sandbox.send(world.token, world.page_id, text_body({"id": "42"}))
    sent = sandbox.read("sent", account_id=world.page_id)["sent"]
    assert [s["recipient_id"] for s in sent] == [world.psid, other]
    assert sent[0]["seq"] < sent[1]["seq"]
    assert [s["body"]["message"]["text"] for s in sandbox.read("sent", recipient_id=other)["sent"]] == [
        f"to {other}"
    ]
    attempts = sandbox.read("attempts")["attempts"]
    assert [a["status"] for a in attempts] == [200, 200, 400]
    assert attempts[2]["response"]["error"]["error_subcode"] == 2018001


def test_state_shows_the_world(sandbox: Sandbox, world: World) -> None:
    state = sandbox.read("state")
    accounts = {a["id"]: a for a in state["accounts"]}
    assert accounts[world.page_id]["linked_id"] == world.ig_id
    assert accounts[world.ig_id]["page_token"] == world.token
    assert {c["id"] for c in state["customers"]} == {world.psid, world.igsid}


def test_path_prefix_serves_everything_under_it(receiver: Receiver) -> None:
    server = LiveServer(create_sandbox_app("prefixed-secret", receiver.url, path_prefix="/sandbox")).start()
    try:
        client = Sandbox(f"{server.url}/sandbox")
        built = build_world(client)
        for index in range(3):
            client.control("posts", account_id=built.page_id, message=f"p{index}")
        first = client.graph("GET", f"{built.page_id}/published_posts", built.token, limit=2).json()
        assert first["paging"]["next"].startswith(f"{server.url}/sandbox/graph/v21.0/")
        assert len(httpx.get(first["paging"]["next"]).json()["data"]) == 2
        assert httpx.get(f"{server.url}/control/config").status_code == 404
    finally:
        server.stop()


def test_mounted_inside_another_litestar_app(receiver: Receiver) -> None:
    """Embedded mode: socialdesk's API mounts the sandbox at /sandbox (prefix stripped by the mount)."""
    mounted = asgi("/sandbox", is_mount=True, copy_scope=True)(
        create_sandbox_app("mounted-secret", receiver.url)
    )
    server = LiveServer(Litestar(route_handlers=[mounted])).start()
    try:
        client = Sandbox(f"{server.url}/sandbox")
        built = build_world(client)
        client.control("dm", account_id=built.page_id, user_id=built.psid, text="hello")
        assert receiver.wait_for(1)[0].json()["entry"][0]["id"] == built.page_id
        for index in range(3):
            client.control("posts", account_id=built.page_id, message=f"p{index}")
        first = client.graph("GET", f"{built.page_id}/published_posts", built.token, limit=2).json()
        assert first["paging"]["next"].startswith(f"{server.url}/sandbox/graph/v21.0/")
        assert len(httpx.get(first["paging"]["next"]).json()["data"]) == 2
    finally:
        server.stop()


def test_standalone_module_runs_with_uvicorn(receiver: Receiver) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        str(port),
        "--app-secret",
        "cli-secret",
        "--webhook-url",
        receiver.url,
    ]
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(command, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def config() -> dict[str, Any] | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/control/config").json()
            except httpx.HTTPError:
                return None

        answer = wait_until(config, 20, what="python -m sandbox")
        assert (answer["app_secret"], answer["webhook_url"]) == ("cli-secret", receiver.url)
    finally:
        process.terminate()
        process.wait(timeout=10)
