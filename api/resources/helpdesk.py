"""Helpdesk tools over REST: `/api/v1/conversations/{id}/notes` (private notes), `/snooze`, and
`/api/v1/canned-responses` (saved replies, rendered for a conversation on request). Agents and
admins; a personal canned response exists only for its owner."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller
from litestar.params import Parameter

from api.guards import Caller, requires
from api.resources import delete, get, patch, post
from api.schemas import MAX_ID, IdParam
from api.schemas_helpdesk import CannedBody, CannedPatchBody, NoteBody, SnoozeBody
from bot import commands, queries
from bot.core.compose import MessageContent
from bot.helpdesk.canned import CannedView
from bot.helpdesk.notes import NoteView
from bot.platform.db import connection
from bot.queries import ConversationView
from bot.staff.permissions import Action

ConversationParam = Annotated[int, Parameter(ge=1, le=MAX_ID, description="the conversation to render it for")]


class NoteController(Controller):
    path = "/conversations/{conversation_id:str}"
    tags = ["conversations"]
    guards = [requires(Action.WORK_INBOX)]

    @get("/notes", summary="The conversation's private notes, oldest first (never sent to the customer)")
    def list_notes(self, conversation_id: IdParam,
                   limit: Annotated[int, Parameter(ge=1, le=1000)] = 200) -> list[NoteView]:
        with connection():
            return queries.conversation_notes(conversation_id, limit)

    @post("/notes", summary="Add a private note; `@name` notifies that staff member")
    def add_note(self, caller: Caller, conversation_id: IdParam, data: NoteBody) -> NoteView:
        with connection():
            return commands.add_note(caller.id, conversation_id, data.text)

    @delete("/notes/{note_id:str}", status_code=204, summary="Delete one of your own notes")
    def delete_note(self, caller: Caller, conversation_id: IdParam, note_id: IdParam) -> None:
        with connection():
            commands.delete_note(caller.id, note_id, conversation_id)

    @post("/snooze", status_code=200,
          summary="Snooze until a time or until the customer writes (reopen ends it early)")
    def snooze(self, caller: Caller, conversation_id: IdParam, data: SnoozeBody) -> ConversationView:
        with connection():
            commands.snooze_conversation(caller.id, conversation_id, data.until)
            return queries.conversation_view(conversation_id)


class CannedController(Controller):
    path = "/canned-responses"
    tags = ["canned responses"]
    guards = [requires(Action.WORK_INBOX)]

    @get(summary="The canned responses you can use: shared ones, your teams' and your own")
    def list_canned(self, caller: Caller) -> list[CannedView]:
        with connection():
            return queries.canned_responses(caller.id)

    @post(summary="Save a canned response (checked like campaign texts)")
    def create(self, caller: Caller, data: CannedBody) -> CannedView:
        with connection():
            return commands.create_canned(caller.id, data.name, data.message.content(), shared=data.shared,
                                          team_id=data.team_id)

    @get("/{canned_id:str}", summary="One canned response")
    def get_canned(self, caller: Caller, canned_id: IdParam) -> CannedView:
        with connection():
            return queries.canned_response(caller.id, canned_id)

    @patch("/{canned_id:str}", summary="Change a canned response (yours, or as an admin a shared one)")
    def update(self, caller: Caller, canned_id: IdParam, data: CannedPatchBody) -> CannedView:
        with connection():
            return commands.update_canned(caller.id, canned_id, name=data.name, shared=data.shared,
                                          content=data.message.content() if data.message else None)

    @delete("/{canned_id:str}", status_code=204, summary="Delete a canned response")
    def remove(self, caller: Caller, canned_id: IdParam) -> None:
        with connection():
            commands.delete_canned(caller.id, canned_id)

    @get("/{canned_id:str}/render", summary="Filled in for a conversation's person (text and button titles)")
    def render(self, caller: Caller, canned_id: IdParam, conversation_id: ConversationParam) -> MessageContent:
        with connection():
            return queries.render_canned(caller.id, canned_id, conversation_id)
