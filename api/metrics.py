"""`GET /metrics`: Prometheus' exposition of `bot.platform.metrics`. Protected: with
`SOCIALDESK_METRICS_TOKEN` set a scrape needs `Authorization: Bearer <token>`; without it only
local, unproxied requests are answered (a Prometheus on the same host, or an SSH tunnel)."""

from __future__ import annotations

import hmac

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from api.local import is_local
from bot import backlog
from bot.platform import metrics, runtime
from bot.platform.db import connection


@get("/metrics", sync_to_thread=True, include_in_schema=False)
def metrics_endpoint(request: Request) -> Response[bytes]:
    _authorize(request)
    with connection():
        body = metrics.render(backlog.BacklogCollector())
    return Response(body, media_type=metrics.CONTENT_TYPE)


def _authorize(request: Request) -> None:
    token = runtime.settings().metrics_token
    if token is None:
        if not is_local(request.scope):
            raise PermissionDeniedException("/metrics answers local requests only: set SOCIALDESK_METRICS_TOKEN "
                                            "to scrape it from elsewhere")
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise NotAuthorizedException("a bearer token is required (SOCIALDESK_METRICS_TOKEN)")
