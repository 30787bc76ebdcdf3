"""`/api/v1/conversations`: the inbox with its filters, one conversation with the person's
details, its messages, replies, assignment, close/reopen and tags. Agents and admins."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller
from litestar.params import Parameter

from api.guards import Caller, requires
from api.resources import delete, get, post
from api.schemas import (
    MAX_NAME,
    AssignBody,
    ChannelIdsParam,
    ConversationKind,
    IdParam,
    PageParam,
    PageSizeParam,
    PauseBody,
    ReplyBody,
    TagBody,
    TagList,
)
from bot import commands, queries
from bot.platform.db import connection
from bot.queries import ConversationView, InboxPage, MessageView
from bot.staff.permissions import Action

TagParam = Annotated[str, Parameter(max_length=MAX_NAME)]
Search = Annotated[str | None, Parameter(max_length=MAX_NAME, description="words in messages or the name")]


class ConversationController(Controller):
    path = "/conversations"
    tags = ["conversations"]
    guards = [requires(Action.WORK_INBOX)]

    @get(summary="List conversations (the inbox), newest first")
    def list_conversations(
        self, caller: Caller, kind: ConversationKind | None = None,
        status: Literal["open", "closed", "snoozed"] | None = None,
        assignee_id: Annotated[int | None, Parameter(ge=1, le=2**31 - 1)] = None, unassigned: bool = False,
        tag: Annotated[str | None, Parameter(max_length=MAX_NAME)] = None, search: Search = None,
        channel_id: ChannelIdsParam = None, page: PageParam = 1, page_size: PageSizeParam = queries.PAGE_SIZE,
        team_id: Annotated[int | None, Parameter(ge=1, le=2**31 - 1, description="one team's")] = None,
        my_teams: Annotated[bool, Parameter(description="those of the teams you are in")] = False,
    ) -> InboxPage:
        with connection():
            return queries.inbox(kind=kind, status=status, assignee_id=assignee_id, unassigned=unassigned,
                                 tag=tag, search=search, channel_ids=channel_id or (), page=page,
                                 page_size=page_size, team_id=team_id,
                                 teams_of=caller.id if my_teams else None)

    @get("/{conversation_id:str}", summary="A conversation with the person's details and recent messages")
    def get_conversation(self, conversation_id: IdParam) -> ConversationView:
        with connection():
            return queries.conversation_view(conversation_id)

    @get("/{conversation_id:str}/messages", summary="The latest messages, oldest first")
    def list_messages(self, conversation_id: IdParam,
                      limit: Annotated[int, Parameter(ge=1, le=1000)] = 200) -> list[MessageView]:
        with connection():
            return queries.conversation_view(conversation_id, limit=limit).messages

    @post("/{conversation_id:str}/messages", summary="Reply (the same send policy as the dashboard)")
    def reply(self, caller: Caller, conversation_id: IdParam, data: ReplyBody) -> list[MessageView]:
        with connection():
            rows = commands.reply(caller.id, conversation_id, text=data.message.text,
                                  attachments=data.message.attachments, buttons=data.message.buttons,
                                  reply_type=data.reply_type, comment_id=data.comment_id,
                                  client_key=data.client_key)
            return queries.message_views(rows)

    @post("/{conversation_id:str}/messages/{message_id:str}/retry", status_code=200,
          summary="Send a failed message again as a new attempt (the send policy applies; once per message)")
    def retry_message(self, caller: Caller, conversation_id: IdParam, message_id: IdParam) -> list[MessageView]:
        with connection():
            return queries.message_views(commands.retry_message(caller.id, message_id, conversation_id))

    @post("/{conversation_id:str}/assign", status_code=200, summary="Assign to a staff user, or unassign")
    def assign(self, conversation_id: IdParam, data: AssignBody) -> ConversationView:
        with connection():
            commands.assign(conversation_id, data.assignee)
            return queries.conversation_view(conversation_id)

    @post("/{conversation_id:str}/close", status_code=200, summary="Close")
    def close(self, caller: Caller, conversation_id: IdParam) -> ConversationView:
        with connection():
            commands.set_status(conversation_id, "closed", by=caller.id)
            return queries.conversation_view(conversation_id)

    @post("/{conversation_id:str}/reopen", status_code=200, summary="Reopen")
    def reopen(self, caller: Caller, conversation_id: IdParam) -> ConversationView:
        with connection():
            commands.set_status(conversation_id, "open", by=caller.id)
            return queries.conversation_view(conversation_id)

    @post("/{conversation_id:str}/bot/pause", status_code=200, summary="Pause the bot: a human takes over")
    def pause_bot(self, conversation_id: IdParam, data: PauseBody | None = None) -> ConversationView:
        with connection():
            commands.pause_bot(conversation_id, data.minutes if data else None)
            return queries.conversation_view(conversation_id)

    @post("/{conversation_id:str}/bot/resume", status_code=200, summary="Give the conversation back to the bot")
    def resume_bot(self, conversation_id: IdParam) -> ConversationView:
        with connection():
            commands.resume_bot(conversation_id)
            return queries.conversation_view(conversation_id)

    @post("/{conversation_id:str}/tags", status_code=200, summary="Tag the conversation's person")
    def add_tag(self, conversation_id: IdParam, data: TagBody) -> TagList:
        with connection():
            return TagList(commands.tag_conversation(conversation_id, data.tag))

    @delete("/{conversation_id:str}/tags/{tag:str}", status_code=200, summary="Remove a tag from the person")
    def remove_tag(self, conversation_id: IdParam, tag: TagParam) -> TagList:
        with connection():
            return TagList(commands.untag_conversation(conversation_id, tag))
