"""Human handover end to end: staff replies, a page admin's answer from Meta's own apps, and
the customer's request for a person all pause the bot; staff resume it or the pause ends; and
campaigns never write into a paused person's DM thread. The channel's handover settings are
refused when saved if they could never work (a keyword that cannot match, a message Meta would
refuse, a pause out of bounds)."""

from __future__ import annotations

import pytest

from bot import commands, queries
from bot.automation import campaigns, handover
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.automation.flows import store
from bot.automation.handover import HandoverSettings
from bot.core.compose import MAX_MESSENGER_TEXT_CHARS, MessageContent
from bot.core.errors import Invalid
from bot.platform.db import connection
from bot.platform.models import BotSetting, BotState, CampaignStep, Channel, Conversation, User
from tests.bot.automation.test_campaigns import comment, commenter, new_post, settled
from tests.bot.automation.test_flows import SHOP, bot_sent, person, texts
from tests.servers import Stack


def thread_of(user: str) -> Conversation:
    return Conversation.get(
        Conversation.thread_key.endswith(f":{user}") & Conversation.thread_key.startswith("dm:")
    )


def staff(stack: Stack) -> int:
    with connection():
        return User.create(email="agent@example.com", password_hash="x", created_at=0).id


def started(stack: Stack, user: str) -> None:
    with connection():
        store.import_text(SHOP)
    stack.control("postback", account_id=stack.page["page_id"], user_id=user, payload="GET_STARTED")
    stack.wait(lambda: len(bot_sent(stack, user)) == 1, what="welcome")


def test_staff_reply_pauses_until_resumed(stack: Stack) -> None:
    user = person(stack)
    started(stack, user)
    with connection():
        commands.reply(staff(stack), thread_of(user).id, text="Hi, Maria here, how can I help?")
    stack.wait(lambda: len(bot_sent(stack, user)) == 2, what="staff reply")
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="shoes please")
    settled(stack)
    assert len(bot_sent(stack, user)) == 2  # the bot kept quiet
    with connection():
        view = queries.conversation(thread_of(user).id)
        assert view.bot_paused_until and view.bot_paused_reason == "Staff answered from socialdesk."
        commands.resume_bot(thread_of(user).id)
        assert queries.conversation(thread_of(user).id).bot_paused_until is None
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="shoes please")
    stack.wait(lambda: texts(bot_sent(stack, user))[-1] == "Which size?", what="bot resumed where it was")


def test_admin_answer_from_meta_apps_pauses_and_pause_time_passes(stack: Stack) -> None:
    user = person(stack)
    started(stack, user)
    stack.control("echo", account_id=stack.page["page_id"], user_id=user, text="Answered from Business Suite")
    stack.wait(lambda: BotState.select().where(BotState.paused_until.is_null(False)).exists(), what="paused")
    with connection():
        assert BotState.get().paused_reason == "A page admin answered from another app."
        BotState.update(paused_until=1).execute()  # the configured pause time has passed
    stack.control("postback", account_id=stack.page["page_id"], user_id=user, payload="SOCKS", title="Socks")
    stack.wait(lambda: texts(bot_sent(stack, user))[-1] == "Socks are sold out.", what="bot answers again")


def test_customer_asks_for_a_human(stack: Stack) -> None:
    with connection():
        channel = Channel.get(Channel.account_id == stack.page["page_id"])
        handover.save_settings(
            channel.id,
            handover.HandoverSettings(
                handover_keywords=["real person"], handover_message="A colleague will answer you shortly."
            ),
        )
    user = person(stack)
    started(stack, user)
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="Can I talk to a REAL person?")
    stack.wait(
        lambda: texts(bot_sent(stack, user))[-1] == "A colleague will answer you shortly.", what="handover"
    )
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="menu")
    settled(stack)
    assert len(bot_sent(stack, user)) == 2
    with connection():
        row = BotState.get(BotState.conversation == thread_of(user))
        assert row.flow_name is None and row.paused_reason == "The customer asked for a person."
        assert commands.pause_bot(thread_of(user).id, minutes=5) > 0


def test_handover_settings_saved_are_what_the_next_message_meets(stack: Stack) -> None:
    """Workers keep a copy of a channel's handover settings per configuration version (read for
    every message): saving them bumps the version (migration 0032)."""
    user = person(stack)
    started(stack, user)
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="a real person please")
    settled(stack)  # not a handover keyword yet: the flow's fallback, not a handover
    assert "A colleague will answer you shortly." not in texts(bot_sent(stack, user))
    with connection():
        channel = Channel.get(Channel.account_id == stack.page["page_id"])
        handover.save_settings(channel.id, handover.HandoverSettings(
            handover_keywords=["real person"], handover_message="A colleague will answer you shortly."))
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="a real person please")
    stack.wait(lambda: texts(bot_sent(stack, user))[-1] == "A colleague will answer you shortly.",
               what="the settings saved since")


