"""Staff accounts: argon2 password hashes, expiring dashboard sessions, hashed API tokens.

Only hashes of session and API tokens are stored, so a database dump grants no access.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

import msgspec
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


TOKEN_DAY_MS = 86400 * 1000
MAX_TOKEN_DAYS = 3650
LAST_USED_EVERY_MS = 60_000  # `last_used_at` is refreshed at most once a minute, not on every call


class TokenView(msgspec.Struct):
    """An API token as admins and its owner see it (never the token itself, which is shown once).
    `status`: active, expired or revoked."""

    id: int
    user_id: int
    email: str
    name: str
    created_at: int
    last_used_at: int | None
    expires_at: int | None
    revoked_at: int | None
    status: str


def create_api_token(email: str, name: str = "", expires_in_days: int | None = None) -> str:
    """A new REST API bearer token for the user; printed once, stored hashed. With
    `expires_in_days` it stops working after that many days."""
    user = User.get_or_none(User.email == email.strip().lower())
    if user is None:
        raise NotFound("user", email)
    return new_api_token(user, name, expires_in_days)


def new_api_token(user: User, name: str = "", expires_in_days: int | None = None) -> str:
    """`create_api_token` for a user already at hand (the REST API names users by id)."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise Invalid("expires_in_days", f"must be 1 to {MAX_TOKEN_DAYS} days")
    if len(name) > 200:
        raise Invalid("name", "must be at most 200 characters")
    now = now_ms()
    expires_at = now + expires_in_days * TOKEN_DAY_MS if expires_in_days else None
    token = "sd_" + secrets.token_urlsafe(32)
    ApiToken.create(token_hash=_digest(token), user=user, name=name, created_at=now, expires_at=expires_at)
    return token


def token_user(token: str | None) -> User | None:
    """The active user owning a live (not revoked, not expired) API token, or None."""
    row = token_row(token)
    if row is None or token_status(row) != "active" or not row.user.is_active:
        return None
    if row.last_used_at is None or row.last_used_at < now_ms() - LAST_USED_EVERY_MS:
        ApiToken.update(last_used_at=now_ms()).where(ApiToken.id == row.id).execute()
    return row.user


def token_row(token: str | None) -> ApiToken | None:
    """The stored token (with its user) a bearer token names, whatever its status."""
    if not token:
        return None
    return ApiToken.select(ApiToken, User).join(User).where(ApiToken.token_hash == _digest(token)).first()


def token_status(row: ApiToken) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now_ms():
        return "expired"
    return "active"


def tokens(user_id: int | None = None) -> list[TokenView]:
    """API tokens, newest first: everyone's, or one user's."""
    query = ApiToken.select(ApiToken, User).join(User).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user == user_id)
    return [_token_view(row) for row in query]


def revoke_token(token_id: int, owner_id: int | None = None) -> TokenView:
    """Revoke one token (kept in the list as revoked). With `owner_id`, only that user's own
    tokens can be revoked: another user's token is NotFound, so ids tell nothing."""
    row = ApiToken.select(ApiToken, User).join(User).where(ApiToken.id == token_id).first()
    if row is None or (owner_id is not None and row.user_id != owner_id):
        raise NotFound("API token", token_id)
    if row.revoked_at is None:
        row.revoked_at = now_ms()
        ApiToken.update(revoked_at=row.revoked_at).where(ApiToken.id == row.id).execute()
    return _token_view(row)


def _token_view(row: ApiToken) -> TokenView:
    return TokenView(id=row.id, user_id=row.user_id, email=row.user.email, name=row.name,
                     created_at=row.created_at, last_used_at=row.last_used_at, expires_at=row.expires_at,
                     revoked_at=row.revoked_at, status=token_status(row))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
