"""`/api/v1/users`: admins list, create and deactivate staff users."""

from __future__ import annotations

from bot.platform.db import connection
from bot.staff import auth
from tests.api.conftest import Api, error_of


def test_list_users(api: Api) -> None:
    users = api.ok("GET", "/users")
    assert [(u["email"], u["role"], u["is_active"]) for u in users] == [
        ("admin@example.com", "admin", True), ("agent@example.com", "agent", True)]
    assert "password_hash" not in users[0]


def test_create_user_who_can_then_log_in(api: Api) -> None:
    created = api.ok("POST", "/users", 201, json={"email": " Sam@Example.com ", "password": "long enough pw",
                                                 "role": "admin", "name": "Sam"})
    assert created["email"] == "sam@example.com" and created["role"] == "admin" and created["name"] == "Sam"
    assert created["is_active"] is True and created["id"] > 0
    with connection():
        assert auth.authenticate("sam@example.com", "long enough pw").id == created["id"]
    agent = api.ok("POST", "/users", 201, json={"email": "kim@example.com", "password": "long enough pw"})
    assert agent["role"] == "agent" and agent["name"] == "kim"


def test_create_user_validation_names_the_field(api: Api) -> None:
    cases = [
        ({"email": "not-an-email", "password": "long enough pw"}, "email"),
        ({"email": "agent@example.com", "password": "long enough pw"}, "email"),  # taken
        ({"email": "new@example.com", "password": "short"}, "password"),
        ({"email": "new@example.com", "password": "long enough pw", "role": "owner"}, "role"),
        ({"password": "long enough pw"}, "email"),
        ({"email": "new@example.com"}, "password"),
        ({"email": "new@example.com", "password": 12345678}, "password"),
        ({"email": "x" * 300 + "@example.com", "password": "long enough pw"}, "email"),
    ]
    for body, field in cases:
        response = api.post("/users", json=body)
        assert response.status_code == 422, (body, response.text)
        error = error_of(response)
        assert (error["code"], error["field"]) == ("invalid", field), (body, error)
        assert error["message"]
    assert len(api.ok("GET", "/users")) == 2


def test_malformed_json_is_400(api: Api) -> None:
    response = api.call("POST", "/users", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_deactivate_user(api: Api) -> None:
    agent_id = api.user_ids["agent"]
    with connection():
        session = auth.start_session(auth.authenticate("agent@example.com", "correct horse battery"))
    user = api.ok("POST", f"/users/{agent_id}/deactivate")
    assert user["id"] == agent_id and user["is_active"] is False
    assert api.get("/conversations", as_="agent").status_code == 401
    with connection():
        assert auth.session_user(session) is None
        assert auth.authenticate("agent@example.com", "correct horse battery") is None


def test_deactivate_errors(api: Api) -> None:
    me = api.post(f"/users/{api.user_ids['admin']}/deactivate")
    assert me.status_code == 409 and error_of(me)["code"] == "refused"
    missing = api.post("/users/9999/deactivate")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    bad = api.post("/users/0/deactivate")
    assert bad.status_code == 422 and error_of(bad)["field"] == "user_id"
    assert api.get("/users").status_code == 200  # the admin is still active