def test_campaign_does_not_write_over_a_human(stack: Stack) -> None:
    with connection():
        channel = Channel.get(Channel.account_id == stack.page["page_id"])
        campaigns.save(
            CampaignSpec(
                name="c",
                channel_id=channel.id,
                is_active=True,
                trigger=TriggerSpec(),
                actions=[
                    ActionSpec(kind="send_message", message=MessageContent(text="Hi!")),
                    ActionSpec(kind="reply_comment", text="See DM"),
                ],
            )
        )
    post, user = new_post(stack), commenter(stack)
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="hello")
    stack.wait(lambda: Conversation.select().exists(), what="thread")
    with connection():
        commands.pause_bot(thread_of(user).id)
    comment(stack, post, user, "price?")
    settled(stack)
    kinds = [s["kind"] for s in stack.sandbox_get("sent")["sent"]]
    assert kinds == ["comment_reply"]  # the public reply is not the DM thread
    with connection():
        refused = CampaignStep.get(CampaignStep.position == 0)
        assert refused.status == "refused" and "person is handling" in refused.detail


# --- settings validation (a database, no stack) -----------------------------------------------------




def channel(platform: str = "facebook") -> int:
    return Channel.create(platform=platform, account_id=f"{platform}-1", page_id="1", name="Shop", created_at=0).id


@pytest.mark.parametrize(("changes", "field"), [
    ({"handover_keywords": ["human", "agent", "?!"]}, "handover_keywords[2]"),
    ({"handover_keywords": [""]}, "handover_keywords[0]"),
    ({"handover_keywords": ["ok", " \t\n "]}, "handover_keywords[1]"),
    ({"handover_keywords": ["\u2014 ... \u00bf?"]}, "handover_keywords[0]"),  # punctuation from any script
    ({"handover_keywords": ["x" * 201]}, "handover_keywords[0]"),
    ({"handover_keywords": [f"word{i}" for i in range(101)]}, "handover_keywords"),
    ({"handover_payloads": ["HUMAN", "  "]}, "handover_payloads[1]"),
    ({"handover_payloads": ["P" * 1001]}, "handover_payloads[0]"),
    ({"handover_message": "x" * (MAX_MESSENGER_TEXT_CHARS + 1)}, "handover_message"),
    ({"handover_message": "Hi {{ frist_name }}"}, "handover_message"),
    ({"pause_seconds": 0}, "pause_seconds"),
    ({"pause_seconds": -60}, "pause_seconds"),
    ({"pause_seconds": handover.MAX_PAUSE_SECONDS + 1}, "pause_seconds"),
])
def test_settings_that_could_never_work_are_refused(db, changes: dict, field: str) -> None:
    channel_id = channel()
    with pytest.raises(Invalid) as refused:
        handover.save_settings(channel_id, HandoverSettings(**changes))
    assert refused.value.field == field
    assert BotSetting.select().count() == 0 and handover.settings_for(channel_id) == HandoverSettings()


def test_an_unknown_channel_is_refused(db) -> None:
    with pytest.raises(Invalid) as refused:
        handover.save_settings(999, HandoverSettings())
    assert refused.value.field == "channel_id"


def test_valid_settings_are_stored_and_match_as_written(db) -> None:
    channel_id = channel()
    saved = handover.save_settings(channel_id, HandoverSettings(
        handover_payloads=["TALK_TO_US"], handover_keywords=["Talk-to-a-HUMAN?!", "\u00e9quipe"],
        handover_message="x" * MAX_MESSENGER_TEXT_CHARS, pause_seconds=handover.MIN_PAUSE_SECONDS))
    assert saved == handover.settings_for(channel_id)
    assert saved.handover_keywords == ["Talk-to-a-HUMAN?!", "\u00e9quipe"]  # stored as the admin wrote them
    assert len(saved.handover_message or "") == MAX_MESSENGER_TEXT_CHARS and saved.pause_seconds == 60
    assert handover.asks_for_human(channel_id, None, "can i talk to a human")
    assert handover.asks_for_human(channel_id, None, "L'EQUIPE, svp")
    assert handover.asks_for_human(channel_id, "TALK_TO_US", None)
    assert not handover.asks_for_human(channel_id, "HUMAN", "talk to someone")


def test_a_blank_message_means_the_bot_says_nothing(db) -> None:
    channel_id = channel()
    saved = handover.save_settings(channel_id, HandoverSettings(handover_message="  \n "))
    assert saved.handover_message is None
    assert BotSetting.get(BotSetting.channel == channel_id).handover_message is None


def test_the_message_limit_is_the_channels_platforms(db) -> None:
    """Instagram counts UTF-8 bytes (1,000); Messenger characters (2,000)."""
    accents = "\u00e9" * 600  # 600 characters, 1,200 bytes
    assert handover.save_settings(channel("facebook"), HandoverSettings(handover_message=accents)).handover_message
    with pytest.raises(Invalid) as refused:
        handover.save_settings(channel("instagram"), HandoverSettings(handover_message=accents))
    assert refused.value.field == "handover_message" and "1200" in refused.value.problem
