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
    process = _start(["run"], tmp_path, api_port, dashboard_port, session=True)
    try:
        health = wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/health"), 60, what="API health")
        assert health.json() == {"database": "ok", "queue": "in-process", "workers": "1 consuming", "status": "ok"}
        wait_until(lambda: _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health"), 60, what="dashboard")
        state = wait_until(lambda: (r := _get(f"http://127.0.0.1:{api_port}/sandbox/control/state")) and
                           r.json()["accounts"], 30, what="demo page in the sandbox")
        assert {a["name"] for a in state} == {"Demo Shop"}
        assert (tmp_path / "socialdesk.db").exists() and (tmp_path / "socialdesk.db.key").exists()
        index = _get(f"http://127.0.0.1:{api_port}/")
        assert index.json()["dashboard"] == f"http://127.0.0.1:{dashboard_port}"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode in (0, 130), output  # 130: the conventional exit after Ctrl-C
    assert f"http://127.0.0.1:{api_port}" in output and f"http://127.0.0.1:{dashboard_port}" in output
    assert "socialdesk user add you@example.com --role admin" in output  # the first admin: how
    assert "INFO socialdesk: no Meta app configured" in output  # the sandbox is chosen, and said so
    assert "INFO bot.demo: sandbox mode: demo page" in output  # a notice, not a warning
    assert "Worker has been shut down" in output
    assert not [line for line in output.splitlines() if "WARNING" in line or "Warning" in line], output  # quiet
    assert _get(f"http://127.0.0.1:{api_port}/health") is None
    assert _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health") is None


def test_first_run_on_a_terminal_asks_for_the_first_admin(tmp_path: Path) -> None:
    import pty
    import select

    api_port = free_port()
    leader, follower = pty.openpty()
    env = {**_base_env(), "SOCIALDESK_API_PORT": str(api_port), "SOCIALDESK_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(SOCIALDESK + ["run", "--no-dashboard"], cwd=tmp_path, env=env, stdin=follower,
                               stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""

    def expect(text: bytes) -> None:
        nonlocal seen

        def arrived() -> bool:
            nonlocal seen
            if select.select([leader], [], [], 0.1)[0]:
                seen += os.read(leader, 4096)
            return text in seen

        wait_until(arrived, 60, what=f"{text!r} on the terminal (so far: {seen[-300:]!r})")

    try:
        expect(b"E-mail of the first admin")
        os.write(leader, b"boss@example.com\n")
        expect(b"Password:")
        os.write(leader, b"a good password\n")
        expect(b"added admin boss@example.com")
        wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/health"), 60, what="API health")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        os.close(leader)
    assert process.returncode == 0
    again = run_cli(["token", "create", "--user", "boss@example.com"], tmp_path)
    assert again.returncode == 0 and again.stdout.startswith("sd_")


def test_sigterm_to_run_stops_the_dashboard_too(tmp_path: Path) -> None:
    """systemd and containers send SIGTERM to the main process only: no child may survive it."""
    api_port, dashboard_port = free_port(), free_port()
    process = _start(["run"], tmp_path, api_port, dashboard_port)
    try:
        wait_until(lambda: _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health"), 60, what="dashboard")
        children = _descendants(process.pid)
        assert children, "the dashboard runs as a child process"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    wait_until(lambda: not any(_alive(pid) for pid in children), 15, what=f"children {children} to exit")
    assert _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health") is None


def test_sigterm_to_dashboard_stops_streamlit(tmp_path: Path) -> None:
    dashboard_port = free_port()
    process = _start(["dashboard"], tmp_path, free_port(), dashboard_port, env={"SOCIALDESK_SANDBOX": "1"})
    try:
        wait_until(lambda: _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health"), 60, what="dashboard")
        children = _descendants(process.pid)
        assert children
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    wait_until(lambda: not any(_alive(pid) for pid in children), 15, what=f"children {children} to exit")


def test_run_no_dashboard_no_sandbox(tmp_path: Path) -> None:
    api_port, dashboard_port = free_port(), free_port()
    refused = run_cli(["run", "--no-sandbox"], tmp_path)
    assert refused.returncode == 2 and "META_APP_SECRET" in refused.stderr  # no Meta app, no sandbox: refuses
    meta = {"META_APP_SECRET": "an-app-secret", "META_APP_ID": "123456789",
            "GRAPH_API_URL": "http://127.0.0.1:9/graph"}  # a Meta app is configured (never called here)
    process = _start(["run", "--no-dashboard", "--no-sandbox"], tmp_path, api_port, dashboard_port, env=meta)
    try:
        health = wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/health"), 60, what="API health")
        assert health.json()["workers"] == "1 consuming"
        assert httpx.get(f"http://127.0.0.1:{api_port}/sandbox/control/config").status_code == 404
        assert not _descendants(process.pid)
        assert _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health") is None
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "dashboard" not in output and "sandbox" not in output.lower()


def test_api_without_redis_runs_its_jobs_or_refuses(tmp_path: Path) -> None:
    refused = run_cli(["api", "--workers", "2"], tmp_path, env={"SOCIALDESK_SANDBOX": "1"})
    assert refused.returncode == 2 and "REDIS_URL" in refused.stderr and "socialdesk worker" in refused.stderr
    api_port = free_port()
    process = _start(["api"], tmp_path, api_port, free_port(), env={"SOCIALDESK_SANDBOX": "1"})
    try:
        health = wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/health"), 60, what="API health")
        assert health.json() == {"database": "ok", "queue": "in-process", "workers": "1 consuming", "status": "ok"}
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode in (0, 130), output
    assert "Worker has been shut down" in output


def test_health_says_when_no_worker_consumes_redis(tmp_path: Path, redis_url: str) -> None:
    """The API with Redis and no `socialdesk worker` accepts webhooks nobody processes: unhealthy,
    until a worker runs; SIGTERM stops the worker and all its processes. The worker's processes
    run at `SOCIALDESK_WORKER_NICE` (the API's acknowledgements get the CPU first), the API's
    at this test's own priority."""
    from tests.servers import reset_redis

    reset_redis(redis_url)
    api_port = free_port()
    env = {"SOCIALDESK_SANDBOX": "1", "REDIS_URL": redis_url}
    own = os.getpriority(os.PRIO_PROCESS, 0)
    api = _start(["api"], tmp_path, api_port, free_port(), env=env)
    worker = None
    try:
        down = wait_until(lambda: _answer(f"http://127.0.0.1:{api_port}/health"), 60, what="API health")
        assert down.status_code == 503
        assert down.json() == {"database": "ok", "queue": "ok", "workers": "no worker consuming", "status": "degraded"}
        worker = _start(["worker", "--processes", "1", "--threads", "2"], tmp_path, api_port, free_port(),
                        env={**env, "SOCIALDESK_WORKER_NICE": str(own + 3)})
        up = wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/health"), 60, what="a worker's heartbeat")
        assert up.json()["workers"] == "1 consuming"
        children = _descendants(worker.pid)
        assert children
        assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in [worker.pid, *children]} == {own + 3}
        assert os.getpriority(os.PRIO_PROCESS, api.pid) == own
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
        wait_until(lambda: not any(_alive(pid) for pid in children), 15, what="worker processes to exit")
        again = _answer(f"http://127.0.0.1:{api_port}/health")
        assert again.status_code == 503 and again.json()["workers"] == "no worker consuming"
    finally:
        for process in (worker, api):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=60)
    assert api.returncode == 0


def test_sigterm_stops_every_api_process_redis(tmp_path: Path, redis_url: str) -> None:
    api_port = free_port()
    env = {"SOCIALDESK_SANDBOX": "1", "REDIS_URL": redis_url}
    process = _start(["api", "--workers", "2"], tmp_path, api_port, free_port(), env=env)
    try:
        wait_until(lambda: _answer(f"http://127.0.0.1:{api_port}/health"), 60, what="API")
        children = wait_until(lambda: len(c := _descendants(process.pid)) >= 2 and c, 30, what="2 API processes")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    wait_until(lambda: not any(_alive(pid) for pid in children), 15, what=f"children {children} to exit")


def test_database_down_is_not_a_queue_failure(tmp_path: Path) -> None:
    """Issue 17 §7: /health reports the database and the queue each on its own."""
    api_port = free_port()
    env = {"SOCIALDESK_SANDBOX": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/desk.db"}
    process = _start(["api"], tmp_path, api_port, free_port(), env=env)
    try:
        wait_until(lambda: _get(f"http://127.0.0.1:{api_port}/health"), 60, what="API health")
        (tmp_path / "desk.db").chmod(0o000)
        (tmp_path / "desk.db").rename(tmp_path / "gone.db")
        (tmp_path / "desk.db").mkdir()  # the database path is now a directory: SQLite cannot open it
        answer = _answer(f"http://127.0.0.1:{api_port}/health")
        body = answer.json()
        assert answer.status_code == 503 and body["database"].startswith("error")
        assert body["queue"] == "in-process" and body["workers"] == "1 consuming"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def _start(args: list[str], cwd: Path, api_port: int, dashboard_port: int, *, session: bool = False,
           env: dict[str, str] | None = None) -> subprocess.Popen:
    full = {**_base_env(), "SOCIALDESK_API_PORT": str(api_port), "SOCIALDESK_DASHBOARD_PORT": str(dashboard_port),
            "SOCIALDESK_LOG_LEVEL": "INFO", **(env or {})}
    return subprocess.Popen(SOCIALDESK + args, cwd=cwd, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=session)


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc: children, their children...)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _answer(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None


def _get(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None
