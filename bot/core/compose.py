"""What an outgoing message is before it takes Meta's shape, and the rules it must follow.

Staff replies, bot steps and campaign actions all produce a `MessageContent`. This module
owns three things about it, so the sender never has to guess:

- shortcodes: text is a Jinja2 template rendered in a *sandbox* under limits of time, size and
  loop length (`bot.core.templates`: staff and campaign authors are not trusted with Python or the
  CPU), checked when it is saved so that a typo or a runaway loop never reaches a customer;
- `validate_content`: our product rules and Meta's limits (meta-platform.md §5), checked before
  anything is queued so that Meta's 100 "invalid parameter" never happens in production;
- `split_parts`: one content becomes the list of messages Meta can take one at a time.

Nothing here does I/O or knows Meta's JSON (that is `bot.meta.graph_shapes`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

import jinja2
import jinja2.meta
import msgspec

from bot.core.errors import Invalid
from bot.core.templates import BoundedEnvironment, TemplateLimit, check_source, check_syntax, render_bounded

MediaType = Literal["image", "video", "audio", "file"]
MEDIA_TYPES: frozenset[str] = frozenset({"image", "video", "audio", "file"})

MAX_ATTACHMENTS = 3  # product rule: each attachment is one more message (split_parts)
MAX_BUTTONS = 2  # product rule; Meta's button template takes 3 (§5)
MAX_QUICK_REPLIES = 13  # §5
MAX_TITLE_CHARS = 20  # button and quick reply titles (§5)
MAX_PAYLOAD_CHARS = 1000  # postback and quick reply payloads (§5)
MAX_BUTTON_TEXT_CHARS = 640  # button template text (§5)
MAX_MESSENGER_TEXT_CHARS = 2000  # §5
MAX_INSTAGRAM_TEXT_BYTES = 1000  # §5: bytes of UTF-8, not characters


class Button(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """A button under the text: opens `url`, or sends `payload` back to us as a postback."""

    title: str
    url: str | None = None
    payload: str | None = None


class MediaAttachment(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """A file to send: fetched by Meta from `url`, already uploaded to Meta (`attachment_id`), or
    a file socialdesk keeps (`file_id`, uploaded to each page through Meta's Attachment Upload
    API when it is sent: `bot.outbound.attachments`). `name` is the file's name, for staff."""

    type: MediaType
    url: str | None = None
    attachment_id: str | None = None
    file_id: str | None = None
    name: str | None = None


