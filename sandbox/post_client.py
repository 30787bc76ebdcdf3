"""The HTTP/1.1 client that POSTs webhooks: one request shape, kept-alive connections, no extras.

httpx (with httpcore, anyio and h11 underneath) cost more than half of the sandbox's CPU in
`bench.e2e`, for a job that needs a fraction of it: POST a Content-Length body to a configured
URL, read the status, drain the answer (Content-Length, chunked, or until close) so the
connection can carry the next delivery. Everything runs on asyncio streams, never blocking the
loop the sandbox may share with the socialdesk API it posts to.

Retrying is what a Meta-like sender must not get wrong. A reused idle connection that the
server closed (its keep-alive timeout) is found out either before sending (the closed end is
seen) or as a close before any byte of the answer: only then is the request sent again, once,
on a fresh connection. A close after any answer byte, a timeout, or a fresh connection that
fails is an error, never a resend.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

MAX_IDLE_PER_HOST = 16
MAX_HEAD_BYTES = 64 * 1024
_NO_BODY_STATUSES = (204, 304)


class PostFailed(Exception):
    """No status to report: `kind` names what went wrong (httpx's names, e.g. ConnectError,
    ReadTimeout, RemoteProtocolError) so delivery logs read as they did."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class _Phase:
    """Where an exchange is, so a timeout is named like httpx names it (ConnectTimeout...)."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = "Connect"


class _ClosedBeforeAnswer(Exception):
    """The connection ended before a byte of the answer arrived (retryable on a reused one)."""


@dataclass(frozen=True)
class Target:
    """Where a URL's requests go: the pool key, the request-line path and the Host header."""

    scheme: str
    host: str
    port: int
    path: str
    host_header: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


