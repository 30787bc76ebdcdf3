"""`/api/v1/users`: staff accounts; unlock one locked by failed sign-ins. Admins only."""

from __future__ import annotations

from litestar import Controller

from api.guards import Caller, requires
from api.resources import get, post
from api.schemas import IdParam, UserBody
from bot import commands, queries
from bot.platform.db import connection
from bot.queries import UserView
from bot.staff import auth, signin
from bot.staff.permissions import Action


class UserController(Controller):
    path = "/users"
    tags = ["users"]
    guards = [requires(Action.MANAGE_USERS)]

    @get(summary="List staff users")
    def list_users(self) -> list[UserView]:
        with connection():
            return queries.users()

    @post(summary="Create a staff user (admin or agent)")
    def create(self, data: UserBody) -> UserView:
        with connection():
            return queries.user_view(auth.add_user(data.email, data.password, data.role, data.name))

    @post("/{user_id:str}/deactivate", status_code=200,
          summary="Deactivate a user: their sessions end and their API tokens stop working")
    def deactivate(self, caller: Caller, user_id: IdParam) -> UserView:
        with connection():
            return queries.user_view(commands.deactivate_user(caller.id, user_id))

    @post("/{user_id:str}/unlock", status_code=200,
          summary="Let a user locked out by failed sign-ins sign in again at once")
    def unlock(self, user_id: IdParam) -> UserView:
        with connection():
            return queries.user_view(signin.unlock_user(user_id))
