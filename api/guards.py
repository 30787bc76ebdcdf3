"""Who is calling: a bearer token (from `socialdesk token create`) -> the staff user and role.

Guards run before the request body is decoded, so a caller without a valid token gets 401 (and
a caller whose role may not do the action 403, from `bot.staff.permissions`) whatever they sent.
Guards that are plain functions run in a worker thread, which is where peewee's per-thread
connection must be opened and closed.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from bot.platform.db import connection as db_connection
from bot.staff import auth, permissions, signin
from bot.staff.permissions import Action

CALLER = "socialdesk_caller"


class Caller(msgspec.Struct, frozen=True):
    """The authenticated staff user of a request (a value, not a database row)."""

    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == auth.Role.ADMIN

    def may(self, action: Action) -> bool:
        return permissions.allowed(self.role, action)


def authenticated(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """401 unless `Authorization: Bearer <token>` names an active user's live API token; 429
    (nothing looked up) while this client address has presented too many bad tokens lately."""
    token = bearer_token(connection.headers.get("authorization"))
    if token is None:
        raise NotAuthorizedException("Send an API token: Authorization: Bearer <token>.",
                                     headers={"WWW-Authenticate": "Bearer"})
    address = connection.client.host if connection.client else ""
    with db_connection():
        signin.check_token_allowed(address)
        user = auth.token_user(token)
        if user is None:
            row = auth.token_row(token)
            signin.token_refused(address, row.user if row is not None else None)
    if user is None:
        raise NotAuthorizedException("The API token is unknown, revoked or expired, or its user is deactivated.",
                                     headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    connection.scope.setdefault("state", {})[CALLER] = Caller(id=user.id, email=user.email, role=user.role)


def requires(action: Action) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """A guard: 403 unless the caller's role may do `action` (`bot.staff.permissions`, the table the
    dashboard consults too); runs after `authenticated`."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if not caller_of(connection).may(action):
            raise PermissionDeniedException(f"Your role may not do this ({action.value}).")

    guard.__name__ = f"requires_{action.name.lower()}"
    return guard


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
