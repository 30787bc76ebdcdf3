"""Who is calling: a bearer token (from `socialdesk token create`) -> the staff user and role.

Guards run before the request body is decoded, so a caller without a valid token gets 401 (and
a caller with the wrong role 403) whatever they sent. Guards that are plain functions run in a
worker thread, which is where peewee's per-thread connection must be opened and closed.
"""

from __future__ import annotations

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from bot.platform.db import connection as db_connection
from bot.staff import auth

CALLER = "socialdesk_caller"


class Caller(msgspec.Struct, frozen=True):
    """The authenticated staff user of a request (a value, not a database row)."""

    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == auth.Role.ADMIN


def authenticated(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """401 unless `Authorization: Bearer <token>` names an active user's API token."""
    token = bearer_token(connection.headers.get("authorization"))
    if token is None:
        raise NotAuthorizedException("Send an API token: Authorization: Bearer <token>.",
                                     headers={"WWW-Authenticate": "Bearer"})
    with db_connection():
        user = auth.token_user(token)
    if user is None:
        raise NotAuthorizedException("The API token is unknown, or its user is deactivated.",
                                     headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    connection.scope.setdefault("state", {})[CALLER] = Caller(id=user.id, email=user.email, role=user.role)


def admin_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """403 unless the caller is an admin (runs after `authenticated`)."""
    if not caller_of(connection).is_admin:
        raise PermissionDeniedException("Only admins may do this.")


def caller_of(connection: ASGIConnection) -> Caller:
    return connection.scope["state"][CALLER]


def provide_caller(request: ASGIConnection) -> Caller:
    """The `caller` dependency of handlers."""
    return caller_of(request)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
