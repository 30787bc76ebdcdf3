"""`/api/v1/channels`: list, connect a page (and its Instagram account) through the sandbox Graph
API, settings toggles, handover settings, health."""

from __future__ import annotations

from bot.platform.db import connection, now_ms
from bot.platform.models import Channel, Message
from bot.platform.registry import PAGE_FIELDS
from tests.api.conftest import Api, error_of


def test_list_and_get_channels(api: Api) -> None:
    listed = api.ok("GET", "/channels", as_="agent")
    assert [(c["platform"], c["account_id"]) for c in listed] == [
        ("facebook", api.stack.page["page_id"]), ("instagram", api.stack.page["instagram_id"])]
    assert all("token" not in key for c in listed for key in c)
    one = api.ok("GET", f"/channels/{listed[1]['id']}")
    assert one == listed[1] and one["username"] == "acme.shoes"
    assert one["page_id"] == api.stack.page["page_id"]
    missing = api.get("/channels/999")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_connect_a_page_and_its_instagram_account(api: Api) -> None:
    page = api.stack.control("pages", name="Boots Outlet", instagram={"username": "boots.outlet"})
    connected = api.ok("POST", "/channels", 201, json={
        "page_id": page["page_id"], "name": "Boots Outlet", "token": page["page_token"],
        "instagram_id": page["instagram_id"], "instagram_username": "boots.outlet",
        "instagram_followers": 42})
    assert [(c["platform"], c["account_id"], c["health_status"]) for c in connected] == [
        ("facebook", page["page_id"], "healthy"), ("instagram", page["instagram_id"], "healthy")]
    assert connected[1]["followers_count"] == 42 and connected[1]["username"] == "boots.outlet"
    accounts = {a["id"]: a for a in api.stack.sandbox_get("state")["accounts"]}
    assert set(PAGE_FIELDS) <= set(accounts[page["page_id"]]["subscribed_fields"])
    assert len(api.ok("GET", "/channels")) == 4


