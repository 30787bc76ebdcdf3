"""Reading a webhook body without letting a stranger spend our memory or our time.

The endpoint faces the internet, and until its signature is checked a body is anybody's. So:
- the header is checked first: a request without a well-formed `X-Hub-Signature-256` is refused
  before a byte of its body is read (the signature module decides what is well-formed);
- the body is read as it streams in, feeding the HMAC chunk by chunk, within a deadline
  (a sender trickling bytes is cut off with 408);
- the bytes held by bodies being read or waiting for their commit are counted per process
  against a budget: a body that would pass it is answered 503 at once (Meta retries, §1), so
  twenty 15 MiB bodies with made-up signatures hold at most the budget, not 300 MiB.

One event loop per server process, so the budget needs no lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Request
from litestar.exceptions import ClientException, HTTPException, PermissionDeniedException

from bot.meta.signature import StreamingVerifier, header_digest

SIGNATURE_HEADER = "x-hub-signature-256"
# Every refusal closes the connection: otherwise the server would go on reading (and a slow
# sender go on trickling) the rest of a body nobody wants, to keep the connection alive.
CLOSE = {"Connection": "close"}


class BodyBudget:
    """Bytes of webhook bodies this process holds at once (being read, or waiting for their
    commit). Taken before the bytes are read, given back once the delivery is committed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


def required_digest(request: Request) -> str:
    """The signature's hex digest, or 403 naming what is wrong: checked before the body."""
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise PermissionDeniedException("X-Hub-Signature-256 header is missing", headers=CLOSE)
    digest = header_digest(header)
    if digest is None:
        raise PermissionDeniedException("X-Hub-Signature-256 header is malformed: expected sha256=<64 hex digits>",
                                        headers=CLOSE)
    return digest


@asynccontextmanager
async def signed_body(request: Request, *, secret: str, digest: str, budget: BodyBudget, max_body: int,
                      read_seconds: float) -> AsyncIterator[bytes]:
    """The whole body once its signature is verified, its bytes counted in `budget` until the
    caller's block ends (the commit). 413 over `max_body`, 408 past `read_seconds`, 503 over
    the budget, 403 when the signature does not match."""
    held = _Held(budget)
    try:
        declared = _declared_length(request)
        if declared is not None:
            held.reserve(min(declared, max_body + 1), max_body)
        try:
            async with asyncio.timeout(read_seconds):
                body = await _read(request, digest, secret, held, declared, max_body)
        except TimeoutError:
            raise HTTPException(status_code=408, detail=f"the body was not received within {read_seconds:g} s",
                                headers=CLOSE) from None
        yield body
    finally:
        held.release()


async def _read(request: Request, digest: str, secret: str, held: _Held, declared: int | None,
                max_body: int) -> bytes:
    """Stream the body into one buffer, updating the HMAC per chunk; chunked bodies (no length
    announced) take budget as they grow."""
    verifier = StreamingVerifier(secret, digest)
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > max_body:
            raise ClientException(status_code=413, detail=f"body larger than {max_body} bytes", headers=CLOSE)
        if declared is None:
            held.reserve(len(chunk), max_body)
        verifier.update(chunk)
        body += chunk
    if not verifier.matches():
        raise PermissionDeniedException("X-Hub-Signature-256 does not match the body", headers=CLOSE)
    return bytes(body)


class _Held:
    """What one request has taken from the budget, so it gives back exactly that."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self._size = 0

    def reserve(self, size: int, max_body: int) -> None:
        if size > max_body:
            raise ClientException(status_code=413, detail=f"body larger than {max_body} bytes", headers=CLOSE)
        if not self._budget.take(size):
            raise HTTPException(status_code=503, detail="too many webhook bodies are being received; retry later",
                                headers={"Retry-After": "1", **CLOSE})
        self._size += size

    def release(self) -> None:
        self._budget.give(self._size)
        self._size = 0


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return max(int(raw), 0)
    except ValueError:
        raise ClientException(status_code=400, detail="Content-Length is not a number") from None
