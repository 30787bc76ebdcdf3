"""The Litestar application: Meta's webhook, health, metrics, the REST API and, in sandbox mode,
the built-in sandbox Graph API mounted under /sandbox (its control API for local requests only,
and never when the Graph API in use is Meta's)."""

from __future__ import annotations

import logging

from litestar import Litestar, asgi, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components
from litestar.types import LifeSpanReceive, LifeSpanScope, LifeSpanSend, Receive, Scope, Send

from api import webhooks
from api.health import health
from api.local import is_local
from api.metrics import metrics_endpoint
from api.redirects import follow_link
from api.rest import SECURITY_SCHEMES, rest_routers
from bot.platform import collector, logs, runtime
from bot.platform.settings import SANDBOX_PREFIX, Settings, is_meta_graph

WEBHOOK_PATH = webhooks.PATH


class Api(Litestar):
    """Litestar, with Meta's webhook deliveries served in front of it (`api.webhooks.serve`, raw
    ASGI): the one request taken thousands of times a second skips the router, the request,
    dependency, response and exception layers, which cost more than the delivery's own work."""

    async def __call__(self, scope: Scope | LifeSpanScope, receive: Receive | LifeSpanReceive,
                       send: Send | LifeSpanSend) -> None:
        if scope["type"] == "http" and webhooks.is_delivery(scope):
            await webhooks.serve(scope, receive, send)  # type: ignore[arg-type]
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, mount_sandbox: bool | None = None) -> Litestar:
    """Build the API for `settings` (booting this process if needed)."""
    if not logging.getLogger().handlers:  # an `api --workers N` process, spawned without our logging
        logs.configure()
    settings = runtime.boot(settings)
    handlers: list = [index, webhooks.MetaWebhook, health, metrics_endpoint, follow_link, *rest_routers()]
    if _mounts_sandbox(settings, mount_sandbox):
        handlers.append(_sandbox_mount(settings))
    return Api(
        route_handlers=handlers,
        openapi_config=OpenAPIConfig(title="socialdesk", version="0.1.0", path="/schema",
                                     components=Components(security_schemes=SECURITY_SCHEMES)),
        logging_config=None,  # logging is the process's (bot.platform.logs): one format, not Litestar's second
        debug=False,
    )


def serve_app() -> Litestar:
    """The API as a server process runs it (`socialdesk api`'s uvicorn factory): built, then the
    collector settled (`bot.platform.collector`; not in `create_app`, which tests call many times)."""
    app = create_app()
    collector.settle()
    return app


@get("/", include_in_schema=False, sync_to_thread=False)
def index() -> dict[str, str]:
    """What is here, for someone who opens the API's address in a browser."""
    settings = runtime.settings()
    return {"name": "socialdesk", "dashboard": f"http://127.0.0.1:{settings.dashboard_port}",
            "health": "/health", "metrics": "/metrics", "rest_api": "/api/v1", "openapi": "/schema",
            "webhook": WEBHOOK_PATH}


def _mounts_sandbox(settings: Settings, asked: bool | None) -> bool:
    """Only in sandbox mode (or when a caller asks), and never in front of Meta's Graph API."""
    wanted = settings.sandbox if asked is None else asked
    return wanted and not is_meta_graph(settings.graph_api_url)


def _sandbox_mount(settings: Settings):  # noqa: ANN202 - a Litestar ASGI handler
    from sandbox.app import create_sandbox_app

    webhook_url = f"http://127.0.0.1:{settings.api_port}{WEBHOOK_PATH}"
    sandbox = create_sandbox_app(settings.meta_app_secret, webhook_url)

    @asgi(SANDBOX_PREFIX, is_mount=True, copy_scope=True)
    async def sandbox_app(scope: Scope, receive: Receive, send: Send) -> None:
        if not _graph_path(scope) and not is_local(scope):
            await _refuse(send)
            return
        await sandbox(scope, receive, send)

    return sandbox_app


def _graph_path(scope: Scope) -> bool:
    """The emulated Graph API (token-protected, as Meta's) is open; the control and customer APIs
    (the app secret, page tokens, where webhooks go, playing customers) are the local operator's."""
    path = scope["path"]
    return path.startswith("/graph/") or path.startswith(f"{SANDBOX_PREFIX}/graph/")


async def _refuse(send: Send) -> None:
    body = b'{"error":"the sandbox control API answers local requests only"}'
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
