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
from collections.abc import Iterator, Mapping
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
MAX_CARD_CHARS = 80  # generic template title and subtitle (§12)
MAX_CARD_BUTTONS = 3  # generic template (§12)


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


class Card(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """A card (Meta's generic template, meta-platform.md §12): image, title, subtitle and up to 3
    buttons in ONE message, so a private reply (one message, §6) can carry the picture and the
    words together on Facebook."""

    title: str
    subtitle: str | None = None
    image_url: str | None = None
    buttons: tuple[Button, ...] = ()


class MessageContent(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """One outgoing message as the author wrote it, whatever number of Meta calls it takes.
    A `card` goes first (it is what a private reply carries), then the text, then attachments."""

    text: str | None = None
    attachments: tuple[MediaAttachment, ...] = ()
    buttons: tuple[Button, ...] = ()
    quick_replies: tuple[QuickReply, ...] = ()
    card: Card | None = None


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
    problems = template_problems(content, field)
    if problems:
        raise problems[0]


def template_problems(content: MessageContent, field: str = "message") -> list[Invalid]:
    """Every template error of a content at once (its text and visible titles), so an editor
    can show all of them next to their fields."""
    problems = []
    for text, where in _templated(content, field):
        try:
            check_template(text, where)
        except Invalid as exc:
            problems.append(exc)
    return problems


def _templated(content: MessageContent, field: str) -> list[tuple[str, str]]:
    """(template, field) of every part of a content that shortcodes may fill."""
    found = [(content.text, f"{field}.text")] if content.text is not None else []
    found += [(b.title, f"{field}.buttons[{i}].title") for i, b in enumerate(content.buttons)]
    found += [(q.title, f"{field}.quick_replies[{i}].title") for i, q in enumerate(content.quick_replies)]
    if content.card is not None:
        card = content.card
        found += [(card.title, f"{field}.card.title")]
        found += [(card.subtitle, f"{field}.card.subtitle")] if card.subtitle is not None else []
        found += [(b.title, f"{field}.card.buttons[{i}].title") for i, b in enumerate(card.buttons)]
    return found


def render_content(content: MessageContent, context: Mapping[str, object]) -> MessageContent:
    """Render the text and titles of a content; urls, payloads and media stay as written.

    The result must go through `validate_content` again: a long name can push text past a limit.
    """
    return msgspec.structs.replace(
        content,
        text=None if content.text is None else render(content.text, context),
        buttons=_render_buttons(content.buttons, context),
        quick_replies=tuple(
            msgspec.structs.replace(q, title=render(q.title, context)) for q in content.quick_replies
        ),
        card=None if content.card is None else _render_card(content.card, context),
    )


def _render_buttons(buttons: tuple[Button, ...], context: Mapping[str, object]) -> tuple[Button, ...]:
    return tuple(msgspec.structs.replace(b, title=render(b.title, context)) for b in buttons)


def _render_card(card: Card, context: Mapping[str, object]) -> Card:
    return msgspec.structs.replace(
        card, title=render(card.title, context), buttons=_render_buttons(card.buttons, context),
        subtitle=None if card.subtitle is None else render(card.subtitle, context))


# --------------------------------------------------------------------------- validation


def validate_content(content: MessageContent, platform: str, field: str = "message") -> None:
    """Raise Invalid naming the first field that breaks a product rule or a Meta limit (§5).

    `platform` is "facebook" (Messenger) or "instagram": their text limits differ.
    """
    problems = content_problems(content, platform, field)
    if problems:
        raise problems[0]


def content_problems(content: MessageContent, platform: str, field: str = "message") -> list[Invalid]:
    """Every broken rule of a content, in the order of the editor's fields (not just the first):
    staff fix them all in one go."""
    if not has_text(content) and not content.attachments and content.card is None:
        return [Invalid(field, "the message is empty: write a text, add a card or an attachment")]
    return [*_check_text(content, platform, field),
            *_check_card(content.card, f"{field}.card"),
            *_check_attachments(content.attachments, f"{field}.attachments"),
            *_check_buttons(content, f"{field}.buttons"),
            *_check_quick_replies(content.quick_replies, f"{field}.quick_replies")]


def has_text(content: MessageContent) -> bool:
    """Whitespace alone is no text: Meta refuses an empty `text`."""
    return bool(content.text and content.text.strip())


def _check_text(content: MessageContent, platform: str, field: str) -> Iterator[Invalid]:
    if not has_text(content):
        return
    text = content.text or ""
    if platform == "instagram":
        size = len(text.encode("utf-8"))
        if size > MAX_INSTAGRAM_TEXT_BYTES:
            yield Invalid(
                f"{field}.text",
                f"Instagram text is limited to {MAX_INSTAGRAM_TEXT_BYTES} bytes "
                f"(accents count 2, emoji 4); this one has {size}",
            )
    # Meta says "characters" for Messenger; we count code points (whether Meta counts UTF-16
    # units, where an emoji is 2, is unconfirmed).
    elif len(text) > MAX_MESSENGER_TEXT_CHARS:
        yield Invalid(f"{field}.text", f"Messenger text is limited to {MAX_MESSENGER_TEXT_CHARS} characters "
                                       f"(this one has {len(text)})")
    if content.buttons and len(text) > MAX_BUTTON_TEXT_CHARS:
        yield Invalid(f"{field}.text", f"text with buttons is limited to {MAX_BUTTON_TEXT_CHARS} characters "
                                       f"(this one has {len(text)})")


def _check_card(card: Card | None, field: str) -> Iterator[Invalid]:
    """§12: title 1-80 characters, subtitle up to 80, an http(s) image, at most 3 buttons."""
    if card is None:
        return
    if not card.title.strip():
        yield Invalid(f"{field}.title", "is required")
    yield from _check_length(card.title, MAX_CARD_CHARS, f"{field}.title")
    yield from _check_length(card.subtitle or "", MAX_CARD_CHARS, f"{field}.subtitle")
    if card.image_url is not None:
        yield from _check_url(card.image_url, f"{field}.image_url")
    if len(card.buttons) > MAX_CARD_BUTTONS:
        yield Invalid(f"{field}.buttons", f"a card takes at most {MAX_CARD_BUTTONS} buttons")
    for i, button in enumerate(card.buttons):
        yield from _check_button(button, f"{field}.buttons[{i}]")


def _check_attachments(attachments: tuple[MediaAttachment, ...], field: str) -> Iterator[Invalid]:
    if len(attachments) > MAX_ATTACHMENTS:
        yield Invalid(field, f"at most {MAX_ATTACHMENTS} attachments")
    for i, attachment in enumerate(attachments):
        where = f"{field}[{i}]"
        if attachment.type not in MEDIA_TYPES:
            yield Invalid(f"{where}.type", f"must be one of {', '.join(sorted(MEDIA_TYPES))}")
        given = [f for f in ("url", "attachment_id", "file_id") if getattr(attachment, f) is not None]
        if len(given) != 1:
            yield Invalid(where, "give one of a url, an attachment_id or a file_id (an uploaded file)")
        elif attachment.url is not None:
            yield from _check_url(attachment.url, f"{where}.url")
        elif not (getattr(attachment, given[0]) or "").strip():
            yield Invalid(f"{where}.{given[0]}", "must not be empty")
        if attachment.name is not None and len(attachment.name) > 255:
            yield Invalid(f"{where}.name", "at most 255 characters")


def _check_buttons(content: MessageContent, field: str) -> Iterator[Invalid]:
    if not content.buttons:
        return
    if len(content.buttons) > MAX_BUTTONS:
        yield Invalid(field, f"at most {MAX_BUTTONS} buttons")
    if not has_text(content):
        yield Invalid(field, "buttons need a text above them")
    for i, button in enumerate(content.buttons):
        yield from _check_button(button, f"{field}[{i}]")


def _check_button(button: Button, where: str) -> Iterator[Invalid]:
    yield from _check_title(button.title, f"{where}.title")
    if (button.url is None) == (button.payload is None):
        yield Invalid(where, "a button either opens a url or sends a payload, exactly one of them")
    elif button.url is not None:
        yield from _check_url(button.url, f"{where}.url")
    else:
        yield from _check_payload(button.payload or "", f"{where}.payload")


def _check_quick_replies(quick_replies: tuple[QuickReply, ...], field: str) -> Iterator[Invalid]:
    if len(quick_replies) > MAX_QUICK_REPLIES:
        yield Invalid(field, f"at most {MAX_QUICK_REPLIES} quick replies")
    for i, quick in enumerate(quick_replies):
        yield from _check_title(quick.title, f"{field}[{i}].title")
        yield from _check_payload(quick.payload, f"{field}[{i}].payload")


def _check_title(title: str, field: str) -> Iterator[Invalid]:
    if not title.strip():
        yield Invalid(field, "is required")
    yield from _check_length(title, MAX_TITLE_CHARS, field)


def _check_length(value: str, limit: int, field: str) -> Iterator[Invalid]:
    if len(value) > limit:
        yield Invalid(field, f"is longer than {limit} characters (at most {limit}; this one has {len(value)})")


def _check_payload(payload: str, field: str) -> Iterator[Invalid]:
    if not payload:
        yield Invalid(field, "is required")
    elif len(payload) > MAX_PAYLOAD_CHARS:
        yield Invalid(field, f"at most {MAX_PAYLOAD_CHARS} characters")


def _check_url(url: str, field: str) -> Iterator[Invalid]:
    """Meta fetches media and opens buttons only over http(s), and needs a host to do so."""
    try:
        parts = urlsplit(url)
    except ValueError:
        yield Invalid(field, "is not a valid url")
        return
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield Invalid(field, "must be an http:// or https:// url with a host")


# --------------------------------------------------------------------------- parts


def split_parts(content: MessageContent) -> list[MessageContent]:
    """The messages one content becomes, each sendable in ONE Send API call.

    Why: the Send API takes `text` or one `attachment` per call, and on Messenger one media
    attachment per message (§5; Instagram's several-images form is unconfirmed, so we use the
    safe one). A card (the generic template) is one message with its image, words and buttons,
    so it goes first: it is what a private reply should carry. Buttons are themselves an
    attachment (the button template), so text and its buttons travel together as the next part,
    then one part per media attachment. Quick replies go on the LAST part: Meta shows them under
    the latest message only and they vanish when another message arrives. The first part is
    also what a private reply may carry (one message per comment, §6; `private_reply_parts`).
    """
    parts: list[MessageContent] = []
    if content.card is not None:
        parts.append(MessageContent(card=content.card))
    if has_text(content):
        parts.append(MessageContent(text=content.text, buttons=content.buttons))
    parts.extend(MessageContent(attachments=(attachment,)) for attachment in content.attachments)
    if parts and content.quick_replies:
        parts[-1] = msgspec.structs.replace(parts[-1], quick_replies=content.quick_replies)
    return parts


def private_reply_parts(content: MessageContent, platform: str) -> tuple[MessageContent | None,
                                                                          list[MessageContent]]:
    """(what goes as the private reply, what waits for the person's answer).

    A private reply is ONE message (§6): the first part goes (a card, else the text with its
    buttons, else a lone attachment on Facebook); the rest is held until the person answers and
    the 24-hour window opens. On Instagram only text is documented for private replies: media and
    cards are never the private reply there (they wait too). The outbox, the campaign editor's
    preview and the dry run all ask this one function, so what they show is what happens.
    """
    parts = split_parts(content)
    if not parts:
        return None, []
    first = parts[0]
    if platform == "instagram" and (first.attachments or first.card is not None):
        return None, parts
    return first, parts[1:]


def describe_part(part: MessageContent) -> str:
    """One part in a line of plain words, for the dry run and the stats ("Card: …", "Image: url")."""
    if part.card is not None:
        card = part.card
        line = f"Card: {card.title}" + (f" — {card.subtitle}" if card.subtitle else "")
        line += f" (image {card.image_url})" if card.image_url else ""
        return line + _button_words(card.buttons)
    if part.attachments:
        media = part.attachments[0]
        return f"{media.type.capitalize()}: {media.url or 'uploaded file ' + (media.attachment_id or '')}"
    return part.text or ""  # its buttons show in the preview; the dry run's REST answer keeps the bare text


def _button_words(buttons: tuple[Button, ...]) -> str:
    return f" [buttons: {', '.join(b.title for b in buttons)}]" if buttons else ""


CARD_TEMPLATE = "generic"


def card_attachment(card: Card) -> dict:
    """How a sent card is stored on its message row: like a template echoed by Meta (type
    `template`, `elements`), so the conversation view draws it as the card the person saw."""
    element = {k: v for k, v in (("title", card.title), ("subtitle", card.subtitle),
                                 ("image_url", card.image_url)) if v is not None}
    element["buttons"] = [msgspec.to_builtins(b) for b in card.buttons]
    return {"type": "template", "template_type": CARD_TEMPLATE, "elements": [element]}


def card_of(attachment: Mapping[str, object]) -> Card | None:
    """The card stored by `card_attachment` (None for any other attachment)."""
    elements = attachment.get("elements")
    if attachment.get("type") != "template" or attachment.get("template_type") != CARD_TEMPLATE \
            or not isinstance(elements, list) or not elements:
        return None
    try:
        return msgspec.convert(elements[0], Card)
    except msgspec.ValidationError:  # a card echoed from another tool, with Meta's own keys
        return None


def stored_part_words(text: str | None, attachments: list[dict] | None) -> str:
    """A stored message part in a line: its text, its card, or its attachment's kind and URL (an
    attachment has no text, and a blank line tells staff nothing)."""
    for attachment in attachments or []:
        card = card_of(attachment)
        if card is not None:
            return describe_part(MessageContent(card=card))
    if text:
        return text
    for attachment in attachments or []:
        where = attachment.get("url") or attachment.get("title") or attachment.get("attachment_id") or ""
        return f"{str(attachment.get('type') or 'file').capitalize()}: {where}".rstrip(": ")
    return ""
