"""Strict REST: a field the API does not know is a 422 naming it, on every body and at any
depth, never silently dropped (`"active": true` once gave 201 with `is_active: false`)."""

from __future__ import annotations

from typing import Any

from bot.platform.db import connection
from bot.platform.models import Campaign
from tests.api.conftest import Api, error_of

CAMPAIGN = {"name": "Prices", "channel_id": 1, "actions": [{"kind": "add_tag", "tag": "x"}]}
FLOW = {"name": "hello", "start": "start", "states": {"start": {}}}

# (method, path, body with one unknown field, the field the error must name)
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/campaigns", {**CAMPAIGN, "active": True}, "active"),
    ("POST", "/campaigns", {**CAMPAIGN, "trigger": {"all_posts": True, "keyword": "price"}}, "trigger.keyword"),
    ("POST", "/campaigns", {**CAMPAIGN, "actions": [{"kind": "add_tag", "tag": "x", "delay": 5}]}, "actions[0].delay"),
    ("POST", "/campaigns", {**CAMPAIGN, "actions": [{"kind": "send_message", "message": {
        "text": "hi", "buttons": [{"title": "Go", "url": "https://a.example", "colour": "red"}]}}]},
     "actions[0].message.buttons[0].colour"),
    ("POST", "/campaigns/dry-run", {**CAMPAIGN, "days": 3}, "days"),
    ("PUT", "/campaigns/1", {**CAMPAIGN, "is_enabled": True}, "is_enabled"),
    ("POST", "/channels", {"page_id": "1", "name": "x", "token": "t", "receive_comments": False}, "receive_comments"),
    ("POST", "/channels/instagram-login", {"token": "t", "page_id": "1"}, "page_id"),
    ("PATCH", "/channels/1/settings", {"emails": True, "email": True}, "email"),
    ("PUT", "/channels/1/handover", {"pause_seconds": 60, "pause_minutes": 1}, "pause_minutes"),
    ("POST", "/channels/1/backfill", {"since": 0, "from": 0}, "from"),
    ("POST", "/conversations/1/messages", {"message": {"text": "hi", "html": "<b>"}}, "message.html"),
    ("POST", "/conversations/1/messages", {"message": {"text": "hi"}, "private": True}, "private"),
    ("POST", "/conversations/1/messages", {"message": {"attachments": [
        {"type": "image", "url": "https://a.example/a.png", "caption": "x"}]}}, "message.attachments[0].caption"),
    ("POST", "/conversations/1/assign", {"assignee": None, "notify": True}, "notify"),
    ("POST", "/conversations/1/bot/pause", {"minutes": 5, "seconds": 1}, "seconds"),
    ("POST", "/conversations/1/tags", {"tag": "x", "color": "red"}, "color"),
    ("POST", "/contacts/1/tags", {"tag": "x", "colour": "red"}, "colour"),
    ("POST", "/users", {"email": "a@b.example", "password": "long enough", "admin": True}, "admin"),
    ("POST", "/webhooks", {"url": "https://a.example", "events": ["message.received"], "secret": "s"}, "secret"),
    ("PATCH", "/webhooks/1", {"active": False}, "active"),
    ("POST", "/flows", {**FLOW, "enabled": True}, "enabled"),
    ("PUT", "/flows/1", {**FLOW, "enabled": True}, "enabled"),
    ("POST", "/flows/import", {"document": "name: x", "format": "yaml", "replace": True}, "replace"),
    ("POST", "/tokens", {"name": "CRM", "expires": 30}, "expires"),
]


def test_every_body_refuses_an_unknown_field_naming_it(api: Api) -> None:
    for method, path, body, field in CASES:
        response = api.call(method, path, json=body)
        assert response.status_code == 422, (method, path, response.text)
        error = error_of(response)
        assert (error["field"], error["message"]) == (field, "is not a known field"), (method, path, error)
    with connection():
        assert Campaign.select().count() == 0  # nothing half-stored


def test_the_known_fields_still_work(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    created = api.ok("POST", "/campaigns", 201, json={**CAMPAIGN, "channel_id": channel_id, "is_active": True})
    assert created["is_active"] is True
