"""Meta's refusals: the error envelope, the error catalogue, and the Send API's body rules.

Everything here follows shared/meta-platform.md §5-§7 and §11, written independently of
socialdesk's own validation so that the sandbox can catch our mistakes. A refusal is a
`GraphFault`: raised by the rule that spots it, turned into Meta's envelope in one place
(`envelope`), and recorded as an attempt by the Graph route.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

DAY_MS = 24 * 3600 * 1000
STANDARD_WINDOW_MS = DAY_MS
HUMAN_AGENT_WINDOW_MS = 7 * DAY_MS
PRIVATE_REPLY_WINDOW_S = 7 * 24 * 3600

MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
MESSAGE_TAGS = ("HUMAN_AGENT", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE")
SENDER_ACTIONS = ("mark_seen", "typing_on", "typing_off", "react", "unreact")
MEDIA_TYPES = ("image", "video", "audio", "file")
MESSENGER_TEXT_LIMIT = 2000
INSTAGRAM_TEXT_BYTES = 1000
QUICK_REPLY_LIMIT = 13
TITLE_LIMIT = 20
PAYLOAD_LIMIT = 1000
TEMPLATE_TEXT_LIMIT = 640
CARD_TEXT_LIMIT = 80  # generic template element title and subtitle (meta-platform.md §12)
CARD_ELEMENTS_LIMIT = 10
CARD_BUTTONS_LIMIT = 3
IMAGE_ASPECT_RATIOS = ("horizontal", "square")
WINDOW_MESSAGE = (
    "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
    "https://developers.facebook.com/docs/messenger-platform/policy-overview"
)
_REVOKED_MESSAGES = {
    458: "Error validating access token: The user has not authorized application {app_id}.",
    460: (
        "Error validating access token: The session has been invalidated because the user changed "
        "their password or Facebook has changed the session for security reasons."
    ),
    463: "Error validating access token: Session has expired.",
    467: "Error validating access token: The access token is invalid.",
}


class GraphFault(Exception):
    """A Graph API refusal: HTTP status plus Meta's code, subcode, type and message."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        status: int = 400,
        error_type: str = "OAuthException",
        transient: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.subcode = subcode
        self.status = status
        self.error_type = error_type
        self.transient = transient
        self.headers = headers or {}
        super().__init__(f"{code}/{subcode}: {message}")


def envelope(fault: GraphFault, *, instagram: bool) -> dict[str, Any]:
    """Meta's error body. `error_subcode` is omitted when there is none (as Meta does);
    `is_transient` is added for Instagram calls."""
    error: dict[str, Any] = {"message": fault.message, "type": fault.error_type, "code": fault.code}
    if fault.subcode is not None:
        error["error_subcode"] = fault.subcode
    if instagram:
        error["is_transient"] = fault.transient
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)[:22]
    return {"error": error}


# The catalogue (meta-platform.md §7).


def missing_token() -> GraphFault:
    return GraphFault(104, "An access token is required to request this resource.")


def invalid_token() -> GraphFault:
    return GraphFault(190, "Invalid OAuth access token - Cannot parse access token")


def revoked_token(subcode: int, app_id: str) -> GraphFault:
    template = _REVOKED_MESSAGES.get(subcode, _REVOKED_MESSAGES[460])
    return GraphFault(190, template.format(app_id=app_id), subcode=subcode)


def permission(message: str) -> GraphFault:
    return GraphFault(200, f"(#200) {message}", status=403)


def invalid_param(message: str) -> GraphFault:
    return GraphFault(100, f"(#100) {message}")


def no_matching_user() -> GraphFault:
    return GraphFault(100, "(#100) No matching user found", subcode=2018001)


def outside_window(detail: str) -> GraphFault:
    return GraphFault(10, f"{WINDOW_MESSAGE} (sandbox: {detail})", subcode=2018278)


def already_replied() -> GraphFault:
    return GraphFault(10900, "(#10900) Activity already replied to")


def cannot_reply(detail: str) -> GraphFault:
    return GraphFault(10903, f"(#10903) This user cant reply to this activity (sandbox: {detail})")


def does_not_exist(node_id: str, method: str) -> GraphFault:
    verb = "post" if method == "POST" else ("delete" if method == "DELETE" else "get")
    return GraphFault(
        100,
        f"Unsupported {verb} request. Object with ID '{node_id}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        error_type="GraphMethodException",
    )


