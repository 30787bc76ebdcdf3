"""Comment moderation by staff (`/api/v1/conversations/{id}/comments/{comment_id}/moderation`)
and a channel's Messenger profile (`/api/v1/channels/{id}/messenger-profile`), issue 22."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller
from litestar.params import Parameter

from api.guards import Caller, requires
from api.resources import get, post, put
from api.schemas import IdParam
from bot import commands, queries
from bot.channels.profile import ProfileView
from bot.core.profile import ProfileSpec
from bot.outbound.moderation import ModerationView
from bot.platform.db import connection
from bot.staff.permissions import Action

CommentIdParam = Annotated[str, Parameter(max_length=200, pattern=r"^[0-9_]+$")]


class ModerationBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`like` (Facebook only) or `hide`; each once per comment."""

    action: Literal["like", "hide"]


class ModerationController(Controller):
    path = "/conversations/{conversation_id:str}/comments/{comment_id:str}/moderation"
    tags = ["conversations"]
    guards = [requires(Action.WORK_INBOX)]

    @post(status_code=200, summary="Like or hide a comment (refused with the reason where Meta does not allow it)")
    def moderate(self, caller: Caller, conversation_id: IdParam, comment_id: CommentIdParam,
                 data: ModerationBody) -> ModerationView:
        with connection():
            return commands.moderate_comment(caller.id, conversation_id, comment_id, data.action)

    @get(summary="What was done to this comment (likes, hides) and why")
    def moderation_ledger(self, conversation_id: IdParam, comment_id: CommentIdParam) -> list[ModerationView]:
        with connection():
            queries.conversation_view(conversation_id, limit=1)  # 404 for an unknown conversation
            return queries.comment_moderation(comment_id)


class MessengerProfileController(Controller):
    path = "/channels/{channel_id:str}/messenger-profile"
    tags = ["channels"]
    guards = [requires(Action.MANAGE_CHANNELS)]

    @get(summary="The channel's Get Started button, greeting, menu and ice breakers, and their push status")
    def read_profile(self, channel_id: IdParam) -> ProfileView:
        with connection():
            return queries.messenger_profile(channel_id)

    @get("/meta", summary="What Meta holds now (read from the Messenger Profile API)")
    def read_from_meta(self, channel_id: IdParam) -> ProfileSpec:
        with connection():
            return queries.messenger_profile_on_meta(channel_id)

    @put(summary="Save (Meta's limits checked) and push to Meta when it changed")
    def save_profile(self, channel_id: IdParam, data: ProfileSpec) -> ProfileView:
        with connection():
            return commands.save_messenger_profile(channel_id, data)


GROWTH_CONTROLLERS = [ModerationController, MessengerProfileController]
