# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments
"""Sign-in throttling: per account and per client address, growing delays then a temporary
lock, the same for bad API tokens; every sign-in logged for admins; an admin unlocks an account
(REST, CLI, dashboard). Real SQLite and PostgreSQL; the REST part over real HTTP."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.core.errors import Throttled
from bot.platform.db import connection
from bot.staff import signin
from tests.api.conftest import Api, api, error_of  # noqa: F401 - the `api` fixture
from tests.security._auth_fixtures import PASSWORD, Clock, clock, staff_db  # noqa: F401 - fixtures

ADMIN = "admin@example.com"
HERE = "203.0.113.7"


def fail(email: str = ADMIN, address: str = HERE) -> None:
    assert signin.sign_in(email, "wrong password", address) is None


def test_twenty_wrong_passwords_then_the_right_one_does_not_get_in(staff_db: str, clock: Clock) -> None:
    """The issue's reproduction: 20 wrong passwords, then the right one."""
    refused = 0
    for _ in range(20):
        try:
            fail()
        except Throttled:
            refused += 1
    assert refused == 20 - signin.ACCOUNT.free_failures  # only the free tries reached the password check
    with pytest.raises(Throttled) as waited:
        signin.sign_in(ADMIN, PASSWORD, HERE)
    assert waited.value.retry_after >= 1 and not waited.value.locked


def test_delays_grow_then_the_account_locks_and_an_admin_unlocks_it(staff_db: str, clock: Clock) -> None:
    for _ in range(signin.ACCOUNT.free_failures):
        fail()
    waits = []
    for _ in range(signin.ACCOUNT.lock_after - signin.ACCOUNT.free_failures):
        with pytest.raises(Throttled) as waited:
            fail()
        waits.append(waited.value.retry_after)
        clock.advance(waited.value.retry_after)  # the wait is over
        fail()
    assert waits == [1, 2, 4, 8, 16, 32, 64]
    with pytest.raises(Throttled) as locked:
        signin.sign_in(ADMIN, PASSWORD, "198.51.100.1")  # another address: the account itself is locked
    assert locked.value.locked and locked.value.retry_after > 10 * 60
    assert signin.is_locked(ADMIN)
    assert ("account", ADMIN) in [(v.kind, v.subject) for v in signin.locks()]
    assert signin.unlock(ADMIN)
    assert signin.sign_in(ADMIN, PASSWORD, "198.51.100.1").email == ADMIN


def test_a_lock_lifts_by_itself_and_old_failures_are_forgotten(staff_db: str, clock: Clock) -> None:
    lock(ADMIN, clock)
    with pytest.raises(Throttled):
        signin.sign_in(ADMIN, PASSWORD, "198.51.100.1")
    clock.advance(signin.ACCOUNT.lock_ms / 1000 + 1)
    assert signin.sign_in(ADMIN, PASSWORD, "198.51.100.1") is not None
    for _ in range(signin.ACCOUNT.free_failures):
        fail()
    clock.advance(signin.FORGET_AFTER_MS / 1000 + 1)
    for _ in range(signin.ACCOUNT.free_failures):  # free again
        fail()


def lock(email: str, clock: Clock) -> None:
    """Fail until the account locks, waiting out each delay."""
    while not signin.is_locked(email):
        try:
            fail(email)
        except Throttled as waited:
            clock.advance(waited.retry_after)


def test_a_success_clears_the_account_but_guesses_from_one_address_add_up(staff_db: str, clock: Clock) -> None:
    fail()
    fail()
    assert signin.sign_in(ADMIN, PASSWORD, HERE) is not None
    for _ in range(signin.ACCOUNT.free_failures):  # the account's count started again
        fail()
    # one address trying many accounts (each within its own free tries) is throttled as an address
    emails = [f"user{i}@example.com" for i in range(signin.ADDRESS.free_failures)]
    attacker = "192.0.2.99"
    for email in emails:
        fail(email, attacker)
    with pytest.raises(Throttled):
        signin.sign_in("agent@example.com", PASSWORD, attacker)
    assert signin.sign_in("agent@example.com", PASSWORD, "192.0.2.100") is not None  # others are not


def test_unknown_accounts_are_throttled_like_real_ones(staff_db: str, clock: Clock) -> None:
    """A lock must not tell who has an account."""
    for email in (ADMIN, "nobody@example.com"):
        for _ in range(signin.ACCOUNT.free_failures):
            fail(email, f"address-of-{email}")
        with pytest.raises(Throttled):
            fail(email, f"address-of-{email}")


