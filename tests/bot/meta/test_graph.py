"""bot.meta.graph against the sandbox Graph API over real HTTP on 127.0.0.1 (never a patched client)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from bot.core.compose import Button, MediaAttachment, MessageContent, split_parts
from bot.core.errors import GraphError
from bot.core.events import CommentAdded, MessageEcho, MessageReceived
from bot.meta import breaker
from bot.meta import graph_shapes as shapes
from bot.meta.breaker import Breaker
from bot.meta.graph import GraphClient
from sandbox.app import create_sandbox_app
from tests.bot.meta.test_breaker import Clock

VERSION = "v21.0"
APP_SECRET = "sandbox-secret"
DAY_S = 24 * 3600


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """The sandbox served by uvicorn on a free port, for this module's tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with _serving(sock):
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class World:
    control: httpx.Client
    graph: GraphClient
    page_id: str
    page_token: str
    ig_id: str
    user_token: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.control.post(f"/control/{path}", json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    def customer(self, account_id: str, name: str = "Ana Lima", **extra: Any) -> str:
        return self.post("customers", {"account_id": account_id, "name": name, **extra})["user_id"]

    def dm(self, account_id: str, user_id: str, text: str = "hello", **extra: Any) -> str:
        return self.post("dm", {"account_id": account_id, "user_id": user_id, "text": text, **extra})["mid"]

    def post_on(self, account_id: str, message: str = "New collection") -> str:
        return self.post("posts", {"account_id": account_id, "message": message})["post_id"]

    def comment(self, account_id: str, post_id: str, user_id: str, **extra: Any) -> str:
        body = {"account_id": account_id, "post_id": post_id, "user_id": user_id, "text": "price?", **extra}
        return self.post("comment", body)["comment_id"]


@pytest.fixture
def world(sandbox_url: str) -> Iterator[World]:
    with httpx.Client(base_url=sandbox_url, timeout=10) as control:
        control.post("/control/reset", json={}).raise_for_status()
        page = control.post(
            "/control/pages",
            json={"name": "Shop", "instagram": {"username": "shop", "followers_count": 12000}},
        ).json()
        with GraphClient(f"{sandbox_url}/graph", VERSION, timeout=5) as graph:
            yield World(
                control, graph, page["page_id"], page["page_token"], page["instagram_id"], page["user_token"]
            )


def raised(call: Any) -> GraphError:
    with pytest.raises(GraphError) as caught:
        call()
    return caught.value


def text_to(
    user_id: str, text: str = "Hi!", messaging_type: str = "RESPONSE", tag: str | None = None
) -> dict:
    message = shapes.message_body(MessageContent(text=text), "facebook")
    return shapes.send_body(shapes.user_recipient(user_id), message, messaging_type, tag, "out:1")


# ------------------------------------------------------------------ channels


def test_list_pages_with_linked_instagram(world: World) -> None:
    pages = world.graph.list_pages(world.user_token)
    assert [(p.id, p.name, p.access_token) for p in pages] == [(world.page_id, "Shop", world.page_token)]
    assert pages[0].instagram is not None
    assert (pages[0].instagram.id, pages[0].instagram.username, pages[0].instagram.followers_count) == (
        world.ig_id,
        "shop",
        12000,
    )


def test_subscription_health_and_resubscribe(world: World) -> None:
    fields = world.graph.subscribed_fields(world.page_id, world.page_token)
    assert fields is not None and "messages" in fields
    world.post("subscriptions/unsubscribe", {"account_id": world.page_id})
    assert world.graph.subscribed_fields(world.page_id, world.page_token) is None
    world.graph.subscribe_app(world.page_id, world.page_token, ["messages", "feed"])
    assert world.graph.subscribed_fields(world.page_id, world.page_token) == ["messages", "feed"]


def test_debug_token(world: World) -> None:
    config = world.control.get("/control/config").json()
    app_token = f"{config['app_id']}|{config['app_secret']}"
    info = world.graph.debug_token(world.page_token, app_token)
    assert info.is_valid and info.expires_at is None and "pages_messaging" in info.scopes
    assert not world.graph.debug_token("EAAunknown", app_token).is_valid


def test_revoked_token_is_a_token_error(world: World) -> None:
    world.post("tokens/revoke", {"token": world.page_token, "subcode": 460})
    error = raised(lambda: world.graph.subscribed_fields(world.page_id, world.page_token))
    assert (error.kind, error.code, error.subcode, error.retryable) == ("token", 190, 460, False)
    assert error.invalidates_token
    assert world.page_token not in str(error)


def test_posts_are_paged(world: World) -> None:
    for n in range(3):
        world.post_on(world.page_id, f"post {n}")
    first = world.graph.list_posts(world.page_id, "facebook", world.page_token, limit=2)
    assert len(first.posts) == 2 and first.after is not None
    rest = world.graph.list_posts(world.page_id, "facebook", world.page_token, after=first.after, limit=2)
    assert len(rest.posts) == 1 and rest.after is None
    everything = first.posts + rest.posts
    assert {p.message for p in everything} == {"post 0", "post 1", "post 2"}
    assert all(p.permalink_url and p.created_time for p in everything)
    media_id = world.post_on(world.ig_id, "reel")
    media = world.graph.list_posts(world.ig_id, "instagram", world.page_token)
    assert [(p.id, p.message) for p in media.posts] == [(media_id, "reel")]


# ------------------------------------------------------------------ messaging


def test_send_inside_the_window_and_profile(world: World) -> None:
    psid = world.customer(world.page_id, "Ana Lima")
    world.dm(world.page_id, psid)
    result = world.graph.send_message(world.page_id, world.page_token, text_to(psid))
    assert result.recipient_id == psid and result.message_id
    assert world.graph.last_usage >= 0.0
    sent = world.control.get("/control/sent", params={"recipient_id": psid}).json()["sent"]
    assert len(sent) == 1
    profile = world.graph.get_profile("facebook", psid, world.page_token)
    assert (profile.name, profile.first_name, profile.last_name) == ("Ana Lima", "Ana", "Lima")


def test_button_template_and_media_parts_go_through(world: World) -> None:
    psid = world.customer(world.page_id)
    world.dm(world.page_id, psid)
    content = MessageContent(
        text="Our offer",
        buttons=(Button(title="See it", url="https://example.com/o"), Button(title="Yes", payload="YES")),
        attachments=(MediaAttachment(type="image", url="https://cdn.example.com/a.png"),),
    )
    ids = []
    for part in split_parts(content):
        body = shapes.send_body(
            shapes.user_recipient(psid), shapes.message_body(part, "facebook"), "RESPONSE", None, None
        )
        ids.append(world.graph.send_message(world.page_id, world.page_token, body))
    assert len({r.message_id for r in ids}) == 2
    assert ids[1].attachment_id is not None  # sent by URL with is_reusable
    reuse = MessageContent(attachments=(MediaAttachment(type="image", attachment_id=ids[1].attachment_id),))
    body = shapes.send_body(
        shapes.user_recipient(psid), shapes.message_body(reuse, "facebook"), "RESPONSE", None, None
    )
    assert world.graph.send_message(world.page_id, world.page_token, body).message_id


def test_outside_the_window_and_human_agent(world: World) -> None:
    psid = world.customer(world.page_id)
    world.dm(world.page_id, psid, timestamp_ms=int((time.time() - 2 * DAY_S) * 1000))
    error = raised(lambda: world.graph.send_message(world.page_id, world.page_token, text_to(psid)))
    assert (error.kind, error.code, error.subcode, error.retryable) == ("window", 10, 2018278, False)
    tagged = text_to(psid, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert world.graph.send_message(world.page_id, world.page_token, tagged).message_id


def test_unknown_recipient(world: World) -> None:
    error = raised(lambda: world.graph.send_message(world.page_id, world.page_token, text_to("000000")))
    assert (error.kind, error.code, error.subcode) == ("bad_recipient", 100, 2018001)


def test_instagram_send_and_profile(world: World) -> None:
    igsid = world.customer(world.ig_id, "Bea Costa", username="bea.c", follower_count=42)
    world.dm(world.ig_id, igsid)
    body = shapes.send_body(
        shapes.user_recipient(igsid),
        shapes.message_body(MessageContent(text="é" * 500), "instagram"),
        "RESPONSE",
        None,
        None,
    )
    assert world.graph.send_message(world.page_id, world.page_token, body).recipient_id == igsid
    profile = world.graph.get_profile("instagram", igsid, world.page_token)
    assert (profile.username, profile.follower_count) == ("bea.c", 42)


def test_upload_attachment(world: World) -> None:
    attachment_id = world.graph.upload_attachment(
        world.page_id, world.page_token, "image", "https://x.example/a.png"
    )
    assert attachment_id


# ------------------------------------------------------------------ comments


def test_private_reply_once(world: World) -> None:
    psid = world.customer(world.page_id)
    post_id = world.post_on(world.page_id)
    comment_id = world.comment(world.page_id, post_id, psid)
    assert world.graph.can_reply_privately(comment_id, world.page_token)
    message = shapes.message_body(MessageContent(text="Sent you the price"), "facebook")
    body = shapes.send_body(shapes.comment_recipient(comment_id), message, "RESPONSE", None, None)
    result = world.graph.send_message(world.page_id, world.page_token, body)
    assert result.recipient_id == psid
    assert not world.graph.can_reply_privately(comment_id, world.page_token)
    again = raised(lambda: world.graph.send_message(world.page_id, world.page_token, body))
    assert (again.kind, again.code, again.retryable) == ("already_replied", 10900, False)


def test_private_reply_too_late(world: World) -> None:
    psid = world.customer(world.page_id)
    post_id = world.post_on(world.page_id)
    comment_id = world.comment(world.page_id, post_id, psid, created_time=int(time.time()) - 8 * DAY_S)
    message = shapes.message_body(MessageContent(text="late"), "facebook")
    body = shapes.send_body(shapes.comment_recipient(comment_id), message, "RESPONSE", None, None)
    error = raised(lambda: world.graph.send_message(world.page_id, world.page_token, body))
    assert (error.kind, error.code) == ("cannot_reply", 10903)


def test_public_reply_and_hide(world: World) -> None:
    psid = world.customer(world.page_id)
    post_id = world.post_on(world.page_id)
    comment_id = world.comment(world.page_id, post_id, psid)
    reply_id = world.graph.reply_to_comment("facebook", comment_id, world.page_token, "Check your inbox")
    world.graph.hide_comment("facebook", comment_id, world.page_token, True)
    page = world.graph.get_post_comments("facebook", world.page_id, post_id, world.page_token)
    by_id = {c.comment_id: c for c in page.comments}
    assert all(isinstance(c, CommentAdded) for c in page.comments)
    assert (by_id[comment_id].from_id, by_id[comment_id].by_account, by_id[comment_id].parent_id) == (
        psid,
        False,
        None,
    )
    assert (by_id[reply_id].by_account, by_id[reply_id].parent_id) == (True, comment_id)


def test_instagram_public_reply_and_hide(world: World) -> None:
    igsid = world.customer(world.ig_id, "Bea Costa")
    media_id = world.post_on(world.ig_id)
    comment_id = world.comment(world.ig_id, media_id, igsid)
    assert world.graph.reply_to_comment("instagram", comment_id, world.page_token, "Thanks!")
    world.graph.hide_comment("instagram", comment_id, world.page_token, True)
    page = world.graph.get_post_comments("instagram", world.ig_id, media_id, world.page_token)
    assert [(c.comment_id, c.text, c.from_id) for c in page.comments] == [(comment_id, "price?", igsid)]


# ------------------------------------------------------------------ backfill


def test_backfill_reads_messages_back_as_events(world: World) -> None:
    psid = world.customer(world.page_id)
    mid = world.dm(world.page_id, psid, "where is my order?")
    sent = world.graph.send_message(world.page_id, world.page_token, text_to(psid, "On its way"))
    conversations = world.graph.list_conversations(world.page_id, "facebook", world.page_token)
    assert len(conversations.conversations) == 1 and conversations.after is None
    refs = world.graph.conversation_message_ids(conversations.conversations[0].id, world.page_token)
    assert {r.id for r in refs} == {mid, sent.message_id}
    received = world.graph.get_message("facebook", world.page_id, mid, world.page_token)
    echo = world.graph.get_message("facebook", world.page_id, sent.message_id, world.page_token)
    assert isinstance(received, MessageReceived)
    assert (received.user_id, received.text) == (psid, "where is my order?")
    assert isinstance(echo, MessageEcho)
    assert (echo.user_id, echo.text) == (psid, "On its way")


def test_instagram_conversations_through_the_page(world: World) -> None:
    igsid = world.customer(world.ig_id)
    world.dm(world.ig_id, igsid)
    conversations = world.graph.list_conversations(world.page_id, "instagram", world.page_token)
    assert len(conversations.conversations) == 1


# ------------------------------------------------------------------ faults


def test_rate_limit_is_retryable_with_usage(world: World) -> None:
    world.post("config", {"rate_limit_per_second": 1})
    with pytest.raises(GraphError) as caught:  # a few calls: the window slides by the second
        for _ in range(5):
            world.graph.subscribed_fields(world.page_id, world.page_token)
    error = caught.value
    assert (error.kind, error.code, error.retryable) == ("rate_limit", 80001, True)
    assert world.graph.last_usage == 100.0


@pytest.mark.parametrize(
    ("kind", "expected"), [("server", ("temporary", True)), ("ambiguous", ("ambiguous", False))]
)
def test_injected_send_faults(world: World, kind: str, expected: tuple[str, bool]) -> None:
    psid = world.customer(world.page_id)
    world.dm(world.page_id, psid)
    world.post("config", {"error_rate": 1.0, "error_kinds": [kind]})
    error = raised(lambda: world.graph.send_message(world.page_id, world.page_token, text_to(psid)))
    assert (error.kind, error.retryable) == expected


def test_network_failure_is_retryable(sandbox_url: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with GraphClient(f"http://127.0.0.1:{port}/graph", VERSION, timeout=2) as graph:
        error = raised(lambda: graph.subscribed_fields("1", "EAAsecret"))
    assert (error.kind, error.retryable) == ("network", True)
    assert "EAAsecret" not in str(error)


def test_pooled_connections_are_dropped_before_a_server_closes_them_and_failed_connects_retried() -> None:
    """The keep-alive race (issue 17, 8): uvicorn closes a connection idle for 5 s; reusing it at
    that instant loses the request. Our pool gives connections up well before, and repeats only
    connects that failed (the request provably never left)."""
    with GraphClient("http://127.0.0.1:9", "v21.0") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._keepalive_expiry <= uvicorn.Config(app=None).timeout_keep_alive / 2
        assert pool._retries >= 1
        with pytest.raises(GraphError) as refused:
            client.send_message("1", "token", {"recipient": {"id": "2"}, "message": {"text": "hi"}})
    assert (refused.value.kind, refused.value.retryable) == ("network", True)


def test_a_host_that_refuses_connections_is_not_called_until_its_cool_down_ends() -> None:
    """A few calls that could not connect open the breaker (`bot.meta.breaker`): the next ones
    fail at once, even once the host is back, until the cool-down ends; then a call tries, and
    the host's answer (here an error of Meta's, not the network's) closes the breaker."""
    clock = Clock()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = sock.getsockname()[1]
        with GraphClient(f"http://127.0.0.1:{port}/graph", VERSION, timeout=2,
                         breaker=Breaker("127.0.0.1", clock)) as graph:
            call = lambda: graph.subscribed_fields("1", "EAAsecret")  # noqa: E731
            tried = [raised(call) for _ in range(breaker.THRESHOLD)]
            assert {(e.kind, e.retryable, e.retry_after) for e in tried} == {("network", True, None)}
            assert all("ConnectError" in e.message for e in tried)
            with _serving(sock):
                waited = raised(call)
                assert (waited.kind, waited.retryable, waited.retry_after) == ("network", True,
                                                                             breaker.FIRST_COOL_DOWN_S)
                assert "not tried" in waited.message
                clock.now += breaker.FIRST_COOL_DOWN_S
                answered = raised(call)  # the sandbox knows no page "1": Meta's error, not the network's
                assert answered.kind != "network" and answered.http_status is not None
                assert raised(call).http_status is not None  # closed: the next call goes too


@contextmanager
def _serving(sock: socket.socket) -> Iterator[None]:
    """The sandbox served on this (bound) socket until the block ends."""
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(APP_SECRET), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)
