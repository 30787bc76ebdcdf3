"""The `socialdesk` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import free_port, wait_until

SOCIALDESK = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None,
            stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(SOCIALDESK + args, cwd=cwd, env={**_base_env(), **(env or {})}, input=stdin,
                          capture_output=True, text=True, timeout=120)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "META_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("run", "api", "worker", "dashboard", "migrate", "user", "token", "sandbox", "channel"):
        assert command in result.stdout


def test_bad_configuration_is_one_line_and_nonzero(tmp_path: Path) -> None:
    result = run_cli(["migrate"], tmp_path, env={"DATABASE_URL": "mysql://nope"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL" in lines[0]


def test_users_and_tokens(tmp_path: Path) -> None:
    assert run_cli(["migrate"], tmp_path).returncode == 0
    added = run_cli(["user", "add", "boss@example.com", "--role", "admin"], tmp_path, stdin="a good password\n")
    assert added.returncode == 0 and "added admin boss@example.com" in added.stdout
    again = run_cli(["user", "add", "boss@example.com"], tmp_path, stdin="a good password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    token = run_cli(["token", "create", "--user", "boss@example.com"], tmp_path)
    assert token.returncode == 0 and token.stdout.strip().startswith("sd_")
    missing = run_cli(["token", "create", "--user", "nobody@example.com"], tmp_path)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_run_brings_everything_up_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    api_port, dashboard_port = free_port(), free_port()
    env = {**_base_env(), "SOCIALDESK_API_PORT": str(api_port), "SOCIALDESK_DASHBOARD_PORT": str(dashboard_port)}
    process = subprocess.Popen(SOCIALDESK + ["run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        health = wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/health"), 60, what="API health")
        assert health.json() == {"database": "ok", "queue": "in-process", "status": "ok"}
        wait_until(lambda: _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health"), 60, what="dashboard")
        state = wait_until(lambda: (r := _get(f"http://127.0.0.1:{api_port}/sandbox/control/state")) and
                           r.json()["accounts"], 30, what="demo page in the sandbox")
        assert {a["name"] for a in state} == {"Demo Shop"}
        assert (tmp_path / "socialdesk.db").exists() and (tmp_path / "socialdesk.db.key").exists()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode in (0, 130), output  # 130: the conventional exit after Ctrl-C
    assert f"http://127.0.0.1:{api_port}" in output and f"http://127.0.0.1:{dashboard_port}" in output
    assert "Worker has been shut down" in output
    assert _get(f"http://127.0.0.1:{api_port}/health") is None
    assert _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health") is None


def _get(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None
