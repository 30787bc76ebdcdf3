# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments
"""API tokens: listed (never shown again), revoked one by one, with an optional expiry and the
time of last use; through REST, the CLI and the dashboard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bot.platform.db import connection
from bot.platform.models import ApiToken
from bot.staff import auth
from tests.api.conftest import Api, api, error_of  # noqa: F401 - the `api` fixture
from tests.dashboard.conftest import admin_app, agent_app, desk, texts  # noqa: F401 - fixtures


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_list_use_and_revoke_over_rest(api: Api) -> None:
    created = api.ok("POST", "/tokens", 201, json={"name": "CRM", "expires_in_days": 30})
    token, details = created["token"], created["details"]
    assert token.startswith("sd_") and details["name"] == "CRM" and details["status"] == "active"
    assert details["expires_at"] - details["created_at"] == 30 * 86400 * 1000
    assert details["last_used_at"] is None
    assert api.call("GET", "/contacts", as_=None, headers=bearer(token)).status_code == 200
    listed = {t["id"]: t for t in api.ok("GET", "/tokens")}
    assert listed[details["id"]]["last_used_at"] is not None
    assert all(token not in str(t) for t in listed.values())  # never shown again
    assert api.ok("DELETE", f"/tokens/{details['id']}")["status"] == "revoked"
    refused = api.call("GET", "/contacts", as_=None, headers=bearer(token))
    assert refused.status_code == 401 and "revoked" in error_of(refused)["message"]
    assert api.get("/contacts").status_code == 200  # the admin's other token still works
    assert {t["id"]: t["status"] for t in api.ok("GET", "/tokens")}[details["id"]] == "revoked"


def test_an_expired_token_stops_working(api: Api) -> None:
    created = api.ok("POST", "/tokens", 201, json={"name": "short", "expires_in_days": 1})
    assert api.call("GET", "/contacts", as_=None, headers=bearer(created["token"])).status_code == 200
    with connection():
        ApiToken.update(expires_at=1).where(ApiToken.id == created["details"]["id"]).execute()
    assert api.call("GET", "/contacts", as_=None, headers=bearer(created["token"])).status_code == 401
    assert {t["id"]: t["status"] for t in api.ok("GET", "/tokens")}[created["details"]["id"]] == "expired"
    for days in (0, 3651, "soon"):
        bad = api.post("/tokens", json={"expires_in_days": days})
        assert bad.status_code == 422 and error_of(bad)["field"] == "expires_in_days"


def test_agents_see_and_revoke_only_their_own(api: Api) -> None:
    agent_id, admin_id = api.user_ids["agent"], api.user_ids["admin"]
    own = api.ok("GET", "/tokens", as_="agent", params={"user_id": admin_id})  # user_id is ignored for them
    assert {t["user_id"] for t in own} == {agent_id}
    admin_token_id = api.ok("GET", "/tokens", params={"user_id": admin_id})[0]["id"]
    assert api.call("DELETE", f"/tokens/{admin_token_id}", as_="agent").status_code == 404
    assert api.call("POST", "/tokens", as_="agent", json={"user_id": admin_id}).status_code == 403
    second = api.ok("POST", "/tokens", 201, as_="agent", json={"name": "mine"})
    assert second["details"]["user_id"] == agent_id
    assert api.ok("DELETE", f"/tokens/{second['details']['id']}", as_="agent")["status"] == "revoked"
    for_agent = api.ok("POST", "/tokens", 201, json={"user_id": agent_id, "name": "by admin"})
    assert for_agent["details"]["email"] == "agent@example.com"
    assert api.call("DELETE", "/tokens/99999").status_code == 404


def test_the_cli_lists_and_revokes(tmp_path: Path) -> None:
    """Runs once: the CLI works on its own SQLite file (`_cli`), whatever database the suite tests."""
    run = _cli(tmp_path)
    assert run("migrate").returncode == 0
    assert run("user", "add", "boss@example.com", "--role", "admin", stdin="a good password\n").returncode == 0
    token = run("token", "create", "--user", "boss@example.com", "--name", "zapier", "--expires-in-days", "7")
    assert token.returncode == 0
    listed = run("token", "list")
    assert listed.returncode == 0 and token.stdout.strip() not in listed.stdout
    line = next(row for row in listed.stdout.splitlines() if "zapier" in row)
    token_id = line.split()[0]
    assert " active " in line and "boss@example.com" in line
    revoked = run("token", "revoke", token_id)
    assert revoked.returncode == 0 and f"revoked token {token_id}" in revoked.stdout
    assert " revoked " in next(row for row in run("token", "list").stdout.splitlines() if "zapier" in row)
    assert run("token", "revoke", "999").returncode == 1
    assert run("token", "create", "--user", "boss@example.com", "--expires-in-days", "0").returncode == 1


def test_the_dashboard_lists_creates_and_revokes(desk, agent_app: AppTest) -> None:  # noqa: F811, ANN001
    agent_app.switch_page("app_pages/tokens.py").run()
    assert "No API tokens yet." in texts(agent_app)
    agent_app.text_input(key="new_token_name").input("my script")
    agent_app.number_input(key="new_token_days").set_value(10)
    agent_app.button(key="new_token_create").click().run()
    assert not agent_app.exception, agent_app.exception
    assert agent_app.code, (texts(agent_app), [b.label for b in agent_app.button])
    shown = agent_app.code[0].value
    row = ApiToken.get(ApiToken.name == "my script")
    assert auth.token_user(shown).email == "agent@example.com" and row.expires_at is not None
    assert "my script" in "\n".join(str(t.value) for t in agent_app.text)
    agent_app.button(key=f"revoke_token_{row.id}").click().run()
    assert auth.token_user(shown) is None
    assert "Revoked token" in texts(agent_app)


def _cli(cwd: Path):  # noqa: ANN202 - a small runner
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "META_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    return run
