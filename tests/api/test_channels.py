"""`/api/v1/channels`: list, connect a page (and its Instagram account) through the sandbox Graph
API, settings toggles, health."""

from __future__ import annotations

from bot.channels import PAGE_FIELDS
from bot.db import connection
from bot.models import Channel
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


def test_health(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    health = api.ok("GET", f"/channels/{channel_id}/health", as_="agent")
    assert (health["channel_id"], health["status"], health["is_active"]) == (channel_id, "healthy", True)
    api.dm()
    assert api.ok("GET", f"/channels/{channel_id}/health")["last_webhook_at"] is not None
    assert api.get("/channels/999/health").status_code == 404
