"""Sign-in throttling and the sign-in log: guessing passwords or API tokens gets slow, then stops.

Every failure counts against keys: the account (`account:<e-mail>`, also for e-mails no account
has, so a lock tells nothing about who exists) and the client address (`address:<ip>` for
passwords, `token:<ip>` for bad API tokens). After a few free failures each further attempt on a
key must wait a growing delay (1, 2, 4, ... s), and after many the key is locked for a while.
While a key waits, attempts are refused *without* checking the password or token, so they
teach the guesser nothing.

A failure is counted *before* the slow password check and undone on success, so a burst of
parallel guesses sees the count rise and cannot slip many tries past the limit. Counts live in
the database, shared by the API and dashboard processes, and are forgotten once a key has had
no failure for `FORGET_AFTER_MS`. Successful and failed password sign-ins and refused API
tokens are logged for admins (`recent`); attempts refused while waiting are not, so a flood
cannot fill the log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec

from bot.core.errors import NotFound, Throttled
from bot.platform.db import insert_new, is_sqlite, now_ms, transaction
from bot.platform.models import SignInAttempt, SignInThrottle, User
from bot.staff import auth

MINUTE_MS = 60_000
FORGET_AFTER_MS = 15 * MINUTE_MS  # failures older than this no longer count
LOG_DAYS = 90  # how long the sign-in log is kept


@dataclass(frozen=True)
class Policy:
    """How many failures on one key are free, when it locks and for how long."""

    free_failures: int
    lock_after: int
    lock_ms: int
    max_delay_s: int = 300

    def delay_s(self, failures: int) -> int:
        """Seconds to wait after `failures` failures: 0 while free, then doubling."""
        if failures < self.free_failures:
            return 0
        return min(2 ** (failures - self.free_failures), self.max_delay_s)


ACCOUNT = Policy(free_failures=3, lock_after=10, lock_ms=15 * MINUTE_MS)
ADDRESS = Policy(free_failures=10, lock_after=50, lock_ms=15 * MINUTE_MS)  # offices share one address
TOKEN_ADDRESS = Policy(free_failures=10, lock_after=100, lock_ms=15 * MINUTE_MS)


class SignInView(msgspec.Struct):
    """One logged attempt. `outcome`: ok, failed (wrong password, unknown account, bad token)."""

    at: int
    method: str
    email: str
    address: str
    outcome: str


class LockView(msgspec.Struct):
    """A key that is waiting or locked now: `kind` account, address or token (bad API tokens)."""

    kind: str
    subject: str
    failures: int
    locked_until: int | None
    retry_at: int


# --- passwords -----------------------------------------------------------------------------------


def sign_in(email: str, password: str, address: str) -> User | None:
    """The user these credentials name, None when wrong; raises Throttled while the account or
    the address must wait (without checking the password)."""
    email = email.strip().lower()[:254]
    keys = [(account_key(email), ACCOUNT), (f"address:{address}", ADDRESS)]
    _reserve(keys)
    user = auth.authenticate(email, password)
    if user is None:
        _record("password", email, None, address, "failed")
        return None
    _forgive(account_key(email))
    _undo_one(f"address:{address}")
    _record("password", email, user, address, "ok")
    return user


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()}"


# --- API tokens ----------------------------------------------------------------------------------


def check_token_allowed(address: str) -> None:
    """Before looking a bearer token up: Throttled while this address must wait."""
    wait, locked = _wait_of(SignInThrottle.get_or_none(SignInThrottle.key == f"token:{address}"), TOKEN_ADDRESS)
    if wait:
        raise Throttled(wait, locked)


def token_refused(address: str, owner: User | None) -> None:
    """Count and log a bad, revoked or expired API token presented from `address`."""
    _reserve([(f"token:{address}", TOKEN_ADDRESS)], check=False)
    _record("token", owner.email if owner else "", owner, address, "failed")


# --- admins --------------------------------------------------------------------------------------


def recent(limit: int = 200, outcome: str | None = None, email: str | None = None) -> list[SignInView]:
    """The sign-in log, newest first (optionally only one outcome or one e-mail)."""
    query = SignInAttempt.select().order_by(SignInAttempt.at.desc(), SignInAttempt.id.desc()).limit(limit)
    if outcome:
        query = query.where(SignInAttempt.outcome == outcome)
    if email:
        query = query.where(SignInAttempt.email == email.strip().lower())
    return [SignInView(at=r.at, method=r.method, email=r.email, address=r.address, outcome=r.outcome)
            for r in query]


def locks() -> list[LockView]:
    """Keys that must wait or are locked right now, soonest free first."""
    views = []
    for row in SignInThrottle.select().where(SignInThrottle.last_failure_at > now_ms() - FORGET_AFTER_MS * 2):
        kind, _, subject = row.key.partition(":")
        wait, _locked = _wait_of(row, _POLICIES.get(kind, ACCOUNT))
        if wait:
            views.append(LockView(kind=kind, subject=subject, failures=row.failures,
                                  locked_until=row.locked_until, retry_at=now_ms() + wait * 1000))
    return sorted(views, key=lambda v: v.retry_at)


def unlock(email: str) -> bool:
    """Let an account sign in again at once; False when it had no failures on record."""
    return SignInThrottle.delete().where(SignInThrottle.key == account_key(email)).execute() > 0


def unlock_user(user_id: int) -> User:
    """`unlock` for a staff user named by id (REST, dashboard)."""
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("user", user_id)
    unlock(user.email)
    return user


def unlock_address(kind: str, address: str) -> bool:
    """Let a client address sign in (kind `address`) or use tokens (kind `token`) again at once."""
    return SignInThrottle.delete().where(SignInThrottle.key == f"{kind}:{address}").execute() > 0


def is_locked(email: str) -> bool:
    row = SignInThrottle.get_or_none(SignInThrottle.key == account_key(email))
    return bool(row and row.locked_until and row.locked_until > now_ms())


# --- the counters ----------------------------------------------------------------------------------

_POLICIES = {"account": ACCOUNT, "address": ADDRESS, "token": TOKEN_ADDRESS}


def _reserve(keys: list[tuple[str, Policy]], check: bool = True) -> None:
    """Count one failure on every key up front, in one transaction; Throttled (nothing counted)
    when one of them must wait."""
    now = now_ms()
    with transaction():
        rows = [(_locked_row(key, now), policy) for key, policy in keys]
        if check:
            waits = [_wait_of(row, policy, now) for row, policy in rows]
            wait, locked = max(waits)
            if wait:
                raise Throttled(wait, locked or any(lk for _, lk in waits))
        for row, policy in rows:
            _count(row, policy, now)


def _locked_row(key: str, now: int) -> SignInThrottle:
    """The key's row, created if new, read FOR UPDATE on PostgreSQL (SQLite's transaction
    already holds the write lock), with stale failures forgotten."""
    insert_new(SignInThrottle.insert(key=key, failures=0, last_failure_at=now))
    query = SignInThrottle.select().where(SignInThrottle.key == key)
    row = query.get() if is_sqlite() else query.for_update().get()
    if row.last_failure_at < now - FORGET_AFTER_MS and not _lock_running(row, now):
        row.failures, row.locked_until = 0, None
    return row


def _count(row: SignInThrottle, policy: Policy, now: int) -> None:
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= policy.lock_after:
        row.locked_until = now + policy.lock_ms
    row.save()


def _wait_of(row: SignInThrottle | None, policy: Policy, now: int | None = None) -> tuple[int, bool]:
    """(seconds to wait, locked) for a key's row; (0, False) when it may try now."""
    now = now_ms() if now is None else now
    if row is None:
        return 0, False
    if _lock_running(row, now):
        return math.ceil((row.locked_until - now) / 1000), True
    if row.last_failure_at < now - FORGET_AFTER_MS:
        return 0, False
    ready_at = row.last_failure_at + policy.delay_s(row.failures) * 1000
    return (math.ceil((ready_at - now) / 1000), False) if ready_at > now else (0, False)


def _lock_running(row: SignInThrottle, now: int) -> bool:
    return row.locked_until is not None and row.locked_until > now


def _forgive(key: str) -> None:
    SignInThrottle.delete().where(SignInThrottle.key == key).execute()


def _undo_one(key: str) -> None:
    """Take back the failure counted up front for an attempt that succeeded."""
    SignInThrottle.update(failures=SignInThrottle.failures - 1).where(
        (SignInThrottle.key == key) & (SignInThrottle.failures > 0)).execute()


def _record(method: str, email: str, user: User | None, address: str, outcome: str) -> None:
    now = now_ms()
    SignInAttempt.create(at=now, method=method, email=email[:254], user=user, address=address[:100],
                         outcome=outcome)
    SignInAttempt.delete().where(SignInAttempt.at < now - LOG_DAYS * 86400 * 1000).execute()
