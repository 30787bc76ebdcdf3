"""Canned responses: checked like campaign texts when saved, personal or shared, unique per
scope, rendered for the conversation's person; `/name` in typed text expands only whole words."""

from __future__ import annotations

import pytest

from bot.core.compose import Button, MediaAttachment, MessageContent
from bot.core.errors import Invalid, NotFound, Refused
from bot.helpdesk import canned
from bot.platform.models import CannedResponse
from tests.bot.helpdesk.factories import conversation, staff


def test_rendered_for_the_person_with_the_campaign_shortcodes(db) -> None:
    ann, talk = staff("ann@example.com"), conversation(name="Dana Buyer")
    hello = canned.create(ann, "/Hello", "Hi {{ first_name }}, thanks for writing to {{ page_name }}!", shared=True)
    assert hello.name == "hello" and hello.shared
    assert canned.rendered(ann, hello.id, talk).text == "Hi Dana, thanks for writing to Acme Shoes!"


def test_attachments_and_buttons_follow_the_send_rules(db) -> None:
    ann, talk = staff("ann@example.com"), conversation(name="Dana Buyer")
    content = MessageContent(text="Here you go", attachments=(MediaAttachment(type="image", url="https://cdn.example/a.jpg"),),
                             buttons=(Button(title="Hi {{ first_name }}", url="https://shop.example"),))
    saved = canned.create(ann, "shop", content, shared=False)
    assert saved.attachments == list(content.attachments) and saved.buttons == list(content.buttons)
    assert canned.rendered(ann, saved.id, talk).buttons[0].title == "Hi Dana"
    expanded = canned.expand(ann, talk, "Hello! /shop")
    assert expanded.text == "Hello! Here you go" and expanded.attachments == content.attachments
    three = tuple(Button(title=f"b{i}", url="https://shop.example") for i in range(3))
    for bad, field in ((MessageContent(text="x", buttons=three), "message.buttons"),
                       (MessageContent(text="x", buttons=(Button(title="{{ nope }}", url="https://s.example"),)),
                        "message.buttons[0].title"),
                       (MessageContent(text="x", attachments=(MediaAttachment(type="image", url="ftp://x"),)),
                        "message.attachments[0].url")):
        with pytest.raises(Invalid) as error:
            canned.create(ann, "bad", bad, shared=False)
        assert error.value.field == field


@pytest.mark.parametrize(("name", "text", "field", "problem"), [
    ("hello", "Hi {{ frist_name }}", "message.text", "unknown shortcode(s) frist_name"),
    ("hello", "Hi {% for %}", "message.text", "template error"),
    ("hello", "  ", "message.text", "must not be empty"),
    ("hello", "x" * 2001, "message.text", "at most 2000"),
    ("two words", "Hi", "name", "lowercase letters"),
    ("", "Hi", "name", "lowercase letters"),
])
def test_bad_responses_are_refused_when_saved_naming_the_field(db, name: str, text: str, field: str,
                                                               problem: str) -> None:
    with pytest.raises(Invalid) as error:
        canned.create(staff("ann@example.com"), name, text, shared=False)
    assert error.value.field == field and problem in str(error.value)
    assert CannedResponse.select().count() == 0


def test_personal_responses_are_private_and_shadow_shared_ones(db) -> None:
    ann, bob = staff("ann@example.com"), staff("bob@example.com")
    shared = canned.create(ann, "thanks", "Thanks from the team", shared=True)
    mine = canned.create(bob, "thanks", "Thanks, Bob here", shared=False)
    canned.create(bob, "bye", "Bye!", shared=False)
    assert [(v.name, v.text) for v in canned.visible(bob)] == [("bye", "Bye!"), ("thanks", "Thanks, Bob here")]
    assert [v.id for v in canned.visible(ann)] == [shared.id]
    with pytest.raises(NotFound):
        canned.get(ann, mine.id)  # someone else's personal response is not there
    with pytest.raises(Invalid) as error:
        canned.create(ann, "thanks", "again", shared=True)
    assert error.value.field == "name"


def test_only_the_author_or_an_admin_changes_a_shared_response(db) -> None:
    ann, bob, boss = staff("ann@example.com"), staff("bob@example.com"), staff("boss@example.com", role="admin")
    shared = canned.create(ann, "hours", "We open at 9", shared=True)
    with pytest.raises(Refused):
        canned.update(bob, shared.id, content="We never open")
    assert canned.update(boss, shared.id, content="We open at 10").text == "We open at 10"
    assert canned.update(ann, shared.id, name="opening").name == "opening"
    with pytest.raises(Invalid):
        canned.update(ann, shared.id, content="{{ nope }}")
    canned.delete(ann, shared.id)
    assert CannedResponse.select().count() == 0


def test_expand_replaces_whole_word_shortcuts_only(db) -> None:
    ann, talk = staff("ann@example.com"), conversation(name="Dana Buyer")
    canned.create(ann, "hi", "Hello {{ first_name }}!", shared=False)
    assert canned.expand(ann, talk, "/hi").text == "Hello Dana!"
    assert canned.expand(ann, talk, "Sure. /hi\nsee https://shop.example/hi or /unknown").text == (
        "Sure. Hello Dana!\nsee https://shop.example/hi or /unknown")
    assert canned.expand(ann, talk, "no shortcut here").text == "no shortcut here"
