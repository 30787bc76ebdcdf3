"""The webhook POST client against a scripted HTTP server on a real socket: kept-alive
connections, answer bodies drained, timeouts and refusals as errors, and the one retry (a
reused idle connection closed before any byte of the answer), never a resend after that."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from sandbox.app import build_sandbox
from sandbox.control_api import add_page
from sandbox.control_schemas import PageSpec
from sandbox.post_client import PostClient, PostFailed
from sandbox.records import QueuedItem
from tests.servers import free_port

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CHUNKED = (
    b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;note=x\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"
)
HEADERS = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=abc"}


@dataclass
class Script:
    """A server that plays one action per request it reads, in order: `bytes` to answer,
    "close" to hang up without a byte, "partial" to send half a head then hang up, "hang" to
    never answer, "ok-then-idle-close" to answer 200 (keep-alive) then close the idle
    connection as a server's keep-alive timeout does. An HTTP/1.0 answer is followed by a
    close, as such servers do. `requests` holds (connection number, request bytes) as they
    arrived."""

    actions: list[bytes | str]
    requests: list[tuple[int, bytes]] = field(default_factory=list)
    connections: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while self.actions:
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests.append((number, request))
                action = self.actions.pop(0)
                if action == "hang":
                    await asyncio.sleep(30)
                if action == "ok-then-idle-close":
                    writer.write(OK)
                    await writer.drain()
                if action == "partial":
                    writer.write(b"HTTP/1.1 200 O")
                    await writer.drain()
                if not isinstance(action, bytes):
                    return
                writer.write(action)
                await writer.drain()
                if action.startswith(b"HTTP/1.0"):
                    return
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


def play(script: Script, scenario: Callable[[PostClient, str], Awaitable[object]]) -> object:
    """Run `scenario(client, url)` against `script` served on a free port."""

    async def main() -> object:
        server = await asyncio.start_server(script.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = PostClient()
        try:
            return await scenario(client, f"http://127.0.0.1:{port}/webhooks/meta?x=1")
        finally:
            await client.aclose()
            server.close()

    return asyncio.run(main())


def test_keeps_one_connection_alive_across_deliveries_and_sends_the_exact_bytes() -> None:
    script = Script([OK, OK, OK])

    async def three(client: PostClient, url: str) -> list[int]:
        return [await client.post(url, b'{"n":%d}' % n, HEADERS, 5) for n in range(3)]

    assert play(script, three) == [200, 200, 200]
    assert script.connections == 1
    first = script.requests[0][1]
    assert first.startswith(b"POST /webhooks/meta?x=1 HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 7\r\n" in first and b"\r\nX-Hub-Signature-256: sha256=abc\r\n" in first
    assert [request.split(b"\r\n\r\n")[1] for _, request in script.requests] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


def test_a_chunked_answer_is_read_to_its_end_and_the_connection_reused() -> None:
    script = Script([CHUNKED, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"])

    async def two(client: PostClient, url: str) -> list[int]:
        return [await client.post(url, b"{}", HEADERS, 5) for _ in range(2)]

    assert play(script, two) == [202, 201]
    assert script.connections == 1


def test_an_http10_answer_without_length_is_read_until_close_and_not_reused() -> None:
    script = Script([b"HTTP/1.0 500 Oops\r\n\r\nbody until close", OK])

    async def two(client: PostClient, url: str) -> list[int]:
        return [await client.post(url, b"{}", HEADERS, 5) for _ in range(2)]

    assert play(script, two) == [500, 200]
    assert script.connections == 2


def test_no_answer_within_the_timeout_is_a_read_timeout_and_the_connection_is_dropped() -> None:
    script = Script(["hang", OK])

    async def late_then_fine(client: PostClient, url: str) -> tuple[str, int]:
        with pytest.raises(PostFailed) as failed:
            await client.post(url, b"{}", HEADERS, 0.2)
        return str(failed.value), await client.post(url, b"{}", HEADERS, 5)

    error, status = play(script, late_then_fine)  # type: ignore[misc]
    assert error.startswith("ReadTimeout:") and status == 200
    assert script.connections == 2 and len(script.requests) == 2


def test_a_refused_connection_is_a_connect_error() -> None:
    async def refused() -> str:
        with pytest.raises(PostFailed) as failed:
            await PostClient().post(f"http://127.0.0.1:{free_port()}/hook", b"{}", HEADERS, 5)
        return str(failed.value)

    assert asyncio.run(refused()).startswith("ConnectError:")


def test_a_reused_connection_closed_before_any_answer_byte_is_retried_once_on_a_fresh_one() -> None:
    script = Script([OK, "close", OK])

    async def two(client: PostClient, url: str) -> list[int]:
        return [await client.post(url, b'{"n":%d}' % n, HEADERS, 5) for n in range(2)]

    assert play(script, two) == [200, 200]
    assert [(number, request.endswith(b'{"n":1}')) for number, request in script.requests] == [
        (1, False),
        (1, True),
        (2, True),
    ]


def test_an_idle_connection_the_server_closed_is_replaced_and_nothing_sent_twice() -> None:
    script = Script(["ok-then-idle-close", OK])

    async def two(client: PostClient, url: str) -> list[int]:
        return [await client.post(url, b'{"n":%d}' % n, HEADERS, 5) for n in range(2)]

    assert play(script, two) == [200, 200]
    assert [(number, request[-7:]) for number, request in script.requests] == [(1, b'{"n":0}'), (2, b'{"n":1}')]


def test_the_retry_happens_only_once() -> None:
    script = Script([OK, "close", "close", OK])

    async def second_fails(client: PostClient, url: str) -> str:
        await client.post(url, b"{}", HEADERS, 5)
        with pytest.raises(PostFailed) as failed:
            await client.post(url, b"{}", HEADERS, 5)
        return str(failed.value)

    assert play(script, second_fails).startswith("RemoteProtocolError:")  # type: ignore[union-attr]
    assert [number for number, _ in script.requests] == [1, 1, 2]


def test_no_resend_once_the_answer_began_or_on_a_fresh_connection() -> None:
    script = Script([OK, "partial", "close", OK])

    async def both_fail(client: PostClient, url: str) -> list[str]:
        await client.post(url, b"{}", HEADERS, 5)
        errors = []
        for _ in range(2):  # half an answer on the reused connection; then a fresh one closed
            with pytest.raises(PostFailed) as failed:
                await client.post(url, b"{}", HEADERS, 5)
            errors.append(failed.value.kind)
        return errors

    assert play(script, both_fail) == ["RemoteProtocolError", "RemoteProtocolError"]
    assert [number for number, _ in script.requests] == [1, 1, 2]


def test_the_delivery_timeout_from_the_config_bounds_a_webhook() -> None:
    script = Script(["hang"])

    async def deliver(_: PostClient, url: str) -> dict[str, object]:
        built = build_sandbox("secret", url)
        built.store.config.delivery_timeout_s = 0.2
        page = add_page(built.store, PageSpec(name="Slow receiver"))
        item = QueuedItem(object="page", account_id=page["page_id"], section="messaging", field="messages",
                          item={"sender": {"id": "1"}}, time=0)
        try:
            return await built.webhooks.emit(item)
        finally:
            await built.webhooks.aclose()

    report = play(script, deliver)
    assert report["status"] is None and str(report["error"]).startswith("ReadTimeout:")  # type: ignore[index]
