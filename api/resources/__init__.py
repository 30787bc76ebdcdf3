"""One controller per REST resource. Every handler does three things: read the caller and the
decoded input, call one `bot` service inside a database connection, return its read model.

The decorators below are Litestar's with the two settings every handler shares: it runs in a
worker thread (peewee is synchronous and its connections are per thread) and documents the
JSON error answers of `api.errors`.

Ids in paths are declared `{x_id:str}` and typed `IdParam` (an integer) in the handler: the
route always matches and a bad id is a 422 naming the parameter from our error table, rather
than a routing miss answered outside this router with Litestar's default body.
"""

from __future__ import annotations

from functools import partial

from litestar import delete as _delete
from litestar import get as _get
from litestar import patch as _patch
from litestar import post as _post
from litestar import put as _put

from api.errors import ERROR_RESPONSES

get = partial(_get, sync_to_thread=True, responses=ERROR_RESPONSES)
post = partial(_post, sync_to_thread=True, responses=ERROR_RESPONSES)
put = partial(_put, sync_to_thread=True, responses=ERROR_RESPONSES)
patch = partial(_patch, sync_to_thread=True, responses=ERROR_RESPONSES)
delete = partial(_delete, sync_to_thread=True, responses=ERROR_RESPONSES)
