"""The REST API's test helpers: a running stack (tests/conftest.py) plus an admin and an agent,
each with an API token, and small builders that make conversations the way Meta does (through
the sandbox, which posts signed webhooks to the API)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.platform.db import connection
from bot.platform.models import Conversation, InboundEvent, Message
from bot.staff import auth
from tests.servers import Stack

API = "/api/v1"


@dataclass
class Api:
    """Calls /api/v1 on the live stack as the admin (default) or the agent."""

    stack: Stack
    tokens: dict[str, str]
    user_ids: dict[str, int]

    @property
    def url(self) -> str:
        return self.stack.api.url

    def call(self, method: str, path: str, *, as_: str | None = "admin", **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        return self.stack.http.request(method, f"{self.url}{API}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, json=json, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    # --- making conversations through the sandbox (Meta's side) ---

    def customer(self, name: str = "Jane Doe", *, instagram: bool = False) -> str:
        account = self.stack.page["instagram_id"] if instagram else self.stack.page["page_id"]
        return self.stack.control("customers", account_id=account, name=name)["user_id"]

    def dm(self, text: str = "Hello, do you ship to Berlin?", *, user_id: str | None = None,
           instagram: bool = False) -> int:
        """A customer writes; returns the conversation id once the API has applied it."""
        user_id = user_id or self.customer(instagram=instagram)
        account = self.stack.page["instagram_id"] if instagram else self.stack.page["page_id"]
        mid = self.stack.control("dm", account_id=account, user_id=user_id, text=text)["mid"]
        message = self.stack.wait(lambda: Message.get_or_none(Message.mid == mid), what=f"message {mid}")
        self.settled()
        return message.conversation_id

    def comment(self, text: str = "How much are these?", *, user_id: str | None = None) -> tuple[int, str]:
        """A customer comments on a new page post; returns (conversation id, comment id)."""
        page_id = self.stack.page["page_id"]
        user_id = user_id or self.customer()
        post_id = self.stack.control("posts", account_id=page_id, message="New boots")["post_id"]
        comment_id = self.stack.control("comment", account_id=page_id, post_id=post_id, text=text,
                                        user_id=user_id)["comment_id"]
        message = self.stack.wait(lambda: Message.get_or_none(Message.comment_id == comment_id),
                                  what=f"comment {comment_id}")
        self.settled()
        return message.conversation_id, comment_id

    def settled(self) -> None:
        self.stack.wait(lambda: not InboundEvent.select().where(InboundEvent.status == "pending").exists(),
                        what="all events applied")

    def conversation(self, conversation_id: int) -> Conversation:
        with connection():
            return Conversation.get_by_id(conversation_id)


def make_user(email: str, role: str) -> tuple[int, str]:
    with connection():
        user = auth.add_user(email, "correct horse battery", role)
        return user.id, auth.create_api_token(email, "tests")


@pytest.fixture
def api(stack: Stack) -> Iterator[Api]:
    admin_id, admin_token = make_user("admin@example.com", "admin")
    agent_id, agent_token = make_user("agent@example.com", "agent")
    yield Api(stack, {"admin": admin_token, "agent": agent_token}, {"admin": admin_id, "agent": agent_id})


def error_of(response: httpx.Response) -> dict:
    """The JSON error body every failure carries."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()["error"]
