"""The bell follows the work (issue 20): reading or answering a conversation reads its
notifications; each names the channel and the person's current name; button taps and comments a
campaign answered ring only when the channel asks for them."""

from __future__ import annotations

from bot import commands
from bot.automation import notifications
from bot.platform.db import connection
from bot.platform.models import Contact, Conversation, Identity, Notification
from bot.staff.auth import add_user
from tests.bot.automation.test_campaigns import comment, commenter, make_campaign, new_post, page_channel, settled
from tests.bot.outbound.test_sender import customer_writes
from tests.servers import Stack


def staff_pair() -> tuple[int, int]:
    with connection():
        return add_user("ann@example.com", "long enough", "admin").id, add_user("bob@example.com", "long enough",
                                                                                "agent").id


def unread(user_id: int) -> int:
    with connection():
        return notifications.unread_count(user_id)


def test_opening_or_answering_a_conversation_reads_its_notifications(stack: Stack) -> None:
    ann, bob = staff_pair()
    _, first = customer_writes(stack, text="first")
    _, second = customer_writes(stack, text="second")
    stack.wait(lambda: Notification.select().count() == 4, what="two notifications each")
    with connection():
        commands.open_conversation(ann, first)
        assert notifications.unread_count(ann) == 1 and notifications.unread_count(bob) == 2
        assert Conversation.get_by_id(first).unread_count == 0
        commands.reply(bob, second, text="on it")
        assert notifications.unread_count(bob) == 1 and notifications.unread_count(ann) == 1
        assert [n.conversation_id for n in notifications.list_notifications(bob) if n.read_at is None] == [first]


def test_a_notification_says_the_channel_and_the_current_name(stack: Stack) -> None:
    ann, _ = staff_pair()
    _, conversation = customer_writes(stack, text="Where is my parcel?")
    stack.wait(lambda: Notification.select().where(Notification.user == ann).exists(), what="notification")
    with connection():
        contact_id, identity_id = Conversation.get_by_id(conversation).contact_id, Conversation.get_by_id(
            conversation).identity_id
    # the profile fetch runs on its own: let it land first, or it could rename the person mid-test
    stack.wait(lambda: Identity.get_by_id(identity_id).profile_fetched_at is not None, what="the profile fetched")
    with connection():
        Contact.update(name="").where(Contact.id == contact_id).execute()  # as before the profile arrives
        Identity.update(name=None, username=None).where(Identity.id == identity_id).execute()
        channel = Conversation.get_by_id(conversation).channel.name
        [before] = notifications.list_notifications(ann)
        Contact.update(name="Dana Diaz").where(Contact.id == contact_id).execute()  # the profile arrived
        [after] = notifications.list_notifications(ann)
    assert channel and before.label.startswith(f"{channel} · ") and "Where is my parcel?" in before.label
    assert before.label == f"{channel} · A customer: Where is my parcel?"
    assert after.label == f"{channel} · Dana Diaz: Where is my parcel?"


def test_button_taps_ring_only_when_the_channel_asks(stack: Stack) -> None:
    ann, _ = staff_pair()
    user, _ = customer_writes(stack)
    stack.wait(lambda: notifications.unread_count(ann) == 1, what="the message's notification")
    stack.control("postback", account_id=stack.page["page_id"], user_id=user, payload="PRICES", title="Prices")
    settled(stack)
    assert unread(ann) == 1
    with connection():
        commands.update_channel_settings(page_channel(stack), notify_postbacks=True)
    stack.control("postback", account_id=stack.page["page_id"], user_id=user, payload="PRICES", title="Prices")
    stack.wait(lambda: notifications.unread_count(ann) == 2, what="the tap's notification once asked for")


def test_comments_a_campaign_answered_ring_only_when_the_channel_asks(stack: Stack) -> None:
    ann, _ = staff_pair()
    watched, other = new_post(stack), new_post(stack)
    make_campaign(stack, watched)
    person = commenter(stack)
    comment(stack, watched, person, "price?")
    settled(stack)
    assert unread(ann) == 0
    comment(stack, other, person, "and this one?")  # no campaign watches it: staff must see it
    stack.wait(lambda: notifications.unread_count(ann) == 1, what="the unanswered comment's notification")
    with connection():
        commands.update_channel_settings(page_channel(stack), notify_campaign_comments=True)
    comment(stack, watched, commenter(stack, "Eve"), "price too?")
    stack.wait(lambda: notifications.unread_count(ann) == 2, what="the answered comment's notification once asked")
