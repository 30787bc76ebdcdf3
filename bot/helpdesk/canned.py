"""Canned responses: saved replies staff insert in the reply box by typing `/name`.

A response is a message content: a text in the campaigns' template language, with optional
attachments and buttons. It is checked when saved with the same rules as campaign messages
(`bot.core.compose`: a typo in a shortcode, a third button or a bad url is refused then, not when
sending) and rendered for the conversation's person (`bot.automation.context`). A response is
shared with all staff, kept for one team (`bot.helpdesk.teams`: its members use it), or
personal; where names meet, a personal one shadows a team's, which shadows a shared one.
Inserting only fills the reply box: what is sent still goes through the send policy.
"""

from __future__ import annotations

import re

import msgspec

from bot.automation.context import conversation_context
from bot.core.compose import (
    MAX_MESSENGER_TEXT_CHARS,
    Button,
    MediaAttachment,
    MessageContent,
    check_content_templates,
    render,
    render_content,
    validate_content,
)
from bot.core.errors import Invalid, NotFound, Refused
from bot.platform.db import insert_new, now_ms, storable_text
from bot.platform.models import CannedResponse, Conversation, Team, TeamMember, User

SHARED = "shared"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
SHORTCUT = re.compile(r"(?<!\S)/([a-z0-9][a-z0-9_-]{0,49})(?!\S)")


class CannedView(msgspec.Struct):
    id: int
    name: str
    text: str
    attachments: list[MediaAttachment]
    buttons: list[Button]
    shared: bool
    owner_id: int | None
    updated_at: int
    team_id: int | None = None  # kept for this team (its members use it)


def create(user_id: int, name: str, content: MessageContent | str, *, shared: bool,
           team_id: int | None = None) -> CannedView:
    """Save a response; the name is unique among the shared ones, a team's, or the owner's own.
    A team's response is saved by its members (or an admin)."""
    name, content = _checked(name, _content(content))
    scope = _team_scope(user_id, team_id) if team_id is not None else SHARED if shared else _personal(user_id)
    now = now_ms()
    row_id = insert_new(CannedResponse.insert(scope=scope, owner=user_id, name=name, created_at=now, updated_at=now,
                                              **_columns(content)))
    if not row_id:
        raise Invalid("name", f"/{name} already exists {'for the team' if shared or team_id else 'among yours'}")
    return view_of(CannedResponse.get_by_id(row_id))


def update(user_id: int, canned_id: int, *, name: str | None = None, content: MessageContent | str | None = None,
           shared: bool | None = None) -> CannedView:
    """Change what is given; only its owner (or an admin, for a shared one) may."""
    row = _editable(user_id, canned_id)
    name, content = _checked(row.name if name is None else name, content_of(row) if content is None
                             else _content(content))
    scope = row.scope if shared is None else (SHARED if shared else _personal(row.owner_id or user_id))
    clash = CannedResponse.select().where((CannedResponse.scope == scope) & (CannedResponse.name == name)
                                          & (CannedResponse.id != row.id)).exists()
    if clash:
        raise Invalid("name", f"/{name} already exists")
    CannedResponse.update(name=name, scope=scope, updated_at=now_ms(), **_columns(content)).where(
        CannedResponse.id == row.id).execute()
    return view_of(CannedResponse.get_by_id(row.id))


def delete(user_id: int, canned_id: int) -> None:
    CannedResponse.delete().where(CannedResponse.id == _editable(user_id, canned_id).id).execute()


def visible(user_id: int) -> list[CannedView]:
    """The responses `user_id` may use, by name; their own first where names meet."""
    rows = CannedResponse.select().where(CannedResponse.scope.in_(_scopes(user_id)))
    chosen: dict[str, CannedResponse] = {}
    for row in sorted(rows, key=lambda r: (r.name, r.scope == SHARED, r.scope.startswith("team:"))):
        chosen.setdefault(row.name, row)
    return [view_of(r) for r in chosen.values()]


def get(user_id: int, canned_id: int) -> CannedView:
    return view_of(_visible_row(user_id, canned_id))


def rendered(user_id: int, canned_id: int, conversation_id: int) -> MessageContent:
    """The response filled in for this conversation's person (text and button titles)."""
    return render_content(content_of(_visible_row(user_id, canned_id)), _context(conversation_id))


