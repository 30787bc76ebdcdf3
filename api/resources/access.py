"""`/api/v1/tokens` and `/api/v1/sign-ins`: API tokens (list, create, revoke one; optional
expiry; when last used) and the sign-in log with the accounts and addresses locked now.

Everyone manages their own tokens; admins everyone's (`tokens.manage`). The sign-in log and
locks are for admins (`users.manage`); unlocking an account is `POST /users/{id}/unlock`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller
from litestar.exceptions import PermissionDeniedException
from litestar.params import Parameter

from api.guards import Caller, requires
from api.resources import delete, get, post
from api.schemas import MAX_NAME, IdParam, TokenBody
from bot.core.errors import NotFound
from bot.platform.db import connection
from bot.platform.models import User
from bot.staff import auth, signin
from bot.staff.auth import TokenView
from bot.staff.permissions import Action
from bot.staff.signin import LockView, SignInView


class TokenCreated(msgspec.Struct):
    """`token` is shown this once (only its hash is kept): store it now."""

    token: str
    details: TokenView


class TokenController(Controller):
    path = "/tokens"
    tags = ["tokens"]
    guards = [requires(Action.OWN_TOKENS)]

    @get(summary="List API tokens (admins: everyone's, or one user's; others: their own), newest first")
    def list_tokens(self, caller: Caller, user_id: Annotated[int | None, Parameter(ge=1, le=2**31 - 1)] = None,
                    ) -> list[TokenView]:
        with connection():
            return auth.tokens(user_id if caller.may(Action.MANAGE_TOKENS) else caller.id)

    @post(summary="Create an API token (the answer carries it, once)")
    def create(self, caller: Caller, data: TokenBody) -> TokenCreated:
        owner_id = data.user_id or caller.id
        if owner_id != caller.id and not caller.may(Action.MANAGE_TOKENS):
            raise PermissionDeniedException("Only admins create tokens for other users.")
        with connection():
            user = User.get_or_none(User.id == owner_id)
            if user is None:
                raise NotFound("user", owner_id)
            token = auth.new_api_token(user, data.name, data.expires_in_days)
            return TokenCreated(token=token, details=auth.tokens(user.id)[0])

    @delete("/{token_id:str}", status_code=200, summary="Revoke one API token (it stays listed as revoked)")
    def revoke(self, caller: Caller, token_id: IdParam) -> TokenView:
        with connection():
            return auth.revoke_token(token_id, None if caller.may(Action.MANAGE_TOKENS) else caller.id)


class SignInController(Controller):
    path = "/sign-ins"
    tags = ["users"]
    guards = [requires(Action.MANAGE_USERS)]

    @get(summary="The sign-in log, newest first: dashboard sign-ins and refused API tokens")
    def list_sign_ins(self, outcome: Literal["ok", "failed"] | None = None,
                      email: Annotated[str | None, Parameter(max_length=MAX_NAME)] = None,
                      limit: Annotated[int, Parameter(ge=1, le=1000)] = 200) -> list[SignInView]:
        with connection():
            return signin.recent(limit, outcome, email)

    @get("/locks", summary="Accounts and client addresses that must wait or are locked now")
    def list_locks(self) -> list[LockView]:
        with connection():
            return signin.locks()
