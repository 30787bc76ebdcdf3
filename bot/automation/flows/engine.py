"""The live bot: a customer's event in a DM thread -> the flow's next step -> outgoing drafts.

It runs inside the event's transaction, under the conversation's lock (`jobs.drain_conversation`),
so a conversation's events are stepped one at a time in the order the customer produced them,
whatever worker runs them. Timeouts run under the same lock (`jobs.flow_timeout`).

Order of precedence for an answer: a request for a human; the current state's own transitions
(buttons, quick replies, keywords, patterns); a payload or keyword that starts a flow; the
current state's "any text"; then the channel's fallback message (for an unexpected answer in a
flow, or a payload nobody handles), never an exception. Drafts are keyed by the inbound event's
key, so a redelivered event sends nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from bot.automation import handover
from bot.automation.context import attribute_kinds, attribute_values, parse_payload, person_context, shortcode_context
from bot.automation.flows import runner, store
from bot.automation.flows.runner import Answer, Say, Step
from bot.automation.flows.spec import FlowSpec
from bot.core import events as ev
from bot.core.compose import MessageContent, render_content, validate_content
from bot.core.errors import Invalid, Refused
from bot.inbound import pauses
from bot.inbound.contacts import identity_for
from bot.inbound.inbox import Applied, dm_conversation
from bot.outbound import outbox
from bot.outbound.sendpolicy import SendKind
from bot.platform.db import now_ms
from bot.platform.models import BotState, Channel, Comment, Conversation, Message
from bot.platform.scheduler import schedule

log = logging.getLogger(__name__)

ECHO_OUTSIDE = "written outside socialdesk"  # inbox._echo's note for a page admin's own answer
TIMEOUT_JOB = "flow_timeout"


@dataclass(frozen=True)
class Turn:
    """One step being taken: where, and the key its drafts derive from."""

    channel: Channel
    conversation: Conversation
    key: str


def on_event(applied: Applied) -> list[int]:
    """React to one applied DM event; returns outgoing message ids ready to send."""
    event, conversation = applied.event, applied.conversation
    if applied.duplicate or conversation is None:
        return []
    if isinstance(event, ev.MessageEcho):
        if applied.note == ECHO_OUTSIDE:
            handover.pause(conversation.id, "A page admin answered from another app.")
        return []
    answer = answer_of(event)
    if answer is None:
        return []
    asks = handover.asks_for_human(applied.channel.id, answer.payload, answer.text)
    if not asks and answer.payload is None and not store.any_active(applied.channel.id):
        return []  # no flow can run here and nobody asked for a person: nothing to read or answer
    row = store.lock_state(conversation.id)  # read once: whether a human has it, where the flow stands
    if pauses.pause_in_force(row) is not None:
        return []
    turn = Turn(applied.channel, conversation, f"bot:{event.event_key}")
    if asks:
        return hand_over(turn)
    return _step_answer(turn, answer, row)


def answer_of(event: ev.Event) -> Answer | None:
    """What a flow sees of an event; campaign buttons carry their original payload inside ours."""
    if isinstance(event, ev.Postback):
        return Answer("postback", payload=_original(event.payload), text=event.title)
    if isinstance(event, ev.MessageReceived):
        if event.quick_reply_payload is not None:
            return Answer("quick_reply", payload=_original(event.quick_reply_payload), text=event.text)
        if event.text:
            return Answer("text", text=event.text)
    return None


def _original(payload: str) -> str:
    parsed = parse_payload(payload)
    return parsed[2] if parsed else payload


def _step_answer(turn: Turn, answer: Answer, row: BotState) -> list[int]:
    """Step the flow from `row`, the conversation's bot state, locked by the caller."""
    answer = replace(answer, attributes=attribute_values(turn.conversation.contact_id),  # for `when`
                     kinds=attribute_kinds())
    flow = _current_flow(row, turn.channel)
    if flow is not None:
        step = runner.advance(flow, row.state, answer)
        if step is not None:
            return apply_step(turn, flow, step)
    entry = _entry_flow(turn.channel, answer)
    if entry is not None:
        return apply_step(turn, entry, runner.start(entry), origin=None)
    if flow is not None:
        step = runner.advance(flow, row.state, answer, catch_all=True)
        return apply_step(turn, flow, step) if step is not None else fallback(turn)
    return fallback(turn) if answer.payload is not None else []


def _current_flow(row: BotState | None, channel: Channel) -> FlowSpec | None:
    if row is None or not row.flow_name or not row.state:
        return None
    return store.runnable(row.flow_name, channel.id)


def _entry_flow(channel: Channel, answer: Answer) -> FlowSpec | None:
    if answer.payload is not None:
        found = store.flow_for_payload(channel.id, answer.payload)
        if found is not None:
            return found
    return store.flow_for_text(channel.id, answer.text) if answer.text else None


def apply_step(turn: Turn, flow: FlowSpec, step: Step, *, origin: str | None | bool = False) -> list[int]:
    """Store where the conversation now stands and draft the step's messages.

    `origin`: False keeps the conversation's originating comment, None clears it (a flow started
    from the DM thread), a comment id sets it (a flow started from a comment)."""
    if step.outcome == "flow":
        target = store.runnable(step.flow or "", turn.channel.id)
        step = runner.start(target) if target else Step("ended")
        flow = target or flow
    if step.outcome == "handover":
        return hand_over(turn)
    origin_comment = _origin_comment(turn.conversation.id, origin)
    row = store.set_position(
        turn.conversation.id,
        flow.name if step.state else None,
        step.state,
        timeout_due_at=_due(step),
        origin_comment_id=origin_comment,
        keep_origin=False,
    )
    if step.timeout_seconds and step.state:
        schedule(
            TIMEOUT_JOB,
            [turn.conversation.id, row.step],
            _due(step) or 0,
            dedupe_key=f"flow-timeout:{turn.conversation.id}:{row.step}",
        )
    return _send_says(turn, step.says, origin_comment)


