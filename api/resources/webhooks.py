"""`/api/v1/webhooks`: outgoing webhook endpoints, their secrets and delivery logs. Admins only.

Each delivery is a JSON POST `{"id", "event", "created_at", "data"}` signed with
`X-Socialdesk-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the
endpoint's `secret`; failed deliveries are retried with growing delays (see `bot.outbound.outhooks`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller
from litestar.params import Parameter

from api.guards import Caller, requires
from api.resources import delete, get, patch, post
from api.schemas import IdParam, WebhookBody, WebhookPatchBody
from bot.outbound import outhooks
from bot.outbound.outhooks import DeliveryView, EndpointView
from bot.platform.db import connection
from bot.staff.permissions import Action


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    guards = [requires(Action.MANAGE_WEBHOOKS)]

    @get(summary="List endpoints (with their signing secrets)")
    def list_endpoints(self) -> list[EndpointView]:
        with connection():
            return outhooks.endpoints()

    @get("/events", summary="The events an endpoint can subscribe to")
    def list_events(self) -> list[str]:
        return list(outhooks.EVENTS)

    @post(summary="Register an endpoint; the answer carries its signing secret")
    def register(self, caller: Caller, data: WebhookBody) -> EndpointView:
        with connection():
            return outhooks.register(data.url, list(data.events), description=data.description,
                                     user_id=caller.id)

    @get("/{endpoint_id:str}", summary="An endpoint")
    def get_endpoint(self, endpoint_id: IdParam) -> EndpointView:
        with connection():
            return outhooks.endpoint(endpoint_id)

    @patch("/{endpoint_id:str}", summary="Change the URL, events, description, or pause it (is_active)")
    def change(self, endpoint_id: IdParam, data: WebhookPatchBody) -> EndpointView:
        with connection():
            events = None if data.events is None else list(data.events)
            return outhooks.update(endpoint_id, url=data.url, events=events, description=data.description,
                                   is_active=data.is_active)

    @delete("/{endpoint_id:str}", summary="Delete an endpoint and its delivery log")
    def remove(self, endpoint_id: IdParam) -> None:
        with connection():
            outhooks.remove(endpoint_id)

    @post("/{endpoint_id:str}/rotate-secret", status_code=200, summary="Replace the signing secret")
    def rotate_secret(self, endpoint_id: IdParam) -> EndpointView:
        with connection():
            return outhooks.rotate_secret(endpoint_id)

    @get("/{endpoint_id:str}/deliveries", summary="The delivery log, newest first")
    def deliveries(self, endpoint_id: IdParam,
                   status: Literal["pending", "sending", "delivered", "failed"] | None = None,
                   limit: Annotated[int, Parameter(ge=1, le=500)] = 50) -> list[DeliveryView]:
        with connection():
            return outhooks.delivery_log(endpoint_id, status=status, limit=limit)