def test_a_burst_of_parallel_guesses_gets_no_more_than_the_free_tries(staff_db: str, clock: Clock) -> None:
    """Failures are counted before the (slow) password check, so a burst cannot slip past."""

    def attempt(_: int) -> str:
        with connection():
            try:
                return "checked" if signin.sign_in(ADMIN, "wrong password", HERE) is None else "in"
            except Throttled:
                return "throttled"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(24)))
    assert outcomes.count("checked") == signin.ACCOUNT.free_failures, outcomes


def test_sign_ins_are_logged_for_admins(staff_db: str, clock: Clock) -> None:
    fail()
    assert signin.sign_in(ADMIN, PASSWORD, HERE) is not None
    fail("nobody@example.com")
    log = signin.recent()
    assert [(v.email, v.outcome, v.method, v.address) for v in log] == [
        ("nobody@example.com", "failed", "password", HERE), (ADMIN, "ok", "password", HERE),
        (ADMIN, "failed", "password", HERE)]
    assert [v.email for v in signin.recent(outcome="ok")] == [ADMIN]


def test_the_cli_unlocks_an_account(tmp_path: Path, clock: Clock) -> None:
    env_db = f"sqlite:///{tmp_path}/socialdesk.db"
    run = _cli(tmp_path, env_db)
    assert run("migrate").returncode == 0
    assert run("user", "add", ADMIN, "--role", "admin", stdin=PASSWORD + "\n").returncode == 0
    from bot.platform.db import open_database

    open_database(env_db)
    with connection():
        lock(ADMIN, clock)
    unlocked = run("user", "unlock", ADMIN.upper())
    assert unlocked.returncode == 0 and f"unlocked {ADMIN}" in unlocked.stdout
    with connection():
        assert not signin.is_locked(ADMIN) and signin.sign_in(ADMIN, PASSWORD, "198.51.100.1") is not None


def _cli(cwd: Path, database_url: str):  # noqa: ANN202 - a small runner
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "META_"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(Path(__file__).resolve().parents[2]))

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    return run


# --- REST: bad bearer tokens, the log and unlocking over HTTP ---------------------------------------


def test_bad_api_tokens_are_throttled_per_address(api: Api) -> None:
    for _ in range(signin.TOKEN_ADDRESS.free_failures):
        response = api.call("GET", "/conversations", headers={"Authorization": "Bearer sd_guess"}, as_=None)
        assert response.status_code == 401
    throttled = api.call("GET", "/conversations", headers={"Authorization": "Bearer sd_guess"}, as_=None)
    assert throttled.status_code == 429 and error_of(throttled)["code"] == "rate_limited"
    assert int(throttled.headers["retry-after"]) >= 1
    # while it waits, even a valid token from that address is not looked at
    assert api.get("/conversations").status_code == 429
    with connection():
        signin.unlock_address("token", "127.0.0.1")
    assert api.get("/conversations").status_code == 200
    log = api.ok("GET", "/sign-ins", params={"outcome": "failed"})
    assert len(log) == signin.TOKEN_ADDRESS.free_failures
    assert {(e["method"], e["address"]) for e in log} == {("token", "127.0.0.1")}


def test_a_revoked_token_counts_and_is_logged_with_its_owner(api: Api) -> None:
    token_id = api.ok("GET", "/tokens", params={"user_id": api.user_ids["agent"]})[0]["id"]
    api.ok("DELETE", f"/tokens/{token_id}")
    assert api.get("/conversations", as_="agent").status_code == 401
    log = api.ok("GET", "/sign-ins")
    assert [(e["email"], e["outcome"], e["method"]) for e in log] == [("agent@example.com", "failed", "token")]


def test_admins_see_locks_and_unlock_over_rest(api: Api, clock: Clock) -> None:
    with connection():
        lock("agent@example.com", clock)
    locks = api.ok("GET", "/sign-ins/locks")
    account = [lock for lock in locks if lock["kind"] == "account"]
    assert [lock["subject"] for lock in account] == ["agent@example.com"] and account[0]["locked_until"]
    assert api.call("POST", f"/users/{api.user_ids['agent']}/unlock", as_="agent").status_code == 403
    assert api.ok("POST", f"/users/{api.user_ids['agent']}/unlock")["email"] == "agent@example.com"
    assert [lock for lock in api.ok("GET", "/sign-ins/locks") if lock["kind"] == "account"] == []
    assert api.call("POST", "/users/999/unlock").status_code == 404
