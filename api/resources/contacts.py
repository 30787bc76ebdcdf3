"""`/api/v1/contacts`: people, searchable by name or Instagram username, and their tags.
Agents and admins."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller
from litestar.params import Parameter

from api.guards import requires
from api.resources import delete, get, post
from api.schemas import MAX_NAME, IdParam, PageParam, PageSizeParam, TagBody, TagList
from bot import commands, queries
from bot.platform.db import connection
from bot.queries import ContactPage, ContactView
from bot.staff.permissions import Action


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]
    guards = [requires(Action.WORK_INBOX)]

    @get(summary="List contacts, most recently updated first; `search` matches names and usernames")
    def list_contacts(self, search: Annotated[str | None, Parameter(max_length=MAX_NAME)] = None,
                      page: PageParam = 1, page_size: PageSizeParam = queries.PAGE_SIZE) -> ContactPage:
        with connection():
            return queries.contact_page(search, page, page_size)

    @get("/{contact_id:str}", summary="A contact with identities, conversations and tags")
    def get_contact(self, contact_id: IdParam) -> ContactView:
        with connection():
            return queries.contact_view(contact_id)

    @post("/{contact_id:str}/tags", status_code=200, summary="Add a tag")
    def add_tag(self, contact_id: IdParam, data: TagBody) -> TagList:
        with connection():
            return TagList(commands.add_tag(contact_id, data.tag))

    @delete("/{contact_id:str}/tags/{tag:str}", status_code=200, summary="Remove a tag")
    def remove_tag(self, contact_id: IdParam, tag: Annotated[str, Parameter(max_length=MAX_NAME)]) -> TagList:
        with connection():
            return TagList(commands.remove_tag(contact_id, tag))