def test_connect_with_a_token_meta_refuses_is_422_with_metas_reason(api: Api) -> None:
    page = api.stack.control("pages", name="Boots Outlet")
    response = api.post("/channels", json={"page_id": page["page_id"], "name": "Boots", "token": "EAA-wrong"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "graph_error" and "190" in error["message"]


def test_connect_stores_nothing_when_meta_refuses_the_token(api: Api) -> None:
    page = api.stack.control("pages", name="Boots Outlet")
    with connection():
        before = Channel.select().count()
    refused = api.post("/channels", json={"page_id": page["page_id"], "name": "B", "token": "EAA-wrong"})
    assert refused.status_code == 422
    with connection():
        assert Channel.select().count() == before
        assert not Channel.select().where(Channel.account_id == page["page_id"]).exists()


def test_connect_with_another_pages_token_is_refused_and_stores_nothing(api: Api) -> None:
    mine = api.stack.control("pages", name="Boots Outlet")
    other = api.stack.control("pages", name="Someone Else")
    response = api.post("/channels", json={"page_id": mine["page_id"], "name": "Boots", "token": other["page_token"]})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "token" and other["page_id"] in error["message"]
    with connection():
        assert not Channel.select().where(Channel.account_id.in_([mine["page_id"], other["page_id"]])).exists()


def test_connect_validation_names_the_field(api: Api) -> None:
    cases = [
        ({"name": "x", "token": "t"}, "page_id"),
        ({"page_id": "", "name": "x", "token": "t"}, "page_id"),
        ({"page_id": "1", "name": "x"}, "token"),
        ({"page_id": "1", "name": "x" * 300, "token": "t"}, "name"),
        ({"page_id": "1", "name": "x", "token": "t", "instagram_followers": -1}, "instagram_followers"),
        ({"page_id": "1\u0000", "name": "x", "token": "t"}, "page_id"),
    ]
    for body, field in cases:
        response = api.post("/channels", json=body)
        assert response.status_code == 422, (body, response.text)
        assert error_of(response)["field"] == field, body
    with connection():
        assert Channel.select().count() == 2


def test_settings_toggles(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    changed = api.ok("PATCH", f"/channels/{channel_id}/settings",
                     json={"receive_comments": False, "emails": True, "fallback_message": "We answer soon."})
    assert (changed["receive_comments"], changed["emails"]) == (False, True)
    assert changed["receive_messages"] is True
    assert changed["fallback_message"] == "We answer soon."
    with connection():
        assert Channel.get_by_id(channel_id).receive_comments is False
    cleared = api.ok("PATCH", f"/channels/{channel_id}/settings", json={"fallback_message": ""})
    assert cleared["fallback_message"] is None and cleared["emails"] is True
    assert api.ok("PATCH", f"/channels/{channel_id}/settings", json={}) == cleared


def test_settings_errors(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    bad = api.call("PATCH", f"/channels/{channel_id}/settings", json={"human_agent": "yes"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "human_agent"
    missing = api.call("PATCH", "/channels/999/settings", json={"emails": True})
    assert missing.status_code == 404
    agent = api.call("PATCH", f"/channels/{channel_id}/settings", as_="agent", json={"emails": True})
    assert agent.status_code == 403


HANDOVER = {"handover_payloads": ["TALK_TO_US"], "handover_keywords": ["real person", "Mensch!"],
            "handover_message": "Hi {{ first_name or 'there' }}, a colleague will answer you shortly.",
            "pause_seconds": 7200}


def test_handover_settings_are_read_by_all_and_replaced_by_admins(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    defaults = api.ok("GET", f"/channels/{channel_id}/handover", as_="agent")
    assert defaults == {"handover_payloads": ["HUMAN"], "handover_keywords": ["human", "agent", "talk to a person"],
                        "handover_message": None, "pause_seconds": 3600}
    refused = api.call("PUT", f"/channels/{channel_id}/handover", as_="agent", json=HANDOVER)
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    assert api.ok("PUT", f"/channels/{channel_id}/handover", json=HANDOVER) == HANDOVER
    assert api.ok("GET", f"/channels/{channel_id}/handover", as_="agent") == HANDOVER
    partial = api.ok("PUT", f"/channels/{channel_id}/handover", json={"handover_keywords": ["operator"]})
    assert partial == {**defaults, "handover_keywords": ["operator"]}  # PUT replaces: the rest is default again
    for method in ("GET", "PUT"):
        missing = api.call(method, "/channels/999/handover", json=HANDOVER)
        assert missing.status_code == 404 and error_of(missing)["code"] == "not_found", method


def test_handover_settings_take_effect(api: Api) -> None:
    """What the admin saved is what the bot does: the keyword pauses it for the saved time, and
    the saved message (shortcodes filled in) is sent to the customer."""
    channel_id = api.ok("GET", "/channels")[0]["id"]
    api.ok("PUT", f"/channels/{channel_id}/handover", json=HANDOVER)
    before = now_ms()
    conversation_id = api.dm("Can I talk to a REAL person, please?")
    sent = api.stack.wait(lambda: Message.get_or_none((Message.conversation == conversation_id)
                                                      & (Message.direction == "out") & (Message.status == "sent")),
                          what="the handover message sent")
    assert sent.text.endswith(", a colleague will answer you shortly.") and "{{" not in sent.text
    assert "a colleague will answer you shortly." in str(api.stack.sandbox_get("sent")["sent"])
    view = api.ok("GET", f"/conversations/{conversation_id}")
    assert view["bot_paused_reason"] == "The customer asked for a person."
    assert before + 7200_000 <= view["bot_paused_until"] <= now_ms() + 7200_000


def test_handover_settings_errors_name_the_field(api: Api) -> None:
    facebook, instagram = (c["id"] for c in api.ok("GET", "/channels"))
    cases = [
        (facebook, {"handover_keywords": ["human", "agent", "?!"]}, "handover_keywords[2]"),
        (facebook, {"handover_keywords": [" "]}, "handover_keywords[0]"),
        (facebook, {"handover_keywords": ["ok", 5]}, "handover_keywords[1]"),
        (facebook, {"handover_payloads": [""]}, "handover_payloads[0]"),
        (facebook, {"handover_message": "x" * 2001}, "handover_message"),
        (instagram, {"handover_message": "\u00e9" * 501}, "handover_message"),  # 1,002 bytes
        (facebook, {"handover_message": "Hi {{ frist_name }}"}, "handover_message"),
        (facebook, {"pause_seconds": 0}, "pause_seconds"),
        (facebook, {"pause_seconds": 31 * 86400}, "pause_seconds"),
        (facebook, {"pause_seconds": "1h"}, "pause_seconds"),
        (facebook, {"keywords": ["human"]}, "keywords"),  # a misspelt field would otherwise reset to defaults
        (facebook, {"handover_message": "a\u0000b"}, "handover_message"),
    ]
    for channel_id, body, field in cases:
        response = api.call("PUT", f"/channels/{channel_id}/handover", json=body)
        assert response.status_code == 422, (body, response.text)
        assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid", field), body
    assert api.ok("GET", f"/channels/{facebook}/handover")["handover_keywords"] == ["human", "agent",
                                                                                  "talk to a person"]
    bad_id = api.call("PUT", "/channels/abc/handover", json=HANDOVER)
    assert bad_id.status_code == 422 and error_of(bad_id)["field"] == "channel_id"


def test_health(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    health = api.ok("GET", f"/channels/{channel_id}/health", as_="agent")
    assert (health["channel_id"], health["status"], health["is_active"]) == (channel_id, "healthy", True)
    api.dm()
    assert api.ok("GET", f"/channels/{channel_id}/health")["last_webhook_at"] is not None
    assert api.get("/channels/999/health").status_code == 404
