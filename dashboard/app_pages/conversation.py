"""One conversation: the thread as chat bubbles (live), the reply box with what can be sent
now and until when, the person's details, assignment, status and tags, and for comments what
each campaign decided and did.

The thread is a fragment refreshing itself; the reply box is outside it, so what is being
typed is never redrawn, and every field of it is kept as a draft until sent. The reply's text
(and for comments, the way of answering) is also saved in the database as it changes
(`bot.staff.drafts`), so a browser reload or another computer finds it again.
"""

from __future__ import annotations

import uuid
from functools import partial

import streamlit as st
from peewee import DoesNotExist

from bot import commands, queries
from bot.core.compose import MAX_ATTACHMENTS, MediaAttachment, stored_part_words
from bot.core.errors import Invalid, NotFound
from bot.queries import ConversationView, MessageView
from bot.staff import drafts
from dashboard import helpdesk, moderation, state, teams, widgets

SEEN = "sd_seen_message"
SAVED_LOADED = "sd_saved_drafts_loaded"  # conversations whose saved reply this session has put back
COMMENT_REPLY_TYPES = ("private", "comment")
# How a ledger entry came about, when not from the comment's own webhook.
SOURCE_WORDS = {"past_comment": " (sent to a past comment)", "backfill": " (comment recovered by a backfill)"}
CHUNK = 64 * 1024
NOBODY = 0  # the "unassigned" choice (a selectbox shows None as no choice at all)


@st.fragment(run_every=state.LIVE_SECONDS)
@state.with_db
def thread(conversation_id: int) -> None:
    user = state.user_or_stop()
    view = queries.conversation(conversation_id)
    notes = queries.conversation_notes(conversation_id)
    with st.container(height=520, autoscroll=True, key="thread"):
        if not view.messages and not notes:
            st.caption("No messages yet.")
        for item in helpdesk.timeline(view.messages, notes):
            if isinstance(item, MessageView):
                widgets.message_bubble(item, customer_name=view.contact_name, customer_picture=view.picture_url)
            else:
                helpdesk.note_card(item, user.id)
    newest = max((m.id for m in view.messages), default=0)
    seen = st.session_state.setdefault(SEEN, {})
    if seen.get(conversation_id) != newest:  # the person's new messages are read by being shown
        commands.open_conversation(user.id, conversation_id)  # and their notifications with them
        seen[conversation_id] = newest


def customer_comments(view: ConversationView) -> list[MessageView]:
    return [m for m in reversed(view.messages) if m.direction == "in" and m.comment_id]


def reply_box(user_id: int, view: ConversationView) -> None:
    prefix = f"reply{view.id}_"
    comments = customer_comments(view)
    reply_type, comment_id = "message", None
    restore_saved_reply(user_id, view, prefix)
    save = partial(save_reply, user_id, view.id, prefix)
    if view.kind.endswith("_comments"):
        type_key = prefix + "type"
        reply_type = widgets.drafted(st.radio, "Answer with", type_key, "private",
                                     options=list(COMMENT_REPLY_TYPES), format_func=widgets.REPLY_LABELS.get,
                                     horizontal=True, then=save)
        if len(comments) > 1:
            labels = {c.comment_id: f"“{(c.text or '')[:60]}” · {state.when(c.occurred_at)}"
                      for c in comments}
            comment_id = st.selectbox("Comment", list(labels), format_func=labels.get, key=prefix + "comment")
        elif comments:
            comment_id = comments[0].comment_id
    sent = private_reply_of(view, comment_id) if reply_type == "private" else None
    if sent is not None:
        private_reply_sent(view, sent)
        return
    widgets.send_window_badge(view.options, selected=reply_type)
    media = reply_type != "comment"
    helpdesk.canned_picker(user_id, view.id, prefix)
    widgets.composer(prefix, media=media, text_label="Your reply",
                     on_text_change=helpdesk.expanding(user_id, view.id, prefix, save))
    if media:
        st.file_uploader("Attach files from your computer", accept_multiple_files=True, key=files_key(prefix),
                         help=f"Up to {MAX_ATTACHMENTS} attachments in all (each is its own message). Images, "
                              "video, audio, PDF, office documents or text, up to 25 MB each; what a file is "
                              "is checked from its content.")
    allowed = any(o.allowed for o in view.options if o.reply_type == reply_type)
    st.button("Send", type="primary", icon=":material/send:", key=prefix + "send", disabled=not allowed,
              on_click=send, args=(user_id, view.id, prefix, reply_type, comment_id, media))


def private_reply_of(view: ConversationView, comment_id: str | None) -> MessageView | None:
    """The private reply this comment already had (Meta allows one), if any."""
    for message in view.messages:
        answered = message.replying_to or {}
        if (message.send_kind == "private_reply" and message.status != "refused"
                and answered.get("comment_id") == comment_id):
            return message
    return None


