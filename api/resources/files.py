"""`/api/v1/files`: attach a file from one's computer. Agents and admins.

`POST /files?name=photo.jpg` with the file's bytes as the body (any Content-Type) keeps it and
answers its id; a reply then names it as an attachment `{"type": "image", "file_id": "<id>"}`
and socialdesk uploads it to the page through Meta's Attachment Upload API when it is sent.

The body is streamed, never held whole: it is refused as soon as it passes the size limit
(`SOCIALDESK_UPLOAD_MAX_MIB`, Meta's 25 MB at most), and a Content-Length above it is refused
before anything is read. That is why these routes sit in their own router, without the REST
router's NUL check (which reads whole bodies, and a binary file holds NUL bytes).

`GET /files/{id}` gives the bytes back to staff as a download (`Content-Disposition: attachment`,
`X-Content-Type-Options: nosniff`, a sandboxing Content-Security-Policy): a file a customer
could have crafted is never rendered or run in the API's origin.
"""

from __future__ import annotations

import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, BinaryIO, Literal

import anyio
from litestar import Controller, Request, Router
from litestar import get as _get
from litestar import post as _post
from litestar.di import Provide
from litestar.params import Parameter
from litestar.response import Stream

from api.errors import ERROR_RESPONSES, EXCEPTION_HANDLERS
from api.guards import Caller, authenticated, provide_caller, requires
from bot import commands, queries
from bot.core.errors import Invalid
from bot.outbound.attachments import FileView
from bot.platform import runtime
from bot.platform.db import connection
from bot.platform.files import read_chunks
from bot.staff.permissions import Action

MB = 1024 * 1024
FileId = Annotated[str, Parameter(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
FileName = Annotated[str, Parameter(min_length=1, max_length=255, description="the file's name, for staff")]
MediaType = Literal["image", "video", "audio", "file"]
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


class FileController(Controller):
    path = "/files"
    tags = ["files"]
    guards = [requires(Action.WORK_INBOX)]

    @_post(status_code=201, request_max_body_size=None, responses=ERROR_RESPONSES,
           summary="Keep a file to attach (the body is the file's bytes)")
    async def upload(self, request: Request, caller: Caller, name: FileName,
                     type: MediaType | None = None) -> FileView:
        limit = runtime.settings().upload_max_mib * MB
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Invalid("file", f"the file is larger than {limit // MB} MB: Meta takes files up to "
                                  f"{limit // MB} MB")
        with tempfile.SpooledTemporaryFile(max_size=MB) as spool:
            await _receive(request.stream(), spool, limit)
            spool.seek(0)
            return await anyio.to_thread.run_sync(_keep, caller.id, spool, name, type)

    @_get("/{file_id:str}", sync_to_thread=True, responses=ERROR_RESPONSES,
          summary="Download a file (always as an attachment, never rendered)")
    def download(self, file_id: FileId) -> Stream:
        with connection():
            view, stream = queries.stored_file(file_id)
        quoted = urllib.parse.quote(view.name, safe="")
        headers = dict(SAFE_HEADERS, **{"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
                                       "Content-Length": str(view.size)})
        # Litestar adds `charset=utf-8` to text types itself.
        return Stream(_chunks(stream), media_type=view.content_type, headers=headers)


async def _receive(chunks: AsyncIterator[bytes], spool: BinaryIO, limit: int) -> None:
    """Copy the body, stopping one byte past the limit (the command then refuses it by size)."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        spool.write(chunk)
        if size > limit:
            return


def _keep(user_id: int, spool: BinaryIO, name: str, declared: str | None) -> FileView:
    with connection():
        return commands.upload_file(user_id, read_chunks(spool), name, declared)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        yield from read_chunks(stream)


def files_router(prefix: str, security: list[dict[str, list[str]]]) -> Router:
    """The files routes under the REST prefix: same token, roles and error table."""
    return Router(path=prefix, route_handlers=[FileController], guards=[authenticated], security=security,
                  dependencies={"caller": Provide(provide_caller, sync_to_thread=False)},
                  exception_handlers=EXCEPTION_HANDLERS)