def _origin_comment(conversation_id: int, origin: str | None | bool) -> str | None:
    if origin is not False:
        return origin or None
    row = store.state_of(conversation_id)
    return row.origin_comment_id if row else None


def _due(step: Step) -> int | None:
    return now_ms() + step.timeout_seconds * 1000 if step.timeout_seconds else None


def hand_over(turn: Turn) -> list[int]:
    """The customer asked for a person: the flow ends, the bot pauses, and says so if set up to."""
    store.set_position(turn.conversation.id, None, None)
    handover.pause(turn.conversation.id, "The customer asked for a person.")
    message = handover.settings_for(turn.channel.id).handover_message
    if not message:
        return []
    return _send_says(turn, [Say("handover", MessageContent(text=message))], None)


def fallback(turn: Turn) -> list[int]:
    """An answer nobody expects gets the page's fallback message (when it has one)."""
    message = turn.channel.fallback_message
    if not message or not message.strip():
        return []
    return _send_says(turn, [Say("fallback", MessageContent(text=message))], None)


def on_timeout(conversation_id: int, step_number: int) -> list[int]:
    """No answer came in time: take the state's timeout transition, unless the conversation has
    moved on since (another step), a human has it, or the flow is gone."""
    row = store.lock_state(conversation_id)
    if row.step != step_number or pauses.pause_in_force(row) is not None:
        return []
    conversation = Conversation.get_by_id(conversation_id)
    flow = _current_flow(row, conversation.channel)
    answer = Answer("timeout", attributes=attribute_values(conversation.contact_id), kinds=attribute_kinds())
    step = runner.advance(flow, row.state, answer) if flow else None
    if flow is None or step is None:
        return []
    return apply_step(
        Turn(conversation.channel, conversation, f"bot:timeout:{conversation_id}:{step_number}"), flow, step
    )


def start_from_comment(comment: Comment, flow_name: str, key: str) -> list[int]:
    """The campaign action "Start bot flow": run the flow for the commenter, its first step
    answering the comment (by private reply unless the state says public). Raises Refused."""
    channel: Channel = comment.channel
    flow = store.runnable(flow_name, channel.id)
    if flow is None:
        raise Refused(f"The bot flow {flow_name!r} does not exist or is not active on this channel.")
    if not comment.from_id:
        raise Refused("Meta did not tell who wrote the comment.")
    identity, _ = identity_for(
        channel, comment.from_id, name=comment.from_name, username=comment.from_username
    )
    thread = dm_conversation(channel, identity)
    row = store.lock_state(thread.id)  # the DM thread's own events may be stepping this flow right now
    if pauses.pause_in_force(row) is not None:
        raise Refused(pauses.PAUSED_REASON)
    return apply_step(Turn(channel, thread, key), flow, runner.start(flow), origin=comment.comment_id)


# --- drafting ------------------------------------------------------------


def _send_says(turn: Turn, says: list[Say], origin_comment: str | None) -> list[int]:
    ready: list[int] = []
    for index, say in enumerate(says):
        content = _rendered(turn, say, origin_comment)
        if content is not None:
            ready += outbox.add(_draft(turn, say, content, f"{turn.key}:{say.state}:{index}", origin_comment))
    return ready


def _rendered(turn: Turn, say: Say, origin_comment: str | None) -> MessageContent | None:
    """Shortcodes filled in, then checked again (a long name can break a limit): a message that
    cannot be sent is logged and skipped, the flow goes on."""
    try:
        content = render_content(say.content, _context(turn, origin_comment))
        validate_content(content, turn.channel.platform)
    except Invalid as exc:
        log.warning("bot message of state %s not sent: %s", say.state, exc)
        return None
    return content


def _draft(
    turn: Turn, say: Say, content: MessageContent, key: str, origin_comment: str | None
) -> outbox.Draft:
    """Where the step answers: the DM thread, or for a conversation that began from a comment,
    the private reply (once per comment, then the DM thread) or a public reply under it."""
    common = dict(key=key, content=content, author="bot", origin=f"flow:{say.state}")
    if origin_comment is None:
        return outbox.Draft(kind=SendKind.DIRECT, conversation_id=turn.conversation.id, **common)
    if say.reply == "public":
        return outbox.Draft(
            kind=SendKind.COMMENT_REPLY,
            comment_id=origin_comment,
            **common | {"content": MessageContent(text=content.text)},
        )
    if _private_reply_used(origin_comment):
        return outbox.Draft(kind=SendKind.DIRECT, conversation_id=turn.conversation.id, **common)
    return outbox.Draft(kind=SendKind.PRIVATE_REPLY, comment_id=origin_comment, **common)


def _private_reply_used(comment_id: str) -> bool:
    return (
        Message.select()
        .where((Message.private_reply_to == comment_id) & (Message.status != "refused"))
        .exists()
    )


def _context(turn: Turn, origin_comment: str | None) -> dict[str, str | None]:
    """Shortcode values for the person of this conversation (and their comment, if any)."""
    if origin_comment:
        comment = Comment.get_or_none(Comment.comment_id == origin_comment)
        if comment is not None:
            return shortcode_context(comment)
    return person_context(turn.conversation, turn.channel)
