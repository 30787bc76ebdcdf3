"""Campaign numbers in one unit per chart, and a step's status as far as its parts went: a campaign
sent to a stored comment (no network: the rows are the facts), its private reply read, its held
parts waiting, a person clicking twice."""

from __future__ import annotations

import peewee
import pytest

from bot import queries
from bot.automation import campaign_stats, campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec
from bot.core.compose import Button, Card, MediaAttachment, MessageContent, stored_part_words
from bot.platform.db import now_ms
from bot.platform.models import ButtonClick, CampaignAction, CampaignRun, Channel, Comment, Message


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # counting, not SQL dialects
def test_people_per_chart_and_steps_as_far_as_their_parts_went(db: peewee.Database) -> None:
    channel = Channel.create(platform="facebook", account_id="111", page_id="111", name="Acme", created_at=now_ms())
    Comment.create(comment_id="111_1_9", channel=channel, post_id="111_1", from_id="u1", from_name="Ana Silva",
                   text="price?", created_at=now_ms())
    message = MessageContent(card=Card(title="Sale", buttons=(Button(title="Talk", payload="TALK"),)),
                             text="Code: SHOES10",
                             attachments=(MediaAttachment(type="image", url="https://cdn.example/s.png"),))
    saved = campaigns.save(CampaignSpec(name="Card", channel_id=channel.id, is_active=True,
                                        actions=[ActionSpec(kind="send_message", message=message)]))
    campaigns.send_to_past_comments(saved.id)
    private = Message.get(Message.send_kind == "private_reply")
    Message.update(status="read", sent_at=now_ms()).where(Message.id == private.id).execute()
    run = CampaignRun.get()
    action = CampaignAction.get()
    for key in ("tap-1", "tap-2"):  # the same person taps twice
        ButtonClick.create(run=run, action=action, kind="postback", key=key, created_at=now_ms())

    funnel = campaign_stats.funnel(saved.id)
    assert (funnel.matched, funnel.sent, funnel.read, funnel.clicked) == (1, 1, 1, 1)
    assert [(d["matched"], d["sent"], d["clicked"]) for d in funnel.per_day] == [(1, 1, 1)]  # people, like the funnel
    assert funnel.actions[0].queued == 3  # message parts: the card, the text, the image

    [entry] = queries.comment_ledger("111_1_9")
    [step] = entry.steps
    assert step.status == "read · 2 parts waiting for the person's answer"  # not "queued"
    lines = [stored_part_words(m.text, m.attachments) for m in step.messages]
    assert lines == ["Card: Sale [buttons: Talk]", "Code: SHOES10", "Image: https://cdn.example/s.png"]


def test_step_status_words() -> None:
    assert campaign_stats.step_status("queued", []) == "queued"
    assert campaign_stats.step_status("queued", ["held", "held"]) == "waiting for the person's answer"
    assert campaign_stats.step_status("queued", ["delivered", "failed"]) == "delivered · 1 part not sent"
    assert campaign_stats.step_status("queued", ["refused"]) == "refused"
