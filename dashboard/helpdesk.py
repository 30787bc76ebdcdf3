"""The helpdesk tools in a conversation: private notes in the timeline and their box, the snooze
control, and canned responses in the reply box (a picker, and `/name` typed in the text).

Kept apart from the message rendering (`dashboard.widgets`): a note is never a message, and is
drawn so that nobody mistakes it for one (a bordered "Private note" card with a lock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import msgspec
import streamlit as st

from bot import commands, queries
from bot.core.compose import MAX_ATTACHMENTS, MAX_BUTTONS, MessageContent
from bot.core.errors import Invalid, NotFound, Refused
from bot.helpdesk.canned import CannedView
from bot.helpdesk.notes import NoteView
from bot.queries import ConversationView, MessageView
from dashboard import state, widgets

UNTIL_CUSTOMER = "customer"
SNOOZE_CHOICES = {"1h": "For 1 hour", "4h": "For 4 hours", "tomorrow": "Until tomorrow 9:00",
                  "week": "Until next Monday 9:00", UNTIL_CUSTOMER: "Until the customer writes"}
NO_CANNED = 0


# --- notes in the timeline --------------------------------------------------------------------------


def timeline(messages: list[MessageView], notes: list[NoteView]) -> Iterator[MessageView | NoteView]:
    """Messages and notes interleaved by time (a note after a message of the same moment)."""
    items: list[tuple[int, int, MessageView | NoteView]] = [(m.occurred_at, 0, m) for m in messages]
    items += [(n.created_at, 1, n) for n in notes]
    for _, _, item in sorted(items, key=lambda i: (i[0], i[1])):
        yield item


def note_card(note: NoteView, user_id: int) -> None:
    """A private note: boxed, labelled and marked with a lock, on the staff side of the thread."""
    with st.chat_message("assistant", avatar=":material/lock:"), st.container(border=True, key=f"note_{note.id}"):
        st.markdown(f":orange-badge[:material/lock: Private note] **{widgets.plain(note.author)}** · "
                    f":gray[{state.when(note.created_at)}]")
        st.markdown(widgets.plain(note.text))
        if note.author_id == user_id:
            st.button("Delete note", key=f"note_delete{note.id}", icon=":material/delete:", type="tertiary",
                      on_click=_delete_note, args=(user_id, note.id))


@state.with_db
def _delete_note(user_id: int, note_id: int) -> None:
    try:
        commands.delete_note(user_id, note_id)
    except (NotFound, Refused) as exc:
        state.notice(f"Note not deleted: {exc}", "error")


def note_box(user_id: int, conversation_id: int) -> None:
    """Write a note only staff see; `@name` notifies a colleague."""
    key = f"note{conversation_id}_text"
    widgets.drafted(st.text_area, "Private note (only staff see it; @name notifies a colleague)", key, "",
                    height=90)
    st.button("Add note", key=f"note{conversation_id}_add", icon=":material/lock:",
              on_click=_add_note, args=(user_id, conversation_id, key))


@state.with_db
def _add_note(user_id: int, conversation_id: int, key: str) -> None:
    try:
        note = commands.add_note(user_id, conversation_id, state.value(key, "") or "")
    except (Invalid, NotFound) as exc:
        state.notice(f"Note not added: {exc}", "error")
        return
    state.clear_drafts(key, {key: ""})
    count = len(note.mentions)
    told = f" ({count} colleague{'s' if count != 1 else ''} notified)" if count else ""
    state.notice(f"Note added{told}.")


# --- snooze -------------------------------------------------------------------------------------------


def snooze_control(view: ConversationView) -> None:
    """Snoozed: until when, and a way to bring it back now. Otherwise: snooze it."""
    if view.status == "snoozed":
        until = state.when(view.snoozed_until) if view.snoozed_until else "the customer writes"
        st.caption(f":material/snooze: Snoozed until {until}")
        st.button("Unsnooze", key=f"unsnooze{view.id}", icon=":material/alarm_off:", width="stretch",
                  on_click=state.with_db(commands.set_status), args=(view.id, "open"))
        return
    key = f"snooze_choice{view.id}"
    st.selectbox("Snooze", list(SNOOZE_CHOICES), key=key, format_func=SNOOZE_CHOICES.get)
    st.button("Snooze", key=f"snooze{view.id}", icon=":material/snooze:", width="stretch",
              on_click=_snooze, args=(view.id, key))


def wake_time(choice: str, now: dt.datetime) -> dt.datetime | None:
    """When a snooze choice ends, in the staff member's time zone (None: when the customer writes)."""
    if choice == UNTIL_CUSTOMER:
        return None
    if choice in ("1h", "4h"):
        return now + dt.timedelta(hours=int(choice[0]))
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    days = 1 if choice == "tomorrow" else 7 - now.weekday()
    return nine + dt.timedelta(days=days)