def private_reply_sent(view: ConversationView, sent: MessageView) -> None:
    """Instead of "not possible now": what was sent, and where the conversation goes on."""
    st.info(f"This comment had its private reply ({widgets.status_line(sent)}, {state.when(sent.occurred_at)}); "
            "Meta allows one per comment. The person answers in their inbox: continue there, or reply "
            "publicly under the comment.", icon=":material/mark_chat_read:")
    thread_id = sent.elsewhere_conversation_id or view.dm_conversation_id
    if thread_id:
        st.page_link("app_pages/conversation.py", label="Open the inbox conversation", icon=":material/chat:",
                     query_params={"conversation": str(thread_id)})


def restore_saved_reply(user_id: int, view: ConversationView, prefix: str) -> None:
    """The first time this session draws a conversation's reply box, put back the reply saved in
    the database (typed before a browser reload, or on another computer). What this session
    typed since takes precedence: it is at least as new."""
    loaded: set[int] = st.session_state.setdefault(SAVED_LOADED, set())
    if view.id in loaded:
        return
    loaded.add(view.id)
    saved = drafts.load(user_id, view.id)
    if saved is None:
        return
    state.drafts().setdefault(prefix + "text", saved.text)
    if view.kind.endswith("_comments") and saved.reply_type in COMMENT_REPLY_TYPES:
        state.drafts().setdefault(prefix + "type", saved.reply_type)


@state.with_db
def save_reply(user_id: int, conversation_id: int, prefix: str) -> None:
    """on_change of the reply text and of the way of answering: save the draft in the database
    (text and reply type only; attachment and button fields stay in this session)."""
    reply_type = state.value(prefix + "type", "message")
    try:
        drafts.save(user_id, conversation_id, state.value(prefix + "text", "") or "", reply_type)
    except (Invalid, NotFound) as exc:
        state.notice(f"Draft not kept: {exc}", "warning")


@state.with_db
def send(user_id: int, conversation_id: int, prefix: str, reply_type: str, comment_id: str | None,
         media: bool) -> None:
    """The Send button: one staff reply through `commands.reply` (the same outbox, policy and
    sender as automations). A repeated click reuses the draft's key, so nothing goes twice."""
    content = widgets.composed(prefix, media=media)
    client_key = state.drafts().setdefault(prefix + "client_key", uuid.uuid4().hex)
    try:
        files = stored_files(user_id, prefix) if media else []
        rows = commands.reply(user_id, conversation_id, text=content.text,
                              attachments=[*content.attachments, *files], buttons=list(content.buttons),
                              reply_type=reply_type, comment_id=comment_id, client_key=client_key)
    except (Invalid, NotFound) as exc:
        state.notice(f"Not sent: {exc}", "error")
        return
    state.clear_drafts(prefix, widgets.composer_keys(prefix))
    state.drafts()[prefix + "files_round"] = state.drafts().get(prefix + "files_round", 0) + 1  # empties it
    drafts.clear(user_id, conversation_id)
    refused = [r for r in rows if r.status == "refused"]
    if refused:
        state.notice(f"Not sent: {refused[0].status_reason}", "error")
    else:
        state.notice(queued_words(reply_type), "info")


def files_key(prefix: str) -> str:
    """The file picker's key: a new one after each send, which empties it (its value cannot be set)."""
    return f"{prefix}files{state.drafts().get(prefix + 'files_round', 0)}"


def stored_files(user_id: int, prefix: str) -> list[MediaAttachment]:
    """The files picked for this reply, kept by socialdesk (checked from their bytes, bounded);
    Invalid names the file that was refused and why."""
    attachments = []
    for picked in st.session_state.get(files_key(prefix)) or []:
        picked.seek(0)
        try:
            view = commands.upload_file(user_id, iter(lambda f=picked: f.read(CHUNK), b""), picked.name)
        except Invalid as exc:
            raise Invalid("file", f"{picked.name}: {exc.problem}") from None
        attachments.append(MediaAttachment(type=view.type, file_id=view.id, name=view.name))  # type: ignore[arg-type]
    return attachments


def queued_words(reply_type: str) -> str:
    """Said neutrally: Meta has not answered yet. The message's bubble shows the outcome (sent,
    or failed with Meta's reason and a Retry button)."""
    if reply_type == "private":
        return ("Private reply queued: it goes to the person's inbox and shows in that conversation, "
                "with whether Meta accepted it.")
    return "Reply queued for sending: its bubble shows whether Meta accepted it."


def details(view: ConversationView) -> None:
    """Who this is, where it happens, and the conversation's assignment, status and tags."""
    with st.container(border=True):
        if widgets.safe_url(view.picture_url):
            st.image(widgets.safe_url(view.picture_url), width=72)
        lines = [f"{widgets.KIND_ICONS.get(view.kind, '')} {widgets.KIND_LABELS.get(view.kind, view.kind)}"
                 f" · {widgets.plain(view.channel)}"]
        if view.username:
            lines.append(f"@{widgets.plain(view.username)}")
        if widgets.safe_url(view.profile_url):
            lines.append(widgets.link("Instagram profile", view.profile_url))
        if widgets.safe_url(view.post_url):
            lines.append(widgets.link("The commented post", view.post_url))
        st.markdown("  \n".join(lines))
    status_control(view)
    helpdesk.snooze_control(view)
    assignee_control(view)
    teams.team_control(view)
    bot_control(view)
    if view.contact_id is not None:
        widgets.tag_editor(view.contact_id, view.tags)


