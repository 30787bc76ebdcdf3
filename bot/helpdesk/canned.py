"""Canned responses: saved replies staff insert in the reply box by typing `/name`.

The text is a template in the campaigns' language, checked when saved with the same rules
(`bot.core.compose.check_template`: a typo in a shortcode is refused then, not sent to a
customer) and rendered for the conversation's person (`bot.automation.context`). A response is
shared with the whole team or personal; a personal one shadows a shared one of the same name for
its owner. Inserting only fills the reply box: what is sent still goes through the send policy.
"""

from __future__ import annotations

import re

import msgspec

from bot.automation.context import conversation_context
from bot.core.compose import MAX_MESSENGER_TEXT_CHARS, check_template, render
from bot.core.errors import Invalid, NotFound, Refused
from bot.platform.db import insert_new, now_ms, storable_text
from bot.platform.models import CannedResponse, Conversation, User

SHARED = "shared"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
SHORTCUT = re.compile(r"(?<!\S)/([a-z0-9][a-z0-9_-]{0,49})(?!\S)")


class CannedView(msgspec.Struct):
    id: int
    name: str
    text: str
    shared: bool
    owner_id: int | None
    updated_at: int


def create(user_id: int, name: str, text: str, *, shared: bool) -> CannedView:
    """Save a response; the name is unique among the shared ones, or among the owner's own."""
    name, text = _checked(name, text)
    scope = SHARED if shared else _personal(user_id)
    now = now_ms()
    row_id = insert_new(CannedResponse.insert(scope=scope, owner=user_id, name=name, text=text, created_at=now,
                                              updated_at=now))
    if not row_id:
        raise Invalid("name", f"/{name} already exists {'for the team' if shared else 'among yours'}")
    return view_of(CannedResponse.get_by_id(row_id))


def update(user_id: int, canned_id: int, *, name: str | None = None, text: str | None = None,
           shared: bool | None = None) -> CannedView:
    """Change what is given; only its owner (or an admin, for a shared one) may."""
    row = _editable(user_id, canned_id)
    name, text = _checked(row.name if name is None else name, row.text if text is None else text)
    scope = row.scope if shared is None else (SHARED if shared else _personal(row.owner_id or user_id))
    clash = CannedResponse.select().where((CannedResponse.scope == scope) & (CannedResponse.name == name)
                                          & (CannedResponse.id != row.id)).exists()
    if clash:
        raise Invalid("name", f"/{name} already exists")
    CannedResponse.update(name=name, text=text, scope=scope, updated_at=now_ms()).where(
        CannedResponse.id == row.id).execute()
    return view_of(CannedResponse.get_by_id(row.id))


def delete(user_id: int, canned_id: int) -> None:
    CannedResponse.delete().where(CannedResponse.id == _editable(user_id, canned_id).id).execute()


def visible(user_id: int) -> list[CannedView]:
    """The responses `user_id` may use, by name; their own first where names meet."""
    rows = CannedResponse.select().where(CannedResponse.scope.in_([SHARED, _personal(user_id)]))
    chosen: dict[str, CannedResponse] = {}
    for row in sorted(rows, key=lambda r: (r.name, r.scope == SHARED)):
        chosen.setdefault(row.name, row)
    return [view_of(r) for r in chosen.values()]


def get(user_id: int, canned_id: int) -> CannedView:
    return view_of(_visible_row(user_id, canned_id))


def rendered(user_id: int, canned_id: int, conversation_id: int) -> str:
    """The response's text for this conversation's person."""
    return render(_visible_row(user_id, canned_id).text, _context(conversation_id))


def expand(user_id: int, conversation_id: int, text: str) -> str:
    """Replace each `/name` standing alone in `text` by that response rendered for the
    conversation; an unknown name (or a path such as `a/b`) stays as typed."""
    if "/" not in text:
        return text
    by_name = {v.name: v for v in visible(user_id)}
    if not any(m.group(1) in by_name for m in SHORTCUT.finditer(text)):
        return text
    context = _context(conversation_id)
    return SHORTCUT.sub(lambda m: render(by_name[m.group(1)].text, context) if m.group(1) in by_name
                        else m.group(0), text)


def _context(conversation_id: int) -> dict[str, str | None]:
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        raise NotFound("conversation", conversation_id)
    return conversation_context(conversation)


def _checked(name: str, text: str) -> tuple[str, str]:
    name = (name or "").strip().lstrip("/").lower()
    if not NAME.match(name):
        raise Invalid("name", "1 to 50 lowercase letters, digits, - or _, starting with a letter or digit")
    text = storable_text(text or "")
    if not text.strip():
        raise Invalid("text", "must not be empty")
    if len(text) > MAX_MESSENGER_TEXT_CHARS:
        raise Invalid("text", f"at most {MAX_MESSENGER_TEXT_CHARS} characters")
    check_template(text, "text")
    return name, text


def _personal(user_id: int) -> str:
    return f"user:{user_id}"


def _visible_row(user_id: int, canned_id: int) -> CannedResponse:
    row = CannedResponse.get_or_none(CannedResponse.id == canned_id)
    if row is None or row.scope not in (SHARED, _personal(user_id)):
        raise NotFound("canned response", canned_id)  # someone else's personal one is not there for you
    return row


def _editable(user_id: int, canned_id: int) -> CannedResponse:
    row = _visible_row(user_id, canned_id)
    if row.scope == SHARED and row.owner_id != user_id and User.get_by_id(user_id).role != "admin":
        raise Refused("Only its author or an admin can change a shared canned response.")
    return row


def view_of(row: CannedResponse) -> CannedView:
    return CannedView(id=row.id, name=row.name, text=row.text, shared=row.scope == SHARED,
                      owner_id=row.owner_id, updated_at=row.updated_at)
