"""Human handover end to end: staff replies, a page admin's answer from Meta's own apps, and
the customer's request for a person all pause the bot; staff resume it or the pause ends; and
campaigns never write into a paused person's DM thread."""

from __future__ import annotations

from bot import campaigns, commands, handover, queries
from bot.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.compose import MessageContent
from bot.db import connection
from bot.flows import store
from bot.models import BotState, CampaignStep, Channel, Conversation, User
from tests.bot.test_campaigns import comment, commenter, new_post, settled
from tests.bot.test_flows import SHOP, bot_sent, person, texts
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