def status_control(view: ConversationView) -> None:
    closing = view.status != "closed"  # open or snoozed
    target = ("closed" if closing else "open", state.user_or_stop().id)  # who closed it counts in reports
    st.button("Close conversation" if closing else "Reopen conversation", key=f"status{view.id}",
              icon=":material/check_circle:" if closing else ":material/undo:", width="stretch",
              on_click=state.with_db(commands.set_status), args=(view.id, *target))


def bot_control(view: ConversationView) -> None:
    """The bot's state in this conversation, with pause and resume (a human takes over)."""
    if view.bot_flow:
        st.caption(f"Bot: flow **{widgets.plain(view.bot_flow)}**, step **{widgets.plain(view.bot_state or '')}**")
    if view.bot_paused_until:
        st.caption(f"Bot paused until {state.when(view.bot_paused_until)}"
                   + (f" — {widgets.plain(view.bot_paused_reason)}" if view.bot_paused_reason else ""))
        st.button("Resume the bot", key=f"resume{view.id}", icon=":material/play_arrow:", width="stretch",
                  on_click=state.with_db(commands.resume_bot), args=(view.id,))
    else:
        st.button("Pause the bot", key=f"pause{view.id}", icon=":material/pause:", width="stretch",
                  on_click=state.with_db(commands.pause_bot), args=(view.id,))


def assignee_control(view: ConversationView) -> None:
    staff = {u.id: u.name or u.email for u in queries.staff_users()
             if u.is_active or u.id == view.assignee_id}
    key = f"assignee{view.id}"
    st.session_state[key] = view.assignee_id or NOBODY
    st.selectbox("Assigned to", [NOBODY, *staff], key=key, format_func=lambda i: staff.get(i, "Nobody"),
                 on_change=_assign, args=(view.id, key))


@state.with_db
def _assign(conversation_id: int, key: str) -> None:
    commands.assign(conversation_id, st.session_state[key] or None)


def ledger(view: ConversationView, user_id: int) -> None:
    """For each of the person's comments: which campaigns matched or not and why, and what
    each action did."""
    st.markdown("#### Campaigns")
    comments = customer_comments(view)
    if not comments:
        st.caption("No comments in this conversation.")
    for comment in comments[:10]:
        entries = queries.comment_ledger(comment.comment_id or "")
        matched = sum(e.matched for e in entries)
        with st.expander(f"“{widgets.plain((comment.text or '')[:40])}” · {matched} of {len(entries)} matched"):
            moderation.comment_moderation(user_id, view, comment)  # like / hide (issue 22)
            if not entries:
                st.caption("No campaign looked at this comment.")
            for entry in entries:
                icon = ":material/check_circle:" if entry.matched else ":material/remove_circle_outline:"
                st.markdown(f"{icon} **{widgets.plain(entry.campaign)}**: {entry.explanation}"
                            + SOURCE_WORDS.get(entry.source, ""))
                for step in entry.steps:
                    st.caption(f"Step {step.position + 1}: {step.status}"
                               + (f" · {widgets.plain(step.detail)}" if step.detail else ""))
                    for message in step.messages:
                        text = widgets.plain(stored_part_words(message.text, message.attachments)[:80])
                        st.caption(f"↳ {text} · {widgets.status_line(message)}")


def page() -> None:
    user = state.user_or_stop()
    conversation_id = state.open_conversation_id()
    if conversation_id is None:
        st.info("Choose a conversation in the inbox.")
        st.page_link("app_pages/inbox.py", label="Go to the inbox", icon=":material/inbox:")
        return
    try:
        view = queries.conversation(conversation_id)
    except DoesNotExist:  # queries.conversation raises the model's DoesNotExist (see report)
        st.error(f"Conversation {conversation_id} does not exist.")
        return
    state.remember_conversation(conversation_id)
    st.query_params["conversation"] = str(conversation_id)
    st.page_link("app_pages/inbox.py", label="Inbox", icon=":material/arrow_back:")
    st.title(widgets.plain(view.contact_name))
    state.show_notice()
    main, side = st.columns([3, 1.4], gap="large")
    with main:
        thread(conversation_id)
        reply_tab, note_tab = st.tabs(["Reply", "Private note"], key=f"compose{view.id}", on_change="rerun")
        with reply_tab:
            reply_box(user.id, view)
        with note_tab:
            helpdesk.note_box(user.id, view.id)
    with side:
        details(view)
        if view.kind.endswith("_comments"):
            ledger(view, user.id)


page()
