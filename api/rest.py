"""The REST API for integrations: `/api/v1`, bearer tokens, one controller per resource.

Every route requires an API token (`authenticated`, 401) and some an admin (403); errors are
JSON from one table (`api.errors`). The OpenAPI schema is Litestar's, served at `/schema`; it
declares the bearer scheme and requires it on these routes only (the webhook, health and link
routes outside this router take no token), so clients and generators send the header.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme

from api.errors import EXCEPTION_HANDLERS
from api.guards import authenticated, provide_caller
from api.resources.access import SignInController, TokenController
from api.resources.attributes import ATTRIBUTE_CONTROLLERS
from api.resources.campaigns import CampaignController
from api.resources.channels import ChannelController
from api.resources.contacts import ContactController
from api.resources.conversations import ConversationController
from api.resources.deliveries import DeliveryController
from api.resources.files import files_router
from api.resources.flows import FlowController
from api.resources.growth import GROWTH_CONTROLLERS
from api.resources.helpdesk import CannedController, NoteController
from api.resources.reports import ReportController
from api.resources.teams import TEAM_CONTROLLERS
from api.resources.teamwork import TEAMWORK_CONTROLLERS
from api.resources.users import UserController
from api.resources.webhooks import WebhookController
from bot.core.errors import Invalid

PREFIX = "/api/v1"
BEARER = "bearerToken"
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="socialdesk API token",
                           description="An API token from `socialdesk token create`, sent as "
                                       "`Authorization: Bearer <token>`."),
}


def rest_routers() -> list[Router]:
    """The REST API, and its files routes (streamed bodies: `api.resources.files`)."""
    return [rest_router(), files_router(PREFIX, [{BEARER: []}])]


def rest_router() -> Router:
    return Router(
        path=PREFIX,
        route_handlers=[ChannelController, ConversationController, ContactController, CampaignController,
                        FlowController, UserController, WebhookController, NoteController, CannedController,
                        DeliveryController, TokenController, SignInController, *TEAMWORK_CONTROLLERS, *TEAM_CONTROLLERS,
                        *ATTRIBUTE_CONTROLLERS, ReportController, *GROWTH_CONTROLLERS],
        guards=[authenticated],
        security=[{BEARER: []}],
        dependencies={"caller": Provide(provide_caller, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=reject_nul_characters,
    )


async def reject_nul_characters(request: Request) -> None:
    """PostgreSQL cannot store U+0000 in text, so refuse it at the door (422 naming the field)
    rather than fail in the database; SQLite would take it, and both must behave alike."""
    for name, value in [*request.path_params.items(), *request.query_params.items()]:
        if isinstance(value, str) and "\x00" in value:
            raise Invalid(name, "must not contain NUL characters")
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()
        if b"\\u0000" in body or b"\x00" in body:
            raise Invalid(_nul_path(body) or "body", "must not contain NUL characters")


def _nul_path(body: bytes) -> str | None:
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return _find_nul(decoded, "")


def _find_nul(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) holding U+0000."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        child = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key
        if isinstance(key, str) and "\x00" in key:
            return path or "body"
        found = _find_nul(item, child)
        if found:
            return found
    return None
