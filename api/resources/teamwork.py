"""Contact merges and assignment rules over REST: `/api/v1/contacts/{id}/merge` and `/merges`,
`/api/v1/contact-merges/suggestions` and `/{id}/undo`, `/api/v1/channels/{id}/assignment`, and
each staff member's availability at `/api/v1/me/availability` (admins: `/users/{id}/availability`)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller
from litestar.params import Parameter

from api.guards import Caller, requires
from api.resources import get, post, put
from api.schemas import IdParam
from api.schemas_teamwork import AvailabilityBody, AvailabilityOut, MergeBody, RuleBody
from bot import commands, queries
from bot.automation.assignment import RuleView
from bot.helpdesk.merge import MAX_SUGGESTIONS, MergeView, Suggestion
from bot.platform.db import connection
from bot.staff.permissions import Action


class ContactMergeController(Controller):
    path = "/contacts/{contact_id:str}"
    tags = ["contacts"]
    guards = [requires(Action.WORK_INBOX)]

    @post("/merge", summary="Merge another contact into this one (recorded; undo with /contact-merges/{id}/undo)")
    def merge(self, caller: Caller, contact_id: IdParam, data: MergeBody) -> MergeView:
        with connection():
            return commands.merge_contacts(caller.id, contact_id, data.merged_id)

    @get("/merges", summary="The merges into this contact, newest first (undone ones included)")
    def merges(self, contact_id: IdParam) -> list[MergeView]:
        with connection():
            return queries.contact_merges(contact_id)


class MergeController(Controller):
    path = "/contact-merges"
    tags = ["contacts"]
    guards = [requires(Action.WORK_INBOX)]

    @get("/suggestions", summary="Pairs of contacts that look like one person, with the reasons")
    def suggestions(self, limit: Annotated[int, Parameter(ge=1, le=MAX_SUGGESTIONS)] = 50) -> list[Suggestion]:
        with connection():
            return queries.merge_suggestions(limit)

    @post("/{merge_id:str}/undo", status_code=200, summary="Undo a merge: exactly what moved goes back")
    def undo(self, caller: Caller, merge_id: IdParam) -> MergeView:
        with connection():
            return commands.unmerge_contacts(caller.id, merge_id)


class AssignmentController(Controller):
    path = "/channels/{channel_id:str}/assignment"
    tags = ["channels"]
    guards = [requires(Action.VIEW_CHANNELS)]

    @get(summary="The channel's assignment rule (round-robin among available staff, with a cap)")
    def rule(self, channel_id: IdParam) -> RuleView:
        with connection():
            return queries.assignment_rule(channel_id)

    @put(summary="Change the channel's assignment rule", guards=[requires(Action.MANAGE_CHANNELS)])
    def set_rule(self, channel_id: IdParam, data: RuleBody) -> RuleView:
        with connection():
            return commands.set_assignment_rule(channel_id, enabled=data.enabled, cap=data.cap,
                                                members=list(data.members), team_id=data.team_id)


class AvailabilityController(Controller):
    path = "/"
    tags = ["users"]
    guards = [requires(Action.WORK_INBOX)]

    @get("/me/availability", summary="Whether you take new conversations now")
    def mine(self, caller: Caller) -> AvailabilityOut:
        with connection():
            return AvailabilityOut(user_id=caller.id, available=queries.is_available(caller.id))

    @put("/me/availability", summary="Take new conversations, or stop (your open ones are handed on)")
    def set_mine(self, caller: Caller, data: AvailabilityBody) -> AvailabilityOut:
        return _set(caller.id, data.available)

    @put("/users/{user_id:str}/availability", summary="Mark a staff member available or not (admins)",
         guards=[requires(Action.MANAGE_USERS)])
    def set_theirs(self, user_id: IdParam, data: AvailabilityBody) -> AvailabilityOut:
        return _set(user_id, data.available)


def _set(user_id: int, available: bool) -> AvailabilityOut:
    with connection():
        handed = commands.set_availability(user_id, available)
    return AvailabilityOut(user_id=user_id, available=available, handed_on=[list(m) for m in handed.moves])


TEAMWORK_CONTROLLERS = [ContactMergeController, MergeController, AssignmentController, AvailabilityController]