def nonexisting_field(name: str, node_type: str) -> GraphFault:
    return invalid_param(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")


def profile_permission() -> GraphFault:
    """Asking for locale/timezone/gender without the permission fails the whole request (§9)."""
    return GraphFault(100, "(#100) Insufficient permission to access user profile.", subcode=2018247)


def consent_required() -> GraphFault:
    # Code 230 is an assumption (unconfirmed): Meta documents the message, not the code.
    return GraphFault(230, "(#230) User consent is required to access user profile")


def page_rate_limited(instagram: bool, usage_header: str) -> GraphFault:
    # 80002 for an Instagram account follows meta-platform.md §7 (unconfirmed there).
    code = 80002 if instagram else 80001
    kind = "Instagram account" if instagram else "Page account"
    return GraphFault(
        code,
        f"(#{code}) There have been too many calls to this {kind}. Wait a bit and try again. For more "
        "info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        transient=True,
        headers={"X-Business-Use-Case-Usage": usage_header},
    )


def custom_rate_limited() -> GraphFault:
    return GraphFault(613, "(#613) Calls to this api have exceeded the rate limit.", transient=True)


def temporary() -> GraphFault:
    return GraphFault(
        2, "An unexpected error has occurred. Please retry your request later.", status=500, transient=True
    )


def ambiguous_reply() -> GraphFault:
    """Meta's "invalid JSON reply": the send may have gone through (§7, 1/1357046)."""
    return GraphFault(1, "An unknown error occurred", subcode=1357046, status=500, transient=True)


# Send API body rules (§5, §6).


@dataclass(frozen=True)
class SendShape:
    """What a valid Send API body asks for, once checked."""

    recipient_key: str
    recipient_value: str
    messaging_type: str
    tag: str | None
    message: dict[str, Any] | None
    sender_action: str | None


def check_send_body(body: dict[str, Any], *, instagram: bool) -> SendShape:
    """Check everything that can be judged from the body alone; raise the first violation."""
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not recipient:
        raise invalid_param("The parameter recipient is required")
    keys = [key for key in ("id", "comment_id", "post_id") if recipient.get(key)]
    if len(keys) != 1:
        raise invalid_param("param recipient must contain exactly one of id, comment_id or post_id")
    message, action = body.get("message"), body.get("sender_action")
    if message is not None and action is not None:
        raise invalid_param("Only one of message or sender_action may be set, not both")
    if message is None and action is None:
        raise invalid_param("Must send either message or sender_action")
    messaging_type, tag = _check_messaging_type(body, instagram=instagram)
    if action is not None:
        _check_sender_action(action, body.get("payload"))
    else:
        if not isinstance(message, dict):
            raise invalid_param("param message must be an object")
        check_message(message, instagram=instagram)
    return SendShape(
        recipient_key=keys[0],
        recipient_value=str(recipient[keys[0]]),
        messaging_type=messaging_type,
        tag=tag,
        message=message,
        sender_action=action,
    )


def _check_messaging_type(body: dict[str, Any], *, instagram: bool) -> tuple[str, str | None]:
    # Meta documents messaging_type as required, yet long accepted bodies without it as a
    # response; the sandbox treats a missing value as RESPONSE (unconfirmed).
    messaging_type = body.get("messaging_type") or "RESPONSE"
    if messaging_type not in MESSAGING_TYPES:
        raise invalid_param(f"param messaging_type must be one of {{{', '.join(MESSAGING_TYPES)}}}")
    if messaging_type != "MESSAGE_TAG":
        return messaging_type, None
    tag = body.get("tag")
    if not tag:
        raise invalid_param("param tag is required when messaging_type is MESSAGE_TAG")
    allowed = ("HUMAN_AGENT",) if instagram else MESSAGE_TAGS
    if tag not in allowed:
        raise invalid_param(f"param tag must be one of {{{', '.join(allowed)}}}")
    return messaging_type, tag


def _check_sender_action(action: Any, payload: Any) -> None:
    if action not in SENDER_ACTIONS:
        raise invalid_param(f"param sender_action must be one of {{{', '.join(SENDER_ACTIONS)}}}")
    if action in ("react", "unreact") and not (isinstance(payload, dict) and payload.get("message_id")):
        raise invalid_param(f"sender_action {action} needs payload.message_id")


def check_message(message: dict[str, Any], *, instagram: bool) -> None:
    """The `message` object: text XOR attachment, lengths, quick replies, templates."""
    has_text = "text" in message
    has_attachment = "attachment" in message
    several = message.get("attachments")
    if several is not None:
        if not instagram:
            raise invalid_param("Messenger accepts one attachment per message: use message.attachment")
        # Several images in one Instagram message: body shape unconfirmed (meta-platform.md §5).
        if not isinstance(several, list) or not 1 <= len(several) <= 10:
            raise invalid_param("param message[attachments] must be a list of 1 to 10 attachments")
        for item in several:
            check_attachment(item, instagram=instagram)
    if has_text and (has_attachment or several):
        raise invalid_param("param message must contain either text or attachment, not both")
    if not has_text and not has_attachment and not several:
        raise invalid_param("param message must contain text or attachment")
    if has_text:
        check_text(message["text"], instagram=instagram)
    if has_attachment:
        check_attachment(message["attachment"], instagram=instagram)
    if "quick_replies" in message:
        check_quick_replies(message["quick_replies"], instagram=instagram)
    metadata = message.get("metadata")
    if metadata is not None and (not isinstance(metadata, str) or len(metadata) > 1000):
        raise invalid_param("param message[metadata] must be a string of at most 1000 characters")


def check_text(text: Any, *, instagram: bool) -> None:
    if not isinstance(text, str) or not text:
        raise invalid_param("param message[text] must be a non-empty string")
    if instagram:
        size = len(text.encode("utf-8"))
        if size > INSTAGRAM_TEXT_BYTES:
            raise invalid_param(
                f"Length of param message[text] must be less than or equal to {INSTAGRAM_TEXT_BYTES} "
                f"bytes of UTF-8 on Instagram (got {size} bytes)"
            )
    elif len(text) > MESSENGER_TEXT_LIMIT:
        raise invalid_param(
            f"Length of param message[text] must be less than or equal to {MESSENGER_TEXT_LIMIT} "
            f"characters (got {len(text)})"
        )


def check_quick_replies(quick_replies: Any, *, instagram: bool) -> None:
    if not isinstance(quick_replies, list) or not quick_replies:
        raise invalid_param("param message[quick_replies] must be a non-empty list")
    if len(quick_replies) > QUICK_REPLY_LIMIT:
        raise invalid_param(
            f"param message[quick_replies] must have at most {QUICK_REPLY_LIMIT} items "
            f"(got {len(quick_replies)})"
        )
    for index, reply in enumerate(quick_replies):
        where = f"message[quick_replies][{index}]"
        if not isinstance(reply, dict):
            raise invalid_param(f"param {where} must be an object")
        content_type = reply.get("content_type", "text")
        if content_type in ("user_phone_number", "user_email"):
            if instagram:
                raise invalid_param(f"{where}: {content_type} quick replies are disabled on Instagram")
            continue
        if content_type != "text":
            raise invalid_param(f"{where}[content_type] must be text, user_phone_number or user_email")
        title, payload = reply.get("title"), reply.get("payload")
        if not isinstance(title, str) or not title:
            raise invalid_param(f"param {where}[title] is required")
        # Instagram truncates long titles instead of refusing them (meta-platform.md §5).
        if len(title) > TITLE_LIMIT and not instagram:
            raise invalid_param(f"param {where}[title] must be at most {TITLE_LIMIT} characters")
        if not isinstance(payload, str | int) or str(payload) == "":
            raise invalid_param(f"param {where}[payload] is required for text quick replies")
        if len(str(payload)) > PAYLOAD_LIMIT:
            raise invalid_param(f"param {where}[payload] must be at most {PAYLOAD_LIMIT} characters")


def check_attachment(attachment: Any, *, instagram: bool) -> None:
    if not isinstance(attachment, dict):
        raise invalid_param("param message[attachment] must be an object")
    kind = attachment.get("type")
    payload = attachment.get("payload")
    if not isinstance(payload, dict):
        raise invalid_param("param message[attachment][payload] is required")
    if kind in MEDIA_TYPES:
        url, attachment_id = payload.get("url"), payload.get("attachment_id")
        if bool(url) == bool(attachment_id):
            raise invalid_param("message[attachment][payload] needs exactly one of url or attachment_id")
        if url and not is_http_url(url):
            raise invalid_param("message[attachment][payload][url] must be an http(s) URL")
        return
    if kind == "template":
        check_button_template(payload)
        return
    raise invalid_param(
        "param message[attachment][type] must be one of {image, video, audio, file, template}"
    )


def check_button_template(payload: dict[str, Any]) -> None:
    template_type = payload.get("template_type")
    if template_type == "generic":
        check_generic_template(payload)
        return
    if template_type != "button":
        raise invalid_param(
            f"template_type {template_type!r} is not emulated by the sandbox (only button and generic)"
        )
    text = payload.get("text")
    if not isinstance(text, str) or not text:
        raise invalid_param("param message[attachment][payload][text] is required")
    if len(text) > TEMPLATE_TEXT_LIMIT:
        raise invalid_param(
            f"param message[attachment][payload][text] must be at most {TEMPLATE_TEXT_LIMIT} characters"
        )
    buttons = payload.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise invalid_param("param message[attachment][payload][buttons] must have 1 to 3 buttons")
    for index, button in enumerate(buttons):
        _check_button(button, f"message[attachment][payload][buttons][{index}]")


def check_generic_template(payload: dict[str, Any]) -> None:
    """§12: 1-10 elements, each a title (<= 80), optional subtitle (<= 80), http(s) image_url,
    web_url default_action and up to 3 buttons; optional image_aspect_ratio."""
    ratio = payload.get("image_aspect_ratio")
    if ratio is not None and ratio not in IMAGE_ASPECT_RATIOS:
        raise invalid_param("param message[attachment][payload][image_aspect_ratio] must be horizontal or square")
    elements = payload.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= CARD_ELEMENTS_LIMIT:
        raise invalid_param(
            f"param message[attachment][payload][elements] must have 1 to {CARD_ELEMENTS_LIMIT} elements"
        )
    for index, element in enumerate(elements):
        _check_element(element, f"message[attachment][payload][elements][{index}]")


def _check_element(element: Any, where: str) -> None:
    if not isinstance(element, dict):
        raise invalid_param(f"param {where} must be an object")
    title = element.get("title")
    if not isinstance(title, str) or not title:
        raise invalid_param(f"param {where}[title] is required")
    for name in ("title", "subtitle"):
        value = element.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > CARD_TEXT_LIMIT):
            raise invalid_param(f"param {where}[{name}] must be at most {CARD_TEXT_LIMIT} characters")
    if "image_url" in element and not is_http_url(element["image_url"]):
        raise invalid_param(f"param {where}[image_url] must be an http(s) URL")
    action = element.get("default_action")
    if action is not None and not (isinstance(action, dict) and action.get("type") == "web_url"
                                   and is_http_url(action.get("url"))):
        raise invalid_param(f"param {where}[default_action] must be a web_url with an http(s) url")
    buttons = element.get("buttons", [])
    if not isinstance(buttons, list) or len(buttons) > CARD_BUTTONS_LIMIT:
        raise invalid_param(f"param {where}[buttons] must have at most {CARD_BUTTONS_LIMIT} buttons")
    for index, button in enumerate(buttons):
        _check_button(button, f"{where}[buttons][{index}]")


