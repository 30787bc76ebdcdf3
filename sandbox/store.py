"""The sandbox's memory: every record of Meta's world, behind one lock.

One `Store` per sandbox app. Handlers run on the event loop but the sandbox may also be driven
from test threads, so every read-modify-write happens under `Store.lock` (re-entrant, held only
for in-memory work, never across I/O). Ids are numeric strings from one counter with a prefix
per kind, so a PSID can never equal an IGSID, a page id or a media id, as on Meta.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import threading
import time
from collections import deque
from typing import Any

from sandbox.records import (
    Account,
    Attempt,
    Comment,
    Config,
    Conversation,
    Customer,
    Delivery,
    Message,
    Post,
    QueuedItem,
    Sent,
    Token,
    Upload,
)

_ID_SHAPES = {
    "page": "10{n:013d}",
    "instagram": "178414{n:011d}",
    "psid": "2{n:015d}",
    "igsid": "5{n:015d}",
    "post": "3{n:014d}",
    "media": "179{n:014d}",
    "fb_comment": "4{n:014d}",
    "ig_comment": "180{n:014d}",
    "upload": "9{n:015d}",
    "conversation": "t_7{n:014d}",
}


def now_ms() -> int:
    """Wall-clock milliseconds: windows are judged against real time, as Meta does."""
    return time.time_ns() // 1_000_000


class Store:
    """All sandbox state. Collections are plain dicts/lists, mutated only under `lock`."""

    def __init__(self, config: Config) -> None:
        self.lock = threading.RLock()
        self._initial_config = dataclasses.replace(config, error_kinds=list(config.error_kinds),
                                                   drop_kinds=list(config.drop_kinds))
        self.config = config
        self.generation = 0  # bumped by every reset: work caused before it is dropped
        self.reset(keep_config=True)

    def reset(self, *, keep_config: bool) -> None:
        """Forget everything; the config returns to what the app was created with unless kept."""
        with self.lock:
            self.generation += 1
            if not keep_config:
                self.config = dataclasses.replace(
                    self._initial_config, error_kinds=list(self._initial_config.error_kinds),
                    drop_kinds=list(self._initial_config.drop_kinds),
                )
            self.rng = random.Random(self.config.seed)
            self._counter = 0
            self._seq = 0
            self.accounts: dict[str, Account] = {}
            self.tokens: dict[str, Token] = {}
            self.page_tokens: dict[str, str] = {}
            self.customers: dict[str, Customer] = {}
            self.posts: dict[str, Post] = {}
            self.comments: dict[str, Comment] = {}
            self.messages: dict[str, Message] = {}
            self.conversations: dict[str, Conversation] = {}
            self.conversation_by_pair: dict[tuple[str, str], str] = {}
            self.uploads: dict[str, Upload] = {}
            self.sent: list[Sent] = []
            self.attempts: list[Attempt] = []
            self.deliveries: list[Delivery] = []
            self.queue: list[QueuedItem] = []
            self.hold = False
            self.call_times: dict[str, deque[float]] = {}
            self.profiles: dict[tuple[str, str], dict[str, Any]] = {}  # (account, platform) -> profile_api
            self._register_user_token()

    def _register_user_token(self) -> None:
        token = self.config.user_token
        self.tokens[token] = Token(value=token, kind="user", issued_at=now_ms() // 1000)

    def set_config(self, changes: dict[str, Any]) -> Config:
        """Apply a partial config; a new seed restarts the fault dice, a new user token is issued."""
        with self.lock:
            old_user_token = self.config.user_token
            self.config = dataclasses.replace(self.config, **changes)
            if "seed" in changes:
                self.rng = random.Random(self.config.seed)
            if self.config.user_token != old_user_token:
                self._register_user_token()
            return self.config

    # ids and sequence numbers

    def new_id(self, kind: str) -> str:
        """A fresh id of `kind`, skipping any id a test chose explicitly (`page_id`, `ig_id`)."""
        with self.lock:
            while True:
                self._counter += 1
                candidate = _ID_SHAPES[kind].format(n=self._counter)
                if self.node(candidate) is None:
                    return candidate

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    @staticmethod
    def new_mid() -> str:
        return "m_" + secrets.token_urlsafe(32)

    @staticmethod
    def new_token() -> str:
        return "EAAsandbox" + secrets.token_urlsafe(48).replace("-", "x").replace("_", "Z")

    # tokens and accounts

    def issue_page_token(self, page_id: str, scopes: list[str], value: str | None = None) -> str:
        """Give a page a fresh token (the old one keeps whatever state it had)."""
        with self.lock:
            token = value or self.new_token()
            self.tokens[token] = Token(
                value=token, kind="page", page_id=page_id, scopes=list(scopes), issued_at=now_ms() // 1000
            )
            self.page_tokens[page_id] = token
            return token

    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def accounts_of_page(self, page_id: str) -> list[Account]:
        """The page and its Instagram account: what one page token may act on."""
        page = self.accounts.get(page_id)
        if page is None:
            return []
        linked = self.accounts.get(page.linked_id) if page.linked_id else None
        return [page, linked] if linked else [page]

    # conversations and messages

    def conversation_for(self, account_id: str, customer_id: str) -> Conversation:
        """The thread between an account and a person, created on first use."""
        with self.lock:
            key = (account_id, customer_id)
            conversation_id = self.conversation_by_pair.get(key)
            if conversation_id is None:
                conversation_id = self.new_id("conversation")
                self.conversations[conversation_id] = Conversation(
                    id=conversation_id, account_id=account_id, customer_id=customer_id
                )
                self.conversation_by_pair[key] = conversation_id
            return self.conversations[conversation_id]

    def add_message(self, message: Message) -> Message:
        """Store a message in its thread, keeping the thread ordered by creation time."""
        with self.lock:
            conversation = self.conversations[message.conversation_id]
            self.messages[message.mid] = message
            conversation.mids.append(message.mid)
            conversation.mids.sort(key=lambda mid: self.messages[mid].created_ms)
            conversation.updated_ms = max(conversation.updated_ms, message.created_ms)
            return message

    def thread(self, account_id: str, customer_id: str) -> list[Message]:
        """Every message between an account and a person, oldest first."""
        with self.lock:
            conversation_id = self.conversation_by_pair.get((account_id, customer_id))
            if conversation_id is None:
                return []
            return [self.messages[mid] for mid in self.conversations[conversation_id].mids]

    # nodes

    def node(self, node_id: str) -> tuple[str, Any] | None:
        """What an id names, as ("account" | "customer" | "post" | "comment" | "conversation" |
        "message" | "upload", record); None when nothing has that id."""
        tables: tuple[tuple[str, dict[str, Any]], ...] = (
            ("account", self.accounts),
            ("customer", self.customers),
            ("post", self.posts),
            ("comment", self.comments),
            ("conversation", self.conversations),
            ("message", self.messages),
            ("upload", self.uploads),
        )
        for kind, table in tables:
            record = table.get(node_id)
            if record is not None:
                return kind, record
        return None

    @staticmethod
    def owner_of(kind: str, record: Any) -> str | None:
        """The account a node belongs to (for token checks)."""
        if kind == "account":
            return record.id
        if kind == "upload":
            return record.page_id
        return getattr(record, "account_id", None)

    # logs

    def record_attempt(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def record_sent(self, sent: Sent) -> None:
        with self.lock:
            self.sent.append(sent)

    def count_call(self, account_id: str, limit: int | None) -> tuple[bool, int]:
        """Count one Graph call against the account's sliding one-second window.

        Returns (allowed, calls in the window including this one). A refused call is not
        counted, so a caller that backs off regains access within a second.
        """
        with self.lock:
            now = time.monotonic()
            window = self.call_times.setdefault(account_id, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if limit is not None and len(window) >= limit:
                return False, len(window)
            window.append(now)
            return True, len(window)
