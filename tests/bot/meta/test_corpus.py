"""The corpus of real webhook shapes (tests/bot/meta/corpus/*.json, one shape per file, each
naming its source: Meta's documentation page, or a public capture/fixture of another open-source
Meta client), parsed and applied end to end: every shape's distinctive data (URL, title, story
id, card text, button titles) is in the stored message and in what the dashboard draws of it.

A file holds the delivery `body`, an optional `seed` delivery applied first (the message a
receipt, edit or reaction is about), which stored message to look at (`find`: a `mid`, a
`comment_id` or a `kind`), the strings it must hold (`expect`), the strings the conversation
must show (`rendered`, default: `expect`), and exact row facts (`row`: status, unsupported,
deleted).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from bot import queries
from bot.inbound import inbox
from bot.meta.parse import parse_delivery
from bot.platform.db import now_ms, transaction
from bot.platform.models import Channel, Message
from tests.bot.meta import payloads as p

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.json"))
NOW = 1761287400000  # when the corpus deliveries are taken to arrive (just after their timestamps)
ACCOUNTS = {"page": ("facebook", "104870358931474"), "instagram": ("instagram", "17841405822304914")}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_the_corpus_has_sixty_real_shapes_each_with_its_source() -> None:
    shapes = [load(path) for path in CORPUS]
    assert len(shapes) >= 60
    for shape in shapes:
        assert shape["source"].strip(), shape["name"]
        assert shape["expect"] or shape.get("rendered") or shape.get("row"), shape["name"]


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_shape_is_stored_and_shown_with_its_data(db, database_url: str, path: Path) -> None:
    shape = load(path)
    channels()
    for body in (shape.get("seed"), shape["body"]):
        if body is not None:
            apply_body(body)
    row = stored(shape["find"])
    haystack = stored_text(row)
    for expected in shape["expect"]:
        assert expected in haystack, f"{shape['name']}: {expected!r} not stored"
    for field, value in (shape.get("row") or {}).items():
        actual = row.deleted_at is not None if field == "deleted" else getattr(row, field)
        assert actual == value, f"{shape['name']}: {field} is {actual!r}"
    assert row.occurred_at > 1_262_304_000_000  # never 1970
    if "sqlite" in database_url:  # the drawing does not depend on the database
        shown = rendered(row)
        for expected in shape.get("rendered", shape["expect"]):
            assert expected in shown, f"{shape['name']}: {expected!r} not shown in {shown[:2000]}"


def channels() -> None:
    for platform, account in ACCOUNTS.values():
        Channel.get_or_create(platform=platform, account_id=account,
                              defaults={"page_id": account, "name": f"Shop {platform}", "created_at": now_ms()})


def apply_body(body: dict) -> None:
    """Parse the delivery as the webhook would receive it (Meta's exact bytes) and apply every
    event, each in its own transaction, in Meta's order."""
    parsed = parse_delivery(p.encode(body), now=NOW)
    assert parsed.events, parsed.ignored
    for event in sorted(parsed.events, key=lambda e: e.timestamp):
        with transaction():
            inbox.apply(event)


def stored(find: dict) -> Message:
    (field, value), = find.items()
    return Message.get(getattr(Message, field) == value)


def stored_text(row: Message) -> str:
    """Everything the row keeps of the message, as text."""
    fields = ("text", "attachments", "reply_to_story", "reply_to_mid", "payload", "notes", "reactions")
    return json.dumps({f: getattr(row, f) for f in fields}, ensure_ascii=False)


def _bubble(view: dict) -> None:
    import msgspec as _msgspec

    from bot.queries import MessageView
    from dashboard import widgets

    widgets.message_bubble(_msgspec.convert(view, MessageView), customer_name="Dana", customer_picture=None)


def rendered(row: Message) -> str:
    """What the conversation page draws for this message (the same widget, in Streamlit's test
    runner), as the text of every element with markdown escapes undone."""
    view = msgspec.to_builtins(queries.message_views([row])[0])
    app = AppTest.from_function(_bubble, args=(view,), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return "\n".join(strings(app))


def strings(app: AppTest) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "DESCRIPTOR"):
            collect(MessageToDict(proto), found)
        for child in getattr(node, "children", {}).values() if hasattr(node, "children") else ():
            walk(child)

    walk(app._tree)
    return found


def collect(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(re.sub(r"\\(.)", r"\1", value).replace("\u2060", ""))  # the invisible autolink breaker
    elif isinstance(value, dict):
        for item in value.values():
            collect(item, found)
    elif isinstance(value, list):
        for item in value:
            collect(item, found)
