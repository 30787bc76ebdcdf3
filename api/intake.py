"""Reading a webhook body without letting a stranger spend our memory or our time.

The endpoint faces the internet, and until its signature is checked a body is anybody's. So:
- the header is checked first: a request without a well-formed `X-Hub-Signature-256` is refused
  before a byte of its body is read (the signature module decides what is well-formed);
- the body is read as it streams in, feeding the HMAC chunk by chunk, within a deadline
  (a sender trickling bytes is cut off with 408);
- the bytes held by bodies being read or waiting for their commit are counted per process
  against a budget: a body that would pass it is answered 503 at once (Meta retries, §1), so
  twenty 15 MiB bodies with made-up signatures hold at most the budget, not 300 MiB.

It works on the raw ASGI scope and `receive` (the webhook is served in front of Litestar, see
`api.webhooks`), and says no with `Refusal`, which `api.webhooks` turns into the answer.

One event loop per server process, so the budget needs no lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar.types import HTTPScope, Receive

from bot.meta.signature import StreamingVerifier, header_digest

SIGNATURE_HEADER = b"x-hub-signature-256"
Headers = tuple[tuple[bytes, bytes], ...]
# Every refusal of a sender closes the connection: otherwise the server would go on reading (and
# a slow sender go on trickling) the rest of a body nobody wants, to keep the connection alive.
CLOSE: Headers = ((b"connection", b"close"),)
RETRY_SOON: Headers = ((b"retry-after", b"1"), *CLOSE)


class Refusal(Exception):
    """An answer other than 200: the status, what is wrong, and the headers to send with it."""

    def __init__(self, status: int, detail: str, headers: Headers = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


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


def header(scope: HTTPScope, name: bytes) -> bytes | None:
    """The first value of the header `name` (lowercase, as ASGI servers give names), or None: a
    scan of the few headers a webhook carries costs less than building a mapping of them."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def required_digest(scope: HTTPScope) -> str:
    """The signature's hex digest, or 403 naming what is wrong: checked before the body."""
    raw = header(scope, SIGNATURE_HEADER)
    if not raw:
        raise Refusal(403, "X-Hub-Signature-256 header is missing", CLOSE)
    digest = header_digest(raw.decode("latin-1"))
    if digest is None:
        raise Refusal(403, "X-Hub-Signature-256 header is malformed: expected sha256=<64 hex digits>", CLOSE)
    return digest


@asynccontextmanager
async def signed_body(scope: HTTPScope, receive: Receive, *, secret: str, digest: str, budget: BodyBudget,
                      max_body: int, read_seconds: float) -> AsyncIterator[bytes]:
    """The whole body once its signature is verified, its bytes counted in `budget` until the
    caller's block ends (the commit). 413 over `max_body`, 408 past `read_seconds`, 503 over
    the budget, 403 when the signature does not match."""
    held = _Held(budget)
    try:
        declared = _declared_length(scope)
        if declared is not None:
            held.reserve(min(declared, max_body + 1), max_body)
        try:
            async with asyncio.timeout(read_seconds):
                body = await _read(receive, StreamingVerifier(secret, digest), held, declared, max_body)
        except TimeoutError:
            raise Refusal(408, f"the body was not received within {read_seconds:g} s", CLOSE) from None
        yield body
    finally:
        held.release()


async def _read(receive: Receive, verifier: StreamingVerifier, held: _Held, declared: int | None,
                max_body: int) -> bytes:
    """Stream the body into one buffer, updating the HMAC per chunk; chunked bodies (no length
    announced) take budget as they grow. A client gone before the end is a 500 (nothing stored,
    and nobody is left to read the answer)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(500, "Internal Server Error")
        chunk = message.get("body", b"")
        if len(body) + len(chunk) > max_body:
            raise Refusal(413, f"body larger than {max_body} bytes", CLOSE)
        if declared is None:
            held.reserve(len(chunk), max_body)
        verifier.update(chunk)
        body += chunk
        if not message.get("more_body", False):
            break
    if not verifier.matches():
        raise Refusal(403, "X-Hub-Signature-256 does not match the body", CLOSE)
    return bytes(body)


class _Held:
    """What one request has taken from the budget, so it gives back exactly that."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self._size = 0

    def reserve(self, size: int, max_body: int) -> None:
        if size > max_body:
            raise Refusal(413, f"body larger than {max_body} bytes", CLOSE)
        if not self._budget.take(size):
            raise Refusal(503, "too many webhook bodies are being received; retry later", RETRY_SOON)
        self._size += size

    def release(self) -> None:
        self._budget.give(self._size)
        self._size = 0


def _declared_length(scope: HTTPScope) -> int | None:
    raw = header(scope, b"content-length")
    if raw is None:
        return None
    try:
        return max(int(raw), 0)
    except ValueError:
        raise Refusal(400, "Content-Length is not a number") from None
