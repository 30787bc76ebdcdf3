"""The sandbox Graph API as a Litestar app: Meta's Graph API under `/graph/{version}/...`, the
Instagram host (Instagram Login, graph.instagram.com) under `/instagram/{version}/...`, and the
control API under `/control/...`.

socialdesk mounts it (embedded mode, usually at "/sandbox") or runs it alone (scale-out mode,
`python -m sandbox`). State lives in memory in this one process: run a single worker.
"""

from __future__ import annotations

from litestar import Litestar, Request, Response, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from sandbox.control_api import ControlController
from sandbox.customer_api import CustomerController
from sandbox.graph_api import graph, instagram_graph
from sandbox.records import Config
from sandbox.runtime import ControlError, Sandbox
from sandbox.store import Store
from sandbox.webhooks import Webhooks

# Meta documents no body limit for Graph calls; uploads go by URL here, so 16 MiB is plenty.
MAX_BODY_BYTES = 16 * 1024 * 1024


def create_sandbox_app(app_secret: str, webhook_url: str | None = None, *, path_prefix: str = "") -> Litestar:
    """A fresh sandbox with its own empty world.

    `app_secret` signs webhooks (X-Hub-Signature-256); `webhook_url` is where they go (settable
    later through `/control/config`); `path_prefix` is prepended to every route.
    """
    sandbox = build_sandbox(app_secret, webhook_url)
    prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else "/"
    router = Router(
        path=prefix,
        route_handlers=[graph, instagram_graph, ControlController, CustomerController],
        dependencies={"sandbox": Provide(lambda: sandbox, use_cache=True, sync_to_thread=False)},
        exception_handlers={ControlError: _control_error},
        request_max_body_size=MAX_BODY_BYTES,
    )
    app = Litestar(
        route_handlers=[router],
        on_shutdown=[sandbox.webhooks.aclose],
        logging_config=None,  # the hosting process's logging (one format), not Litestar's own
        openapi_config=OpenAPIConfig(
            title="socialdesk sandbox Graph API", version="1", path=f"{prefix.rstrip('/')}/schema"
        ),
    )
    app.state.sandbox = sandbox
    return app


def build_sandbox(app_secret: str, webhook_url: str | None = None) -> Sandbox:
    store = Store(Config(app_secret=app_secret, webhook_url=webhook_url))
    return Sandbox(store=store, webhooks=Webhooks(store))


def _control_error(_: Request, exc: ControlError) -> Response:
    return Response(content={"error": exc.message}, status_code=exc.status)
