"""Staff accounts: argon2 password hashes, expiring dashboard sessions, hashed API tokens.

Only hashes of session and API tokens are stored, so a database dump grants no access.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.core.errors import Invalid, NotFound
from bot.platform.db import now_ms, transaction
from bot.platform.models import ApiToken, StaffSession, User

SESSION_TTL_MS = 12 * 3600 * 1000
_hasher = PasswordHasher()


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


def add_user(email: str, password: str, role: str = Role.AGENT, name: str = "") -> User:
    """Create a staff user; the e-mail is the login and must be unique."""
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 254:
        raise Invalid("email", "is not an e-mail address")
    if role not in Role.__members__.values():
        raise Invalid("role", "must be admin or agent")
    if len(password) < 8:
        raise Invalid("password", "must be at least 8 characters")
    with transaction():
        if User.select().where(User.email == email).exists():
            raise Invalid("email", "a user with this e-mail already exists")
        return User.create(email=email, name=name or email.split("@")[0], password_hash=_hasher.hash(password),
                           role=role, created_at=now_ms())


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for unknown e-mail and bad password)."""
    user = User.get_or_none(User.email == email.strip().lower())
    if user is None or not user.is_active:
        _hasher.hash(password)  # same cost either way: no user enumeration by timing
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def start_session(user: User, ttl_ms: int = SESSION_TTL_MS) -> str:
    """A new dashboard session token (shown once to the browser; only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    now = now_ms()
    StaffSession.create(token_hash=_digest(token), user=user, created_at=now, expires_at=now + ttl_ms)
    return token


def session_user(token: str | None) -> User | None:
    """The user of a live session, or None when unknown or expired."""
    if not token:
        return None
    session = (StaffSession.select(StaffSession, User).join(User)
               .where(StaffSession.token_hash == _digest(token)).first())
    if session is None or session.expires_at < now_ms() or not session.user.is_active:
        return None
    return session.user


def end_session(token: str) -> None:
    StaffSession.delete().where(StaffSession.token_hash == _digest(token)).execute()


def create_api_token(email: str, name: str = "") -> str:
    """A new REST API bearer token for the user; printed once, stored hashed."""
    user = User.get_or_none(User.email == email.strip().lower())
    if user is None:
        raise NotFound("user", email)
    token = "sd_" + secrets.token_urlsafe(32)
    ApiToken.create(token_hash=_digest(token), user=user, name=name, created_at=now_ms())
    return token


def token_user(token: str | None) -> User | None:
    """The active user owning an API token, or None."""
    if not token:
        return None
    row = ApiToken.select(ApiToken, User).join(User).where(ApiToken.token_hash == _digest(token)).first()
    if row is None or not row.user.is_active:
        return None
    ApiToken.update(last_used_at=now_ms()).where(ApiToken.id == row.id).execute()
    return row.user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
