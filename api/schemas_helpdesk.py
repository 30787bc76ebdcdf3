"""REST request bodies of the helpdesk tools (notes, snooze, canned responses). Like every body
they refuse unknown fields, so a misspelt field is a 422 naming it rather than silently ignored.
The rules (lengths, template checks, times) stay in `bot.helpdesk`; the bounds here keep values
within what both databases store."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.openapi.spec import Example
from litestar.params import Body

from bot.core.compose import MAX_MESSENGER_TEXT_CHARS, Button, MediaAttachment, MessageContent
from bot.helpdesk.notes import MAX_NOTE_CHARS

MAX_MS = 2**53  # a time in ms since the epoch, far beyond any real one

CannedName = Annotated[str, msgspec.Meta(min_length=1, max_length=51, description="the `/name` staff type")]
CannedText = Annotated[str, msgspec.Meta(max_length=MAX_MESSENGER_TEXT_CHARS,
                                         description="a template with shortcodes, as in campaigns")]


class NoteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A private note: staff only, never sent. `@name` mentions notify those staff members."""

    text: Annotated[str, msgspec.Meta(max_length=MAX_NOTE_CHARS)]


class SnoozeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`until`: when the conversation comes back (ms since the epoch), or null to wait until
    the customer writes again (which also ends a timed snooze)."""

    until: Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)] | None


class CannedMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What is inserted: a text (shortcodes allowed), up to 3 attachments and 2 buttons, under
    the same rules as a campaign message (`bot.core.compose`)."""

    text: CannedText
    attachments: Annotated[list[MediaAttachment], msgspec.Meta(max_length=10)] = []
    buttons: Annotated[list[Button], msgspec.Meta(max_length=10)] = []

    def content(self) -> MessageContent:
        return MessageContent(text=self.text, attachments=tuple(self.attachments), buttons=tuple(self.buttons))


class CannedIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A saved reply: `shared` with all staff, kept for one team (`team_id`, its members use it),
    or personal."""

    name: CannedName
    message: CannedMessage
    shared: bool = False
    team_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None


class CannedPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields given change."""

    name: CannedName | None = None
    message: CannedMessage | None = None
    shared: bool | None = None


def _body(summary: str, value: dict) -> Body:
    return Body(examples=[Example(summary=summary, value=value)])


NoteBody = Annotated[NoteIn, _body("A note for a colleague", {"text": "@sam can you check the order number?"})]
SnoozeBody = Annotated[SnoozeIn, _body("Until the customer answers", {"until": None})]
CannedBody = Annotated[CannedIn, _body("A shared greeting with a button", {
    "name": "hello", "shared": True,
    "message": {"text": "Hi {{ first_name or 'there' }}, thanks for writing to {{ page_name }}!",
                "buttons": [{"title": "Track my order", "url": "https://shop.example/track"}]}})]
CannedPatchBody = Annotated[CannedPatch, _body("New wording", {"message": {"text": "Hello {{ first_name }}!"}})]
