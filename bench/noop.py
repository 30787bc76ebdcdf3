"""The floor of the stack for `bench.ingest`: a Litestar endpoint that only reads the body and
answers 200, served by the same uvicorn (uvloop + httptools) with the same number of processes
as the API. Whatever socialdesk does beyond this costs the difference.

    uvicorn bench.noop:app --workers 2
"""

from __future__ import annotations

from litestar import Litestar, Request, Response, post


@post("/noop", status_code=200)
async def noop(request: Request) -> Response[str]:
    await request.body()
    return Response("EVENT_RECEIVED", media_type="text/plain")


app = Litestar(route_handlers=[noop], openapi_config=None, debug=False)