def is_card(message: dict[str, Any]) -> bool:
    """True when a message is a generic template (a card)."""
    return any(item.get("type") == "template" and isinstance(item.get("payload"), dict)
               and item["payload"].get("template_type") == "generic" for item in message_attachments(message))


def _check_button(button: Any, where: str) -> None:
    if not isinstance(button, dict):
        raise invalid_param(f"param {where} must be an object")
    title = button.get("title")
    if not isinstance(title, str) or not title:
        raise invalid_param(f"param {where}[title] is required")
    if len(title) > TITLE_LIMIT:
        raise invalid_param(f"param {where}[title] must be at most {TITLE_LIMIT} characters")
    kind = button.get("type")
    if kind == "web_url":
        if not is_http_url(button.get("url")):
            raise invalid_param(f"param {where}[url] must be an http(s) URL")
    elif kind == "postback":
        payload = button.get("payload")
        if not isinstance(payload, str) or not payload:
            raise invalid_param(f"param {where}[payload] is required for a postback button")
        if len(payload) > PAYLOAD_LIMIT:
            raise invalid_param(f"param {where}[payload] must be at most {PAYLOAD_LIMIT} characters")
    else:
        raise invalid_param(f"param {where}[type] must be web_url or postback")


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def message_attachments(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every attachment of a Send API `message`: `attachment`, or Instagram's `attachments`."""
    found = [item for item in message.get("attachments") or [] if isinstance(item, dict)]
    if isinstance(message.get("attachment"), dict):
        found.append(message["attachment"])
    return found


def has_media(message: dict[str, Any]) -> bool:
    """True when a message carries an image/video/audio/file (refused in Instagram private replies)."""
    return any(item.get("type") in MEDIA_TYPES for item in message_attachments(message))


# Messaging windows (§7).


def window_fault(
    last_inbound_ms: int | None, messaging_type: str, tag: str | None, now: int
) -> GraphFault | None:
    """Whether a message to a person may go out now, judged from their last inbound fact.

    RESPONSE and UPDATE live inside the 24 h standard window (UPDATE outside it is refused by
    Meta's 2020 policy); HUMAN_AGENT reaches 7 days; other tags need only a past message.
    """
    if last_inbound_ms is None:
        return outside_window("the person has never messaged this account")
    age = now - last_inbound_ms
    hours = f"{age / 3_600_000:.1f} h"
    if messaging_type in ("RESPONSE", "UPDATE") and age > STANDARD_WINDOW_MS:
        return outside_window(f"last message from the person was {hours} ago, beyond 24 h")
    if tag == "HUMAN_AGENT" and age > HUMAN_AGENT_WINDOW_MS:
        return outside_window(f"last message from the person was {hours} ago, beyond 7 days")
    return None
