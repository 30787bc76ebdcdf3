"""What a campaign's private message becomes, decided without a network: every problem at once in
people's words (1-based, like the editor), a card refused on Instagram, and the dry run saying what
goes in the private reply and what waits for the person's answer."""

from __future__ import annotations

import peewee
import pytest

from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.core.compose import Button, Card, MediaAttachment, MessageContent
from bot.platform.db import now_ms
from bot.platform.models import Channel, Comment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pure rules: one database


def channel(platform: str = "facebook") -> int:
    return Channel.create(platform=platform, account_id=f"{platform}-1", page_id="111", name="Acme",
                          created_at=now_ms()).id


def card_message() -> MessageContent:
    return MessageContent(
        card=Card(title="Summer sale, {{ first_name }}", subtitle="10% off", image_url="https://cdn.example/a.png",
                  buttons=(Button(title="Shop", url="https://shop.example"), Button(title="Talk", payload="TALK"))),
        text="Your code: SHOES10",
        attachments=(MediaAttachment(type="image", url="https://cdn.example/b.png"),))


def test_every_problem_at_once_in_peoples_words(db: peewee.Database) -> None:
    bad = MessageContent(text="Hi", buttons=(Button(title="x" * 30, url="https://shop.example"),
                                             Button(title="ok", url="not a url")),
                         attachments=(MediaAttachment(type="image", url="not a url"),))
    spec = CampaignSpec(name=" ", channel_id=channel(), actions=[
        ActionSpec(kind="add_tag", tag="vip"), ActionSpec(kind="send_message", message=bad),
        ActionSpec(kind="wait", seconds=0)])
    found = campaigns.problems(spec)
    assert [p.field for p in found] == [
        "name", "actions[1].message.attachments[0].url", "actions[1].message.buttons[0].title",
        "actions[1].message.buttons[1].url", "actions[2].seconds"]
    words = [p.words for p in found]
    assert words[0] == "Name must not be empty"
    assert words[1] == "Action 2, attachment 1: URL must be an http:// or https:// url with a host"
    assert words[2].startswith("Action 2, button 1: title is longer than 20 characters")
    assert words[4].startswith("Action 3: wait must be between 1 and")
    with pytest.raises(campaigns.Invalid) as first:  # Save and REST still name the first field's path
        campaigns.save(spec)
    assert first.value.field == "name"


def test_a_card_is_the_facebook_private_reply_and_refused_on_instagram(db: peewee.Database) -> None:
    facebook = channel()
    spec = CampaignSpec(name="Card", channel_id=facebook, actions=[ActionSpec(kind="send_message",
                                                                              message=card_message())])
    assert campaigns.problems(spec) == []
    instagram = CampaignSpec(name="Card", channel_id=channel("instagram"), actions=spec.actions)
    [problem] = campaigns.problems(instagram)
    assert problem.field == "actions[0].message.card"
    assert problem.words.startswith("Action 1: card is not possible on Instagram")
    four = (Button(title="a", payload="A"),) * 4
    too_long = MessageContent(card=Card(title="t" * 81, subtitle="s" * 81, buttons=four))
    fields = [p.field for p in campaigns.problems(CampaignSpec(
        name="Card", channel_id=facebook, actions=[ActionSpec(kind="send_message", message=too_long)]))]
    assert fields == ["actions[0].message.card.title", "actions[0].message.card.subtitle",
                      "actions[0].message.card.buttons"]


def test_dry_run_says_what_goes_now_and_what_waits(db: peewee.Database) -> None:
    facebook = channel()
    Comment.create(comment_id="c1", channel=facebook, post_id="111_1", from_id="u1", from_name="Ana Silva",
                   text="price?", created_at=now_ms())
    spec = CampaignSpec(name="Card", channel_id=facebook, trigger=TriggerSpec(),
                        actions=[ActionSpec(kind="send_message", message=card_message()),
                                 ActionSpec(kind="reply_comment", text="Sent you a DM!")])
    [sample] = campaigns.dry_run(spec).samples
    assert sample.messages == ["Card: Summer sale, Ana — 10% off (image https://cdn.example/a.png) "
                               "[buttons: Shop, Talk]", "Sent you a DM!"]
    assert sample.held == ["Your code: SHOES10", "Image: https://cdn.example/b.png"]
