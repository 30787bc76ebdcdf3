"""The Litestar application: Meta's webhook, health, the REST API and, in sandbox mode, the
built-in sandbox Graph API mounted under /sandbox."""

from __future__ import annotations

from litestar import Litestar, asgi
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components
from litestar.types import Receive, Scope, Send

from api.health import health
from api.redirects import follow_link
from api.rest import SECURITY_SCHEMES, rest_router
from api.webhooks import MetaWebhook
from bot.platform import runtime
from bot.platform.settings import SANDBOX_PREFIX, Settings


def create_app(settings: Settings | None = None, *, mount_sandbox: bool | None = None) -> Litestar:
    """Build the API for `settings` (booting this process if needed)."""
    settings = runtime.boot(settings)
    handlers: list = [MetaWebhook, health, follow_link, rest_router()]
    if settings.sandbox if mount_sandbox is None else mount_sandbox:
        handlers.append(_sandbox_mount(settings))
    return Litestar(
        route_handlers=handlers,
        openapi_config=OpenAPIConfig(title="socialdesk", version="0.1.0", path="/schema",
                                     components=Components(security_schemes=SECURITY_SCHEMES)),
        debug=False,
    )


def _sandbox_mount(settings: Settings):  # noqa: ANN202 - a Litestar ASGI handler
    from sandbox.app import create_sandbox_app

    webhook_url = f"http://127.0.0.1:{settings.api_port}/webhooks/meta"
    sandbox = create_sandbox_app(settings.meta_app_secret, webhook_url)

    @asgi(SANDBOX_PREFIX, is_mount=True, copy_scope=True)
    async def sandbox_app(scope: Scope, receive: Receive, send: Send) -> None:
        await sandbox(scope, receive, send)

    return sandbox_app