class QuickReply(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """A suggested answer shown above the keyboard; tapping it sends `payload` with the text."""

    title: str
    payload: str


class MessageContent(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """One outgoing message as the author wrote it, whatever number of Meta calls it takes."""

    text: str | None = None
    attachments: tuple[MediaAttachment, ...] = ()
    buttons: tuple[Button, ...] = ()
    quick_replies: tuple[QuickReply, ...] = ()


# --------------------------------------------------------------------------- shortcodes

SHORTCODES: dict[str, str] = {
    "first_name": "The person's first name (empty when Meta does not share the profile).",
    "last_name": "The person's last name (empty when Meta does not share the profile).",
    "full_name": "The person's full name, or the name shown on their comment.",
    "username": "The person's Instagram username (empty on Messenger).",
    "contact_id": "socialdesk's id for the person (for links to your own forms).",
    "channel": 'Where the conversation happens: "Messenger" or "Instagram".',
    "page_name": "The name of your Facebook Page or Instagram account.",
    "comment_text": "The text of the comment being answered (empty outside comment campaigns).",
    "post_url": "The link to the post that was commented on (empty outside comment campaigns).",
    "attributes": "The person's custom attributes by key, e.g. `{{ attributes.vip_level }}` (empty when unset).",
}
ATTRIBUTES = "attributes"


class AttributeValues(dict):
    """`{{ attributes.x }}`: a contact's attribute values, where one that is not set (or not
    defined) renders as "" like any value we do not have, instead of failing the message."""

    def __init__(self, values: Mapping[str, str] | None = None, missing: str = "") -> None:
        super().__init__(values or {})
        self.missing = missing

    def __missing__(self, key: str) -> str:
        return self.missing


def _sample_values(value: str) -> dict[str, object]:
    """Every shortcode set to `value`, and any attribute too (for the renders at save)."""
    sample: dict[str, object] = {name: value for name in SHORTCODES}
    sample[ATTRIBUTES] = AttributeValues(missing=value)
    return sample

_environment = BoundedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # plain text for Messenger/Instagram, not HTML
    keep_trailing_newline=True,
)
LONG_SAMPLE = "x" * 1000  # a long name or comment, for the worst-case render at save


def check_template(text: str, field: str) -> None:
    """Refuse a template when it is saved, not when it is sent.

    Catches syntax errors, constructs and costs beyond `bot.core.templates`' limits, and any variable
    that is not a shortcode (a typo such as `{{ frist_name }}` would otherwise send an empty
    hole to customers). Then renders it with short and with long sample values, so what the
    sandbox forbids, and a loop over a long comment that would run out of time, is refused here.
    """
    try:
        check_source(text)
        tree = _environment.parse(text)
        check_syntax(tree)
    except jinja2.TemplateSyntaxError as exc:
        raise Invalid(field, f"template error on line {exc.lineno}: {exc.message}") from None
    except TemplateLimit as exc:
        raise Invalid(field, f"template refused: {exc}") from None
    unknown = sorted(jinja2.meta.find_undeclared_variables(tree) - SHORTCODES.keys())
    if unknown:
        known = ", ".join(SHORTCODES)
        raise Invalid(field, f"unknown shortcode(s) {', '.join(unknown)}; available: {known}")
    for sample in (_sample_values("sample"), _sample_values(LONG_SAMPLE)):
        try:
            render_bounded(_compile(text), sample)
        except TemplateLimit as exc:
            raise Invalid(field, f"template refused: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any error of the author's code is a template error
            raise Invalid(field, f"template error: {exc}") from None


def render(text: str, context: Mapping[str, object]) -> str:
    """Fill the shortcodes of a checked template; a value we do not have renders as "".

    A missing first name must not stop a campaign, so absent or None values become empty
    strings (authors write `{{ first_name or "there" }}` for a fallback). A template that
    never passed `check_template`, or breaks a limit with this person's values, still fails:
    that raises Invalid("template", ...), a permanent failure of that one message.
    """
    values: dict[str, object] = dict.fromkeys(SHORTCODES, "")
    values.update({name: value or "" for name, value in context.items()})
    values[ATTRIBUTES] = AttributeValues(context.get(ATTRIBUTES) or {})  # type: ignore[arg-type]
    try:
        return render_bounded(_compile(text), values)
    except Exception as exc:  # noqa: BLE001 - any error of the author's code is a template error
        raise Invalid("template", f"cannot render: {exc}") from None


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> jinja2.Template:
    """Compiling costs far more than rendering, and the same campaign text is sent many times.
    Only templates within the source and syntax limits compile."""
    check_source(text)
    check_syntax(_environment.parse(text))
    return _environment.from_string(text)


def check_content_templates(content: MessageContent, field: str = "message") -> None:
    """`check_template` on every templated part of a content: its text and visible titles."""
    if content.text is not None:
        check_template(content.text, f"{field}.text")
    for i, button in enumerate(content.buttons):
        check_template(button.title, f"{field}.buttons[{i}].title")
    for i, quick in enumerate(content.quick_replies):
        check_template(quick.title, f"{field}.quick_replies[{i}].title")


def render_content(content: MessageContent, context: Mapping[str, object]) -> MessageContent:
    """Render the text and titles of a content; urls, payloads and media stay as written.

    The result must go through `validate_content` again: a long name can push text past a limit.
    """
    return msgspec.structs.replace(
        content,
        text=None if content.text is None else render(content.text, context),
        buttons=tuple(msgspec.structs.replace(b, title=render(b.title, context)) for b in content.buttons),
        quick_replies=tuple(
            msgspec.structs.replace(q, title=render(q.title, context)) for q in content.quick_replies
        ),
    )


# --------------------------------------------------------------------------- validation


def validate_content(content: MessageContent, platform: str, field: str = "message") -> None:
    """Raise Invalid naming the first field that breaks a product rule or a Meta limit (§5).

    `platform` is "facebook" (Messenger) or "instagram": their text limits differ.
    """
    if not has_text(content) and not content.attachments:
        raise Invalid(field, "the message is empty: write a text or add an attachment")
    _check_text(content, platform, field)
    _check_attachments(content.attachments, f"{field}.attachments")
    _check_buttons(content, f"{field}.buttons")
    _check_quick_replies(content.quick_replies, f"{field}.quick_replies")


def has_text(content: MessageContent) -> bool:
    """Whitespace alone is no text: Meta refuses an empty `text`."""
    return bool(content.text and content.text.strip())


def _check_text(content: MessageContent, platform: str, field: str) -> None:
    if not has_text(content):
        return
    text = content.text or ""
    if platform == "instagram":
        size = len(text.encode("utf-8"))
        if size > MAX_INSTAGRAM_TEXT_BYTES:
            raise Invalid(
                f"{field}.text",
                f"Instagram text is limited to {MAX_INSTAGRAM_TEXT_BYTES} bytes "
                f"(accents count 2, emoji 4); this one has {size}",
            )
    # Meta says "characters" for Messenger; we count code points (whether Meta counts UTF-16
    # units, where an emoji is 2, is unconfirmed).
    elif len(text) > MAX_MESSENGER_TEXT_CHARS:
        raise Invalid(f"{field}.text", f"Messenger text is limited to {MAX_MESSENGER_TEXT_CHARS} characters")
    if content.buttons and len(text) > MAX_BUTTON_TEXT_CHARS:
        raise Invalid(f"{field}.text", f"text with buttons is limited to {MAX_BUTTON_TEXT_CHARS} characters")


def _check_attachments(attachments: tuple[MediaAttachment, ...], field: str) -> None:
    if len(attachments) > MAX_ATTACHMENTS:
        raise Invalid(field, f"at most {MAX_ATTACHMENTS} attachments")
    for i, attachment in enumerate(attachments):
        where = f"{field}[{i}]"
        if attachment.type not in MEDIA_TYPES:
            raise Invalid(f"{where}.type", f"must be one of {', '.join(sorted(MEDIA_TYPES))}")
        given = [f for f in ("url", "attachment_id", "file_id") if getattr(attachment, f) is not None]
        if len(given) != 1:
            raise Invalid(where, "give one of a url, an attachment_id or a file_id (an uploaded file)")
        if attachment.url is not None:
            _check_url(attachment.url, f"{where}.url")
        elif not (getattr(attachment, given[0]) or "").strip():
            raise Invalid(f"{where}.{given[0]}", "must not be empty")
        if attachment.name is not None and len(attachment.name) > 255:
            raise Invalid(f"{where}.name", "at most 255 characters")


def _check_buttons(content: MessageContent, field: str) -> None:
    if not content.buttons:
        return
    if len(content.buttons) > MAX_BUTTONS:
        raise Invalid(field, f"at most {MAX_BUTTONS} buttons")
    if not has_text(content):
        raise Invalid(field, "buttons need a text above them")
    for i, button in enumerate(content.buttons):
        where = f"{field}[{i}]"
        _check_title(button.title, f"{where}.title")
        if (button.url is None) == (button.payload is None):
            raise Invalid(where, "a button either opens a url or sends a payload, exactly one of them")
        if button.url is not None:
            _check_url(button.url, f"{where}.url")
        else:
            _check_payload(button.payload or "", f"{where}.payload")


def _check_quick_replies(quick_replies: tuple[QuickReply, ...], field: str) -> None:
    if len(quick_replies) > MAX_QUICK_REPLIES:
        raise Invalid(field, f"at most {MAX_QUICK_REPLIES} quick replies")
    for i, quick in enumerate(quick_replies):
        _check_title(quick.title, f"{field}[{i}].title")
        _check_payload(quick.payload, f"{field}[{i}].payload")


def _check_title(title: str, field: str) -> None:
    if not title.strip():
        raise Invalid(field, "a title is required")
    if len(title) > MAX_TITLE_CHARS:
        raise Invalid(field, f"at most {MAX_TITLE_CHARS} characters")


def _check_payload(payload: str, field: str) -> None:
    if not payload:
        raise Invalid(field, "a payload is required")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise Invalid(field, f"at most {MAX_PAYLOAD_CHARS} characters")


def _check_url(url: str, field: str) -> None:
    """Meta fetches media and opens buttons only over http(s), and needs a host to do so."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Invalid(field, "not a valid url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(field, "must be an http:// or https:// url with a host")


# --------------------------------------------------------------------------- parts


def split_parts(content: MessageContent) -> list[MessageContent]:
    """The messages one content becomes, each sendable in ONE Send API call.

    Why: the Send API takes `text` or one `attachment` per call, and on Messenger one media
    attachment per message (§5; Instagram's several-images form is unconfirmed, so we use the
    safe one). Buttons are themselves an attachment (the button template), so text and its
    buttons travel together as the first part, then one part per media attachment. Quick
    replies go on the LAST part: Meta shows them under the latest message only and they
    vanish when another message arrives. The first part is also what a private reply may
    carry (one message per comment, §6); the sender holds the rest until the person answers.
    """
    parts: list[MessageContent] = []
    if has_text(content):
        parts.append(MessageContent(text=content.text, buttons=content.buttons))
    parts.extend(MessageContent(attachments=(attachment,)) for attachment in content.attachments)
    if parts and content.quick_replies:
        parts[-1] = msgspec.structs.replace(parts[-1], quick_replies=content.quick_replies)
    return parts