@state.with_db
def _snooze(conversation_id: int, key: str) -> None:
    user = state.current_user()
    wake = wake_time(st.session_state.get(key, UNTIL_CUSTOMER), dt.datetime.now(state.browser_zone()))
    until = int(wake.timestamp() * 1000) if wake else None
    try:
        commands.snooze_conversation(user.id if user else None, conversation_id, until)
    except (Invalid, NotFound) as exc:
        state.notice(f"Not snoozed: {exc}", "error")
        return
    state.notice(f"Snoozed until {state.when(until) if until else 'the customer writes'}.")


# --- canned responses -----------------------------------------------------------------------------------


def canned_picker(user_id: int, conversation_id: int, prefix: str) -> None:
    """Insert a saved reply, rendered for this person, at the end of the reply text."""
    responses = {c.id: c for c in queries.canned_responses(user_id)}
    if not responses:
        return
    key = f"{prefix}canned"
    st.session_state[key] = NO_CANNED
    st.selectbox("Insert a saved reply (or type /name)", [NO_CANNED, *responses], key=key,
                 format_func=lambda i: _canned_label(responses[i]) if i in responses else "—",
                 on_change=_insert, args=(user_id, conversation_id, prefix, key))


def _canned_label(item: CannedView) -> str:
    return f"/{item.name}" + (" · everyone" if item.shared else " · team" if item.team_id else "")


@state.with_db
def _insert(user_id: int, conversation_id: int, prefix: str, key: str) -> None:
    canned_id = st.session_state.get(key) or NO_CANNED
    if canned_id == NO_CANNED:
        return
    try:
        content = queries.render_canned(user_id, canned_id, conversation_id)
    except (Invalid, NotFound) as exc:
        state.notice(f"Not inserted: {exc}", "error")
        return
    before = (state.value(prefix + "text", "") or "").rstrip()
    text = content.text or ""
    put_content(prefix, msgspec.structs.replace(content, text=f"{before}\n{text}" if before else text))


def expanding(user_id: int, conversation_id: int, prefix: str, then: Callable[[], None]) -> Callable[[], None]:
    """The reply text's on_change: replace `/name` of a saved reply by its text (and add its
    attachments and buttons), then `then`."""
    @state.with_db
    def expand() -> None:
        text = state.value(prefix + "text", "") or ""
        try:
            expanded = queries.expand_canned(user_id, conversation_id, text)
        except (Invalid, NotFound) as exc:
            state.notice(f"Saved reply not inserted: {exc}", "warning")
            expanded = MessageContent(text=text)
        if expanded.text != text:
            put_content(prefix, expanded)
        then()
    return expand


def put_content(prefix: str, content: MessageContent) -> None:
    """Set the reply text, and add the attachments and buttons to the composer's free slots
    (from a callback, before the widgets are drawn)."""
    values = {prefix + "text": content.text or ""}
    free_attachments = [i for i in range(MAX_ATTACHMENTS) if not state.value(f"{prefix}att{i}_url")]
    for i, attachment in zip(free_attachments, content.attachments, strict=False):
        values.update({f"{prefix}att{i}_type": attachment.type, f"{prefix}att{i}_url": attachment.url or ""})
    free_buttons = [i for i in range(MAX_BUTTONS) if not state.value(f"{prefix}btn{i}_title")]
    for i, button in zip(free_buttons, content.buttons, strict=False):
        values.update({f"{prefix}btn{i}_title": button.title, f"{prefix}btn{i}_kind": "Link" if button.url else "Reply",
                       f"{prefix}btn{i}_value": button.url or button.payload or ""})
    if len(content.attachments) > len(free_attachments) or len(content.buttons) > len(free_buttons):
        state.notice("Some attachments or buttons of the saved reply did not fit in the reply.", "warning")
    for key, value in values.items():
        st.session_state[key] = value
        state.drafts()[key] = value
