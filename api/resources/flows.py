"""`/api/v1/flows`: bot flows as data: list, read, create, replace, delete, and import/export
as YAML or JSON documents. Validation errors are 422 naming the field. Admins only."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response
from litestar.params import Parameter

from api.guards import requires
from api.resources import delete, get, post, put
from api.schemas import IdParam
from bot.automation.flows import store
from bot.automation.flows.spec import FlowSpec, to_dot
from bot.platform.db import connection
from bot.platform.models import Flow
from bot.staff.permissions import Action

Format = Annotated[Literal["yaml", "json"], Parameter(description="document format")]


class FlowView(msgspec.Struct):
    id: int
    name: str
    title: str
    channel_id: int | None
    is_active: bool
    definition: FlowSpec
    dot: str  # the machine as graphviz DOT
    created_at: int
    updated_at: int


class FlowDocument(msgspec.Struct, forbid_unknown_fields=True):
    """A flow as a YAML or JSON text (what export gives and import takes)."""

    document: str
    format: Literal["yaml", "json"] = "yaml"


class FlowController(Controller):
    path = "/flows"
    tags = ["flows"]
    guards = [requires(Action.MANAGE_FLOWS)]

    @get(summary="List bot flows")
    def list_flows(self) -> list[FlowView]:
        with connection():
            return [_view(row) for row in store.list_flows()]

    @post(summary="Create a bot flow")
    def create(self, data: FlowSpec) -> FlowView:
        with connection():
            return _view(store.save(data))

    @post("/import", status_code=200, summary="Import a flow document (replaces a flow of the same name)")
    def import_document(self, data: FlowDocument) -> FlowView:
        with connection():
            return _view(store.import_text(data.document, data.format))

    @get("/{flow_id:str}", summary="A bot flow")
    def get_flow(self, flow_id: IdParam) -> FlowView:
        with connection():
            return _view(store.load(flow_id)[0])

    @get("/{flow_id:str}/export", summary="A flow as a YAML or JSON document")
    def export(self, flow_id: IdParam, format: Format = "yaml") -> Response[str]:
        with connection():
            text = store.export_text(flow_id, format)
        media = "application/json" if format == "json" else "application/yaml"
        return Response(text, media_type=media)

    @put("/{flow_id:str}", summary="Replace a bot flow's definition")
    def update(self, flow_id: IdParam, data: FlowSpec) -> FlowView:
        with connection():
            store.load(flow_id)  # 404 first
            return _view(store.save(data, flow_id))

    @delete("/{flow_id:str}", summary="Delete a bot flow")
    def remove(self, flow_id: IdParam) -> None:
        with connection():
            store.delete(flow_id)


def _view(row: Flow) -> FlowView:
    spec = store.spec_of(row)
    return FlowView(
        id=row.id,
        name=row.name,
        title=row.title,
        channel_id=row.channel_id,
        is_active=row.is_active,
        definition=spec,
        dot=to_dot(spec),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
