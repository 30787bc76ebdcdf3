"""`/api/v1/attributes` (custom contact attributes: admins define, everyone lists) and
`/api/v1/contacts/{id}/attributes` (staff set or clear a contact's values). A contact's values are
also in `GET /contacts/{id}` (`attributes`)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller
from litestar.params import Parameter

from api.guards import Caller, requires
from api.resources import delete, get, post, put
from api.schemas import IdParam
from api.schemas_reports import AttributeBody, AttributeValuesBody
from bot import commands, queries
from bot.helpdesk.attributes import AttributeView
from bot.platform.db import connection
from bot.staff.permissions import Action

KeyParam = Annotated[str, Parameter(max_length=50, description="the attribute's key")]


class AttributeController(Controller):
    path = "/attributes"
    tags = ["contacts"]
    guards = [requires(Action.WORK_INBOX)]

    @get(summary="The custom contact attributes, by key")
    def list_attributes(self) -> list[AttributeView]:
        with connection():
            return queries.attribute_definitions()

    @post(summary="Define a custom attribute (text, number, date or list of choices)",
          guards=[requires(Action.MANAGE_ATTRIBUTES)])
    def define(self, data: AttributeBody) -> AttributeView:
        with connection():
            return commands.define_attribute(data.key, data.label, data.kind, data.choices)

    @delete("/{key:str}", status_code=204, summary="Delete an attribute and every contact's value of it",
            guards=[requires(Action.MANAGE_ATTRIBUTES)])
    def remove(self, key: KeyParam) -> None:
        with connection():
            commands.remove_attribute(key)


class ContactAttributeController(Controller):
    path = "/contacts/{contact_id:str}/attributes"
    tags = ["contacts"]
    guards = [requires(Action.WORK_INBOX)]

    @put(summary="Set (or with null clear) some of a contact's attribute values; returns all of them")
    def set_values(self, caller: Caller, contact_id: IdParam, data: AttributeValuesBody) -> dict[str, str]:
        with connection():
            return commands.set_contact_attributes(contact_id, data.values, caller.id)

    @delete("/{key:str}", status_code=200, summary="Clear one value; returns the contact's values")
    def clear(self, caller: Caller, contact_id: IdParam, key: KeyParam) -> dict[str, str]:
        with connection():
            return commands.clear_contact_attribute(contact_id, key, caller.id)


ATTRIBUTE_CONTROLLERS = [AttributeController, ContactAttributeController]