@functools.lru_cache(maxsize=64)
def target_of(url: str) -> Target:
    """Parse once per URL (deliveries go to the same one over and over)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PostFailed("InvalidURL", str(exc)) from None
    if parts.scheme not in ("http", "https"):
        raise PostFailed("UnsupportedProtocol", f"Request URL has an unsupported protocol '{parts.scheme}://'.")
    if not parts.hostname:
        raise PostFailed("InvalidURL", f"No host in URL {url!r}")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    default = 443 if parts.scheme == "https" else 80
    host_header = parts.netloc.rpartition("@")[2]
    return Target(parts.scheme, parts.hostname, port or default, path, host_header)


def encode_request(target: Target, headers: dict[str, str], body: bytes) -> bytes:
    """Head and body in one buffer: one write, one segment on the wire for small bodies."""
    lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.host_header}", f"Content-Length: {len(body)}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    """One TCP (or TLS) connection; `reused` once it carried a complete exchange."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def closed(self) -> bool:
        return self.writer.is_closing() or self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class PostClient:
    """POSTs with kept-alive connections per scheme, host and port. Bound to the event loop it
    first runs on (asyncio streams are), like the httpx client it replaces."""

    def __init__(self, max_idle_per_host: int = MAX_IDLE_PER_HOST) -> None:
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._max_idle = max_idle_per_host
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        """The answer's status; raises PostFailed when there is none within `timeout` seconds
        (connecting, sending and reading the whole answer together)."""
        target = target_of(url)
        request = encode_request(target, headers, body)
        phase = _Phase()
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(target, request, phase)
        except TimeoutError:
            raise PostFailed(f"{phase.name}Timeout", f"no answer within {timeout} s") from None

    async def aclose(self) -> None:
        """Close every idle connection (shutdown)."""
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    async def _exchange(self, target: Target, request: bytes, phase: _Phase) -> int:
        """Send on an idle connection if one is open; once again on a fresh one only when that
        reused connection closed before any byte of the answer (the server timed it out)."""
        connection = self._take_idle(target.key)
        if connection is not None:
            try:
                return await self._send(connection, target, request, phase)
            except _ClosedBeforeAnswer:
                phase.name = "Connect"
        connection = await self._connect(target)
        try:
            return await self._send(connection, target, request, phase)
        except _ClosedBeforeAnswer:
            raise PostFailed("RemoteProtocolError", "Server disconnected without sending a response.") from None

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        """The most recently used open connection; ones the server already closed are dropped
        here, before anything is sent on them."""
        connections = self._idle.get(key)
        while connections:
            connection = connections.pop()
            if not connection.closed():
                return connection
            connection.close()
        return None

    def _give_back(self, key: tuple[str, str, int], connection: _Connection) -> None:
        connections = self._idle.setdefault(key, [])
        if len(connections) >= self._max_idle:
            connection.close()
            return
        connection.reused = True
        connections.append(connection)

    async def _connect(self, target: Target) -> _Connection:
        tls = self._tls_context() if target.scheme == "https" else None
        try:
            reader, writer = await asyncio.open_connection(target.host, target.port, ssl=tls, limit=MAX_HEAD_BYTES)
        except OSError as exc:
            raise PostFailed("ConnectError", str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def _send(self, connection: _Connection, target: Target, request: bytes, phase: _Phase) -> int:
        """One request and its whole answer; the connection goes back to the pool only when
        the answer was complete and both sides keep it alive, and is closed otherwise."""
        keep = False
        try:
            phase.name = "Write"
            await self._write(connection, request)
            phase.name = "Read"
            status, keep = await read_answer(connection.reader, retryable=connection.reused)
        finally:
            if keep:
                self._give_back(target.key, connection)
            else:
                connection.close()
        return status

    async def _write(self, connection: _Connection, request: bytes) -> None:
        try:
            connection.writer.write(request)
            await connection.writer.drain()
        except OSError as exc:
            if connection.reused:  # nothing of the answer yet: the idle connection was gone
                raise _ClosedBeforeAnswer from None
            raise PostFailed("WriteError", str(exc) or type(exc).__name__) from None


async def read_answer(reader: asyncio.StreamReader, *, retryable: bool = False) -> tuple[int, bool]:
    """(status, whether the connection may carry another request). Interim 1xx answers are
    skipped. `retryable`: a close before the first byte raises _ClosedBeforeAnswer."""
    first = True
    while True:
        head = await _read_head(reader, first_answer=first and retryable)
        first = False
        status, headers, http10 = parse_head(head)
        if not 100 <= status < 200:
            break
    keep = not http10 and "close" not in headers.get("connection", "").lower()
    if status in _NO_BODY_STATUSES:
        return status, keep
    await _read_body(reader, headers)
    return status, keep and ("content-length" in headers or "transfer-encoding" in headers)


async def _read_head(reader: asyncio.StreamReader, *, first_answer: bool) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            if first_answer:
                raise _ClosedBeforeAnswer from None
            raise PostFailed("RemoteProtocolError", "Server disconnected without sending a response.") from None
        raise PostFailed("RemoteProtocolError", "Server disconnected in the middle of the answer's head.") from None
    except asyncio.LimitOverrunError:
        raise PostFailed("RemoteProtocolError", "The answer's head is too long.") from None
    except OSError as exc:
        if first_answer:
            raise _ClosedBeforeAnswer from None
        raise PostFailed("ReadError", str(exc) or type(exc).__name__) from None


def parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """(status, headers by lower-case name, whether the answer is HTTP/1.0)."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise PostFailed("RemoteProtocolError", f"Not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return int(code), headers, version == "HTTP/1.0"


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    """Drain the answer's body (nobody reads it, but the next answer starts after it)."""
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await _read_chunks(reader)
        elif "content-length" in headers:
            await reader.readexactly(_length(headers["content-length"]))
        else:
            await reader.read()  # neither: the body ends when the server closes
    except asyncio.IncompleteReadError:
        raise PostFailed("RemoteProtocolError", "Server disconnected before the answer's body ended.") from None
    except asyncio.LimitOverrunError:
        raise PostFailed("RemoteProtocolError", "A chunk size line is too long.") from None
    except OSError as exc:
        raise PostFailed("ReadError", str(exc) or type(exc).__name__) from None


async def _read_chunks(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = _length(size_line.split(b";", 1)[0].strip(), base=16)
        if size == 0:
            break
        await reader.readexactly(size + 2)
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, up to the empty line
        pass


def _length(text: str | bytes, base: int = 10) -> int:
    try:
        value = int(text, base)
    except ValueError:
        raise PostFailed("RemoteProtocolError", f"Bad length in the answer: {text!r}") from None
    if value < 0:
        raise PostFailed("RemoteProtocolError", f"Bad length in the answer: {text!r}")
    return value
