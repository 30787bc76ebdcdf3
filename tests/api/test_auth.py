"""Who may call the REST API: bearer tokens (stored hashed, tied to a user and their role),
401 without one, 403 for the wrong role, always with a JSON error body."""

from __future__ import annotations

import hashlib

from bot.platform.db import connection
from bot.platform.models import ApiToken, User
from bot.staff import auth
from tests.api.conftest import Api, error_of

# (method, path, body): one route of each resource, bodies deliberately invalid so that a 401/403
# proves the guard ran before the body was even decoded.
ROUTES = [
    ("GET", "/conversations", None),
    ("GET", "/conversations/1", None),
    ("POST", "/conversations/1/messages", {"nonsense": True}),
    ("POST", "/conversations/1/close", None),
    ("GET", "/contacts", None),
    ("POST", "/contacts/1/tags", {"tag": 5}),
    ("GET", "/channels", None),
    ("PATCH", "/channels/1/settings", {"emails": "yes"}),
    ("GET", "/channels/1/handover", None),
    ("PUT", "/channels/1/handover", {"pause_seconds": "long"}),
    ("GET", "/campaigns", None),
    ("POST", "/campaigns", {"name": 1}),
    ("GET", "/users", None),
    ("POST", "/users", {}),
    ("GET", "/webhooks", None),
    ("POST", "/webhooks", {"url": None}),
]
ADMIN_ONLY = [
    ("POST", "/channels", {"page_id": "1"}),
    ("PATCH", "/channels/1/settings", {"emails": True}),
    ("PUT", "/channels/1/handover", {"pause_seconds": "long"}),
    ("GET", "/campaigns", None),
    ("POST", "/campaigns", {"name": 1}),
    ("POST", "/campaigns/dry-run", {}),
    ("GET", "/campaigns/1/stats", None),
    ("GET", "/users", None),
    ("POST", "/users", {}),
    ("POST", "/users/1/deactivate", None),
    ("GET", "/webhooks", None),
    ("POST", "/webhooks", {}),
    ("GET", "/webhooks/1/deliveries", None),
    ("GET", "/flows", None),
    ("POST", "/flows/import", {}),
    ("GET", "/sign-ins", None),
    ("GET", "/sign-ins/locks", None),
    ("POST", "/users/1/unlock", None),
]


def test_no_token_is_401_with_json_error(api: Api) -> None:
    for method, path, body in ROUTES:
        response = api.call(method, path, as_=None, json=body)
        assert response.status_code == 401, (method, path, response.text)
        assert error_of(response)["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_malformed_or_unknown_token_is_401(api: Api) -> None:
    for header in ["Bearer", "Bearer\tx", "Basic dXNlcjpwYXNz", "sd_not_a_token", "Bearer sd_unknown_token",
                   f"Token {api.tokens['admin']}"]:
        response = api.call("GET", "/conversations", as_=None, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert error_of(response)["message"]


def test_token_is_stored_hashed_and_tied_to_its_user(api: Api) -> None:
    token = api.tokens["agent"]
    assert api.get("/conversations", as_="agent").status_code == 200
    with connection():
        rows = list(ApiToken.select().where(ApiToken.user == api.user_ids["agent"]))
    assert len(rows) == 1
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in rows[0].token_hash
    assert rows[0].last_used_at is not None


def test_a_deactivated_users_token_stops_working(api: Api) -> None:
    assert api.get("/contacts", as_="agent").status_code == 200
    with connection():
        User.update(is_active=False).where(User.id == api.user_ids["agent"]).execute()
    assert api.get("/contacts", as_="agent").status_code == 401


def test_a_second_token_for_the_same_user_works_too(api: Api) -> None:
    with connection():
        second = auth.create_api_token("agent@example.com", "zapier")
    response = api.call("GET", "/contacts", as_=None, headers={"Authorization": f"bearer {second}"})
    assert response.status_code == 200


def test_agents_get_403_on_admin_routes(api: Api) -> None:
    for method, path, body in ADMIN_ONLY:
        response = api.call(method, path, as_="agent", json=body)
        assert response.status_code == 403, (method, path, response.text)
        error = error_of(response)
        assert error["code"] == "forbidden" and error["message"].startswith("Your role may not do this ("), error


def test_agents_work_the_inbox(api: Api) -> None:
    conversation_id = api.dm()
    for path in ("/conversations", f"/conversations/{conversation_id}",
                 f"/conversations/{conversation_id}/messages", "/contacts", "/channels", "/channels/1",
                 "/channels/1/health", "/channels/1/handover"):
        assert api.get(path, as_="agent").status_code == 200, path
    assert api.post(f"/conversations/{conversation_id}/close", as_="agent").status_code == 200
