"""Issue 17 §6: the sandbox runs only by explicit choice, never in front of Meta's Graph API, and
its control API (the app secret, page tokens, where signed webhooks go) answers local requests
only. Real processes for the commands, real sockets for the API."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.local import is_local
from bot.core.errors import ConfigError
from bot.platform.settings import META_GRAPH_URL, Settings, load_settings
from tests.servers import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 40
PROXIED = {"X-Forwarded-For": "203.0.113.7"}


def _cli(args: list[str], cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "META_",
                                                                     "SOCIALDESK_SANDBOX"))}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env={**base, "PYTHONPATH": str(ROOT),
                          **env}, capture_output=True, text=True, timeout=120, input=stdin)


def test_no_app_secret_refuses_unless_sandbox_is_asked_for(tmp_path: Path) -> None:
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY}
    with pytest.raises(ConfigError) as error:
        load_settings(base)
    assert error.value.variable == "META_APP_SECRET" and "SOCIALDESK_SANDBOX" in str(error.value)
    assert load_settings({**base, "SOCIALDESK_SANDBOX": "1"}).sandbox
    assert not load_settings({**base, "META_APP_SECRET": "s", "SOCIALDESK_SANDBOX": "0"}).sandbox


def test_sandbox_never_stands_in_for_meta(tmp_path: Path) -> None:
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY, "SOCIALDESK_SANDBOX": "1"}
    for url in (META_GRAPH_URL, "https://graph.facebook.com/", "https://GRAPH.facebook.com"):
        with pytest.raises(ConfigError) as error:
            load_settings({**base, "GRAPH_API_URL": url})
        assert error.value.variable == "SOCIALDESK_SANDBOX"


@pytest.mark.parametrize("command", [["api"], ["worker"], ["dashboard"],
                                     ["channel", "connect", "--page-id", "1", "--name", "x"]])
def test_every_serving_command_refuses_without_a_meta_app(command: list[str], tmp_path: Path) -> None:
    result = _cli(command, tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 2, result.stderr
    assert "META_APP_SECRET" in result.stderr and "SOCIALDESK_SANDBOX=1" in result.stderr
    assert not (tmp_path / "socialdesk.db").exists()  # refused before touching anything


def test_offline_commands_need_no_meta_app(tmp_path: Path) -> None:
    """`migrate` and `user add` only touch the database: the first admin can be made before the app."""
    assert _cli(["migrate"], tmp_path).returncode == 0
    added = _cli(["user", "add", "a@example.com", "--role", "admin"], tmp_path, stdin="a good password\n")
    assert added.returncode == 0, added.stderr


def _serve(settings: Settings) -> Iterator[LiveServer]:
    from api.app import create_app
    from bot.platform import runtime

    runtime.boot(settings, migrate=True)
    server = LiveServer(create_app(settings), port=settings.api_port).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandboxed(tmp_path: Path) -> Iterator[tuple[Settings, LiveServer]]:
    port = free_port()
    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY,
                              "SOCIALDESK_SANDBOX": "1", "SOCIALDESK_API_PORT": str(port)})
    for server in _serve(settings):
        yield settings, server


def test_control_api_answers_local_requests_only(sandboxed: tuple[Settings, LiveServer]) -> None:
    settings, server = sandboxed
    base = f"{server.url}/sandbox"
    local = httpx.get(f"{base}/control/config")
    assert local.status_code == 200 and local.json()["app_secret"] == settings.meta_app_secret
    page = httpx.post(f"{base}/control/pages", json={"name": "Shop"}).json()
    for method, path, body in [("GET", "/control/config", None), ("GET", "/control/state", None),
                               ("POST", "/control/config", {"webhook_url": "http://evil.example/hook"}),
                               ("POST", "/control/customers", {"account_id": page["page_id"], "name": "x"})]:
        answer = httpx.request(method, f"{base}{path}", json=body, headers=PROXIED)
        assert answer.status_code == 403, (path, answer.text)
        assert settings.meta_app_secret not in answer.text and page["page_token"] not in answer.text
    assert httpx.get(f"{base}/control/config").json()["webhook_url"].endswith("/webhooks/meta")  # not redirected
    graph = httpx.get(f"{base}/graph/v21.0/me", params={"access_token": page["page_token"]}, headers=PROXIED)
    assert graph.status_code == 200  # the emulated Graph API stays reachable, token-protected like Meta's


def test_is_local_means_loopback_and_unproxied() -> None:
    def scope(host: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict:
        return {"type": "http", "client": (host, 5000), "headers": headers or []}

    assert is_local(scope("127.0.0.1")) and is_local(scope("::1"))
    assert not is_local(scope("10.0.0.5")) and not is_local(scope("203.0.113.7"))
    assert not is_local(scope("testclient")) and not is_local({"type": "http", "headers": []})
    assert not is_local(scope("127.0.0.1", [(b"x-forwarded-for", b"203.0.113.7")]))
    assert not is_local(scope("127.0.0.1", [(b"Forwarded", b"for=203.0.113.7")]))


def test_never_mounted_in_front_of_meta(tmp_path: Path) -> None:
    """Even a Settings object that says sandbox (built by hand, past load_settings' check) gets no
    sandbox when its Graph API is Meta's."""
    port = free_port()
    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY,
                              "SOCIALDESK_SANDBOX": "1", "SOCIALDESK_API_PORT": str(port)})
    for server in _serve(dataclasses.replace(settings, graph_api_url=META_GRAPH_URL)):
        assert httpx.get(f"{server.url}/sandbox/control/config").status_code == 404
        assert httpx.get(f"{server.url}/health").status_code in (200, 503)  # the API itself is up