def expand(user_id: int, conversation_id: int, text: str) -> MessageContent:
    """`text` with each `/name` standing alone replaced by that response's text rendered for the
    conversation, and their attachments and buttons; an unknown name (or a path such as `a/b`)
    stays as typed."""
    typed = MessageContent(text=text)
    if "/" not in text:
        return typed
    by_name = {v.name: v for v in visible(user_id)}
    used = [by_name[m.group(1)] for m in SHORTCUT.finditer(text) if m.group(1) in by_name]
    if not used:
        return typed
    context = _context(conversation_id)
    expanded = SHORTCUT.sub(lambda m: render(by_name[m.group(1)].text, context) if m.group(1) in by_name
                            else m.group(0), text)
    extras = render_content(MessageContent(text="", attachments=tuple(a for v in used for a in v.attachments),
                                           buttons=tuple(b for v in used for b in v.buttons)), context)
    return msgspec.structs.replace(extras, text=expanded)


def _context(conversation_id: int) -> dict[str, str | None]:
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        raise NotFound("conversation", conversation_id)
    return conversation_context(conversation)


def _checked(name: str, content: MessageContent) -> tuple[str, MessageContent]:
    """The name normalized, and the content checked as a campaign message is: templates, then
    the send rules (Messenger's; Instagram's shorter text limit is checked when it is sent)."""
    name = (name or "").strip().lstrip("/").lower()
    if not NAME.match(name):
        raise Invalid("name", "1 to 50 lowercase letters, digits, - or _, starting with a letter or digit")
    content = msgspec.structs.replace(content, text=storable_text(content.text or ""))
    if not (content.text or "").strip():
        raise Invalid("message.text", "must not be empty")
    if len(content.text or "") > MAX_MESSENGER_TEXT_CHARS:
        raise Invalid("message.text", f"at most {MAX_MESSENGER_TEXT_CHARS} characters")
    check_content_templates(content)
    validate_content(content, "facebook")
    return name, content


def _content(content: MessageContent | str) -> MessageContent:
    return MessageContent(text=content) if isinstance(content, str) else content


def _columns(content: MessageContent) -> dict:
    return {"text": content.text or "", "attachments": msgspec.to_builtins(content.attachments),
            "buttons": msgspec.to_builtins(content.buttons)}


def content_of(row: CannedResponse) -> MessageContent:
    attachments = msgspec.convert(row.attachments or [], tuple[MediaAttachment, ...])
    return MessageContent(text=row.text, attachments=attachments,
                          buttons=msgspec.convert(row.buttons or [], tuple[Button, ...]))


def _personal(user_id: int) -> str:
    return f"user:{user_id}"


def _scopes(user_id: int) -> list[str]:
    """What `user_id` sees: the shared responses, their teams' and their own."""
    teams = TeamMember.select(TeamMember.team).where(TeamMember.user == user_id)
    return [SHARED, _personal(user_id), *(f"team:{t.team_id}" for t in teams)]


def _team_scope(user_id: int, team_id: int) -> str:
    if not Team.select().where(Team.id == team_id).exists():
        raise Invalid("team_id", "no such team")
    member = TeamMember.select().where((TeamMember.team == team_id) & (TeamMember.user == user_id)).exists()
    if not member and User.get_by_id(user_id).role != "admin":
        raise Invalid("team_id", "you are not a member of this team")
    return f"team:{team_id}"


def _team_of(row: CannedResponse) -> int | None:
    return int(row.scope.split(":", 1)[1]) if row.scope.startswith("team:") else None


def _visible_row(user_id: int, canned_id: int) -> CannedResponse:
    row = CannedResponse.get_or_none(CannedResponse.id == canned_id)
    if row is None or row.scope not in _scopes(user_id):
        raise NotFound("canned response", canned_id)  # someone else's personal one is not there for you
    return row


def _editable(user_id: int, canned_id: int) -> CannedResponse:
    row = _visible_row(user_id, canned_id)
    if row.scope == SHARED and row.owner_id != user_id and User.get_by_id(user_id).role != "admin":
        raise Refused("Only its author or an admin can change a shared canned response.")
    return row


def view_of(row: CannedResponse) -> CannedView:
    content = content_of(row)
    return CannedView(id=row.id, name=row.name, text=row.text, attachments=list(content.attachments),
                      buttons=list(content.buttons), shared=row.scope == SHARED, owner_id=row.owner_id,
                      updated_at=row.updated_at, team_id=_team_of(row))
