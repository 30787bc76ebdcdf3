"""bot.core.compose: shortcodes, content rules at their limits, and the split into Send API parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.compose import (
    SHORTCODES,
    Button,
    MediaAttachment,
    MessageContent,
    QuickReply,
    check_content_templates,
    check_template,
    render,
    render_content,
    split_parts,
    validate_content,
)
from bot.core.errors import Invalid

IMAGE = MediaAttachment(type="image", url="https://cdn.example.com/a.png")
VIDEO = MediaAttachment(type="video", attachment_id="1234")
LINK = Button(title="Open", url="https://example.com/offer")
POSTBACK = Button(title="Yes", payload="YES")


def invalid_field(content: MessageContent, platform: str = "facebook") -> str:
    with pytest.raises(Invalid) as caught:
        validate_content(content, platform)
    return caught.value.field


# ------------------------------------------------------------------ shortcodes


def test_every_shortcode_has_help_text() -> None:
    assert {
        "first_name",
        "full_name",
        "page_name",
        "comment_text",
        "post_url",
        "channel",
    } <= SHORTCODES.keys()
    assert all(help_text.strip() for help_text in SHORTCODES.values())


def test_check_template_accepts_known_shortcodes_and_logic() -> None:
    check_template(
        'Hi {{ first_name or "there" }}, thanks for your comment on {{ post_url }}!', "message.text"
    )
    check_template("{% if username %}@{{ username }}{% endif %}", "message.text")
    check_template("No shortcode at all", "message.text")


def test_check_template_refuses_unknown_variable_with_its_name() -> None:
    with pytest.raises(Invalid) as caught:
        check_template("Hi {{ frist_name }}", "campaign.message.text")
    assert caught.value.field == "campaign.message.text"
    assert "frist_name" in caught.value.problem


def test_check_template_refuses_syntax_error() -> None:
    with pytest.raises(Invalid) as caught:
        check_template("Hi {{ first_name ", "message.text")
    assert caught.value.field == "message.text"
    assert "line 1" in caught.value.problem


def test_check_template_refuses_what_the_sandbox_forbids() -> None:
    with pytest.raises(Invalid):
        check_template("{{ first_name.__class__.__mro__ }}", "message.text")


def test_render_fills_values_and_blanks_missing_ones() -> None:
    text = "Hi {{ first_name }} {{ last_name }}! ({{ channel }})"
    assert (
        render(text, {"first_name": "Zoë", "last_name": None, "channel": "Instagram"})
        == "Hi Zoë ! (Instagram)"
    )
    assert render('Hi {{ first_name or "there" }}', {}) == "Hi there"


def test_render_does_not_escape_html_and_keeps_trailing_newline() -> None:
    assert render("{{ comment_text }}\n", {"comment_text": "<b>&</b>"}) == "<b>&</b>\n"


def test_render_of_an_unchecked_template_raises_invalid_not_a_jinja_error() -> None:
    with pytest.raises(Invalid):
        render("{{ unknown_thing }}", {})
    with pytest.raises(Invalid):
        render("{{ oops ", {})


@given(st.text(max_size=40))
def test_render_never_interprets_values(value: str) -> None:
    assert render("{{ first_name }}", {"first_name": value}) == value


def test_check_and_render_content_cover_text_and_titles() -> None:
    content = MessageContent(
        text="Hi {{ first_name }}",
        buttons=(Button(title="For {{ first_name }}", url="https://example.com/{{ x }}"),),
        quick_replies=(QuickReply(title="Me {{ first_name }}", payload="ME"),),
    )
    check_content_templates(content)  # the url is not a template: "{{ x }}" stays as written
    rendered = render_content(content, {"first_name": "Ana"})
    assert rendered.text == "Hi Ana"
    assert rendered.buttons[0].title == "For Ana"
    assert rendered.buttons[0].url == "https://example.com/{{ x }}"
    assert rendered.quick_replies[0].title == "Me Ana"
    bad = MessageContent(text="ok", quick_replies=(QuickReply(title="{{ nope }}", payload="P"),))
    with pytest.raises(Invalid) as caught:
        check_content_templates(bad, "flow.steps[2].message")
    assert caught.value.field == "flow.steps[2].message.quick_replies[0].title"


# ------------------------------------------------------------------ validation


def test_valid_contents_pass() -> None:
    validate_content(MessageContent(text="hello"), "facebook")
    validate_content(MessageContent(attachments=(IMAGE,)), "instagram")
    validate_content(
        MessageContent(
            text="Pick one",
            attachments=(IMAGE, VIDEO, IMAGE),
            buttons=(LINK, POSTBACK),
            quick_replies=tuple(QuickReply(title=f"Q{i}", payload=f"P{i}") for i in range(13)),
        ),
        "facebook",
    )


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_empty_message_is_refused(text: str | None) -> None:
    assert invalid_field(MessageContent(text=text)) == "message"


def test_messenger_text_limit_is_2000_characters() -> None:
    validate_content(MessageContent(text="é" * 2000), "facebook")
    assert invalid_field(MessageContent(text="a" * 2001)) == "message.text"


def test_instagram_text_limit_is_1000_utf8_bytes() -> None:
    validate_content(MessageContent(text="a" * 1000), "instagram")
    validate_content(MessageContent(text="é" * 500), "instagram")  # 1000 bytes
    assert invalid_field(MessageContent(text="é" * 501), "instagram") == "message.text"
    assert invalid_field(MessageContent(text="😀" * 251), "instagram") == "message.text"  # 1004 bytes
    validate_content(MessageContent(text="😀" * 250), "instagram")


def test_text_with_buttons_is_limited_to_640_characters() -> None:
    validate_content(MessageContent(text="a" * 640, buttons=(LINK,)), "facebook")
    assert invalid_field(MessageContent(text="a" * 641, buttons=(LINK,))) == "message.text"


def test_attachments_at_most_three() -> None:
    assert invalid_field(MessageContent(attachments=(IMAGE,) * 4)) == "message.attachments"


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        (MediaAttachment(type="image"), "message.attachments[0]"),
        (
            MediaAttachment(type="image", url="https://x.example/a", attachment_id="1"),
            "message.attachments[0]",
        ),
        (MediaAttachment(type="image", url="ftp://x.example/a"), "message.attachments[0].url"),
        (MediaAttachment(type="image", url="https:///nohost"), "message.attachments[0].url"),
        (MediaAttachment(type="image", url="cdn.example.com/a.png"), "message.attachments[0].url"),
        (MediaAttachment(type="image", attachment_id=" "), "message.attachments[0].attachment_id"),
        (MediaAttachment(type="sticker", url="https://x.example/a"), "message.attachments[0].type"),  # type: ignore[arg-type]
    ],
)
def test_attachment_rules(attachment: MediaAttachment, field: str) -> None:
    assert invalid_field(MessageContent(attachments=(attachment,))) == field


def test_buttons_at_most_two_by_product_rule() -> None:
    assert invalid_field(MessageContent(text="t", buttons=(LINK, POSTBACK, LINK))) == "message.buttons"


def test_buttons_need_text() -> None:
    assert invalid_field(MessageContent(attachments=(IMAGE,), buttons=(LINK,))) == "message.buttons"


@pytest.mark.parametrize(
    ("button", "field"),
    [
        (Button(title=""), "message.buttons[1].title"),
        (Button(title="a" * 21, payload="P"), "message.buttons[1].title"),
        (Button(title="Both", url="https://x.example", payload="P"), "message.buttons[1]"),
        (Button(title="Neither"), "message.buttons[1]"),
        (Button(title="Bad url", url="javascript:alert(1)"), "message.buttons[1].url"),
        (Button(title="Long", payload="p" * 1001), "message.buttons[1].payload"),
        (Button(title="Empty", payload=""), "message.buttons[1].payload"),
    ],
)
def test_button_rules_name_the_field(button: Button, field: str) -> None:
    assert invalid_field(MessageContent(text="t", buttons=(LINK, button))) == field


def test_button_limits_are_inclusive() -> None:
    validate_content(
        MessageContent(text="t", buttons=(Button(title="a" * 20, payload="p" * 1000),)), "facebook"
    )


def test_quick_reply_rules() -> None:
    many = tuple(QuickReply(title="Q", payload="P") for _ in range(14))
    assert invalid_field(MessageContent(text="t", quick_replies=many)) == "message.quick_replies"
    long_title = (QuickReply(title="a" * 21, payload="P"),)
    assert (
        invalid_field(MessageContent(text="t", quick_replies=long_title)) == "message.quick_replies[0].title"
    )
    long_payload = (QuickReply(title="ok", payload="p" * 1001),)
    assert (
        invalid_field(MessageContent(text="t", quick_replies=long_payload))
        == "message.quick_replies[0].payload"
    )


def test_field_prefix_is_the_callers() -> None:
    with pytest.raises(Invalid) as caught:
        validate_content(
            MessageContent(text="t", buttons=(Button(title=""),)), "facebook", "actions[0].message"
        )
    assert caught.value.field == "actions[0].message.buttons[0].title"


# ------------------------------------------------------------------ parts


def test_text_only_is_one_part() -> None:
    assert split_parts(MessageContent(text="hi")) == [MessageContent(text="hi")]


def test_text_buttons_then_one_part_per_attachment_quick_replies_last() -> None:
    quick = (QuickReply(title="Yes", payload="Y"),)
    content = MessageContent(text="t", attachments=(IMAGE, VIDEO), buttons=(LINK,), quick_replies=quick)
    assert split_parts(content) == [
        MessageContent(text="t", buttons=(LINK,)),
        MessageContent(attachments=(IMAGE,)),
        MessageContent(attachments=(VIDEO,), quick_replies=quick),
    ]


def test_attachments_only_and_quick_replies_on_text_only() -> None:
    quick = (QuickReply(title="Yes", payload="Y"),)
    assert split_parts(MessageContent(attachments=(IMAGE,))) == [MessageContent(attachments=(IMAGE,))]
    assert split_parts(MessageContent(text="t", quick_replies=quick)) == [
        MessageContent(text="t", quick_replies=quick)
    ]


def test_blank_text_makes_no_part() -> None:
    assert split_parts(MessageContent(text="  ", attachments=(IMAGE,))) == [
        MessageContent(attachments=(IMAGE,))
    ]


@given(
    st.booleans(),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=2),
    st.integers(min_value=0, max_value=13),
)
def test_parts_keep_everything_once(with_text: bool, n_media: int, n_buttons: int, n_quick: int) -> None:
    content = MessageContent(
        text="hello" if with_text or n_buttons else None,
        attachments=(IMAGE,) * n_media,
        buttons=(POSTBACK,) * n_buttons,
        quick_replies=tuple(QuickReply(title=str(i), payload=str(i)) for i in range(n_quick)),
    )
    if not content.text and not n_media:
        return
    validate_content(content, "facebook")
    parts = split_parts(content)
    assert len(parts) == (1 if content.text else 0) + n_media
    assert sum(len(p.attachments) for p in parts) == n_media
    assert all(len(p.attachments) <= 1 and not (p.attachments and p.text) for p in parts)
    assert [p for p in parts if p.quick_replies] == ([parts[-1]] if n_quick else [])
    for part in parts:
        validate_content(part, "facebook")
