"""The conversation page: the thread, the reply box and what can be sent now, drafts that
survive reruns and new sessions (saved in the database), assignment, status, tags and the
campaign ledger of a comment."""

from __future__ import annotations

import time

from bot.platform.models import Conversation, Message, User
from bot.staff import drafts
from tests.dashboard.conftest import ADMIN, AGENT, customer_writes, open_conversation, sign_in, texts
from tests.servers import wait_until


def test_thread_shows_bubbles_and_the_open_window(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Do you have *size 42*?",
                                         attachments=[{"type": "image", "url": "https://cdn.example/shoe.jpg"},
                                                      {"type": "file", "url": "https://cdn.example/list.pdf"}])
    app = open_conversation(admin_app, conversation_id)
    assert [m.name for m in app.chat_message] == ["user"]
    page = texts(app)
    assert r"Do you have \*size 42\*?" in page  # shown as written, not formatted
    assert "Dana Buyer" in [t.value for t in app.title]
    assert ["https://cdn.example/shoe.jpg"] in [image.value for image in app.get("image")]
    assert "(https://cdn.example/list.pdf)" in page
    assert "Message: possible for 23 h" in page
    assert not app.button(key=f"reply{conversation_id}_send").disabled
    assert Conversation.get_by_id(conversation_id).unread_count == 0  # read by being shown


def test_reply_is_sent_and_the_composer_empties(desk, admin_app) -> None:
    conversation_id, user_id = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    prefix = f"reply{conversation_id}_"
    app.text_area(key=prefix + "text").input("Hi Dana, how can I help?")
    app.text_input(key=prefix + "btn0_title").input("Our shop")
    app.text_input(key=prefix + "btn0_value").input("https://shop.example")
    app.button(key=prefix + "send").click().run()
    assert not app.exception
    assert "Reply queued for sending" in texts(app)
    assert app.text_area(key=prefix + "text").value == ""
    sent = wait_until(lambda: desk.sandbox_get("sent", recipient_id=user_id)["sent"], 20, what="the reply")
    body = str(sent[0]["body"])
    assert "Hi Dana, how can I help?" in body and "https://shop.example" in body
    stored = Message.get((Message.conversation == conversation_id) & (Message.direction == "out"))
    assert stored.author == "staff" and stored.author_user.email == "admin@example.com"


def test_a_draft_survives_reruns_and_other_pages(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    key = f"reply{conversation_id}_text"
    app.text_area(key=key).input("Half-written answer").run()
    app.switch_page("app_pages/inbox.py").run()
    app.switch_page("app_pages/conversation.py").run()
    assert app.text_area(key=key).value == "Half-written answer"


def test_a_draft_is_saved_found_by_a_new_session_and_cleared_on_send(desk, admin_app) -> None:
    conversation_id, user_id = customer_writes(desk, "Dana Buyer", "Hello?")
    admin = User.get(User.email == ADMIN[0])
    key = f"reply{conversation_id}_text"
    app = open_conversation(admin_app, conversation_id)
    app.text_area(key=key).input("Half-written answer").run()
    assert drafts.load(admin.id, conversation_id).text == "Half-written answer"

    reloaded = open_conversation(sign_in(*ADMIN), conversation_id)  # a new session, as after a reload
    assert reloaded.text_area(key=key).value == "Half-written answer"
    agent = open_conversation(sign_in(*AGENT), conversation_id)
    assert agent.text_area(key=key).value == ""  # drafts belong to one staff member

    reloaded.text_area(key=key).input("Half-written answer, now finished.")
    reloaded.button(key=f"reply{conversation_id}_send").click().run()
    assert "Reply queued for sending" in texts(reloaded)
    assert drafts.load(admin.id, conversation_id) is None
    assert open_conversation(sign_in(*ADMIN), conversation_id).text_area(key=key).value == ""
    sent = wait_until(lambda: desk.sandbox_get("sent", recipient_id=user_id)["sent"], 20, what="the reply")
    assert "Half-written answer, now finished." in str(sent[0]["body"])


def test_invalid_reply_is_refused_with_the_field(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    prefix = f"reply{conversation_id}_"
    app.text_area(key=prefix + "text").input("See the picture")
    app.text_input(key=prefix + "att0_url").input("not a url")
    app.button(key=prefix + "send").click().run()
    assert "Not sent: message.attachments[0].url" in texts(app)
    assert app.text_area(key=prefix + "text").value == "See the picture"  # kept to fix it


def test_closed_window_disables_sending_and_says_why(desk, admin_app) -> None:
    two_days_ago = int(time.time() * 1000) - 2 * 86_400_000
    conversation_id, _ = customer_writes(desk, "Old Customer", "Hi, long ago", timestamp_ms=two_days_ago)
    app = open_conversation(admin_app, conversation_id)
    assert app.button(key=f"reply{conversation_id}_send").disabled
    assert "Message: not possible now. The person's last message is more than 24 hours old" in texts(app)


def test_assign_close_and_tag(desk, admin_app) -> None:
    from bot import queries

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    agent = next(u for u in queries.staff_users() if u.role == "agent")
    app.selectbox(key=f"assignee{conversation_id}").select(agent.id).run()
    app.button(key=f"status{conversation_id}").click().run()
    conversation = Conversation.get_by_id(conversation_id)
    assert conversation.assignee_id == agent.id and conversation.status == "closed"
    tags = app.multiselect(key=f"tags{conversation.contact_id}")
    tags.set_value([*tags.value, "vip"]).run()
    assert "vip" in queries.contact(conversation.contact_id).tags
    tags = app.multiselect(key=f"tags{conversation.contact_id}")
    tags.set_value([t for t in tags.value if t != "vip"]).run()
    assert "vip" not in queries.contact(conversation.contact_id).tags
    assert app.button(key=f"status{conversation_id}").label == "Reopen conversation"


def test_comment_conversation_offers_private_or_public_reply_and_shows_the_ledger(desk, admin_app) -> None:
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
    from bot.core.compose import MessageContent
    from bot.platform import registry as channels

    account = desk.page["page_id"]
    channel = channels.channel_for("facebook", account)
    campaigns.save(CampaignSpec(name="Coupon", channel_id=channel.id, is_active=True,
                                trigger=TriggerSpec(keywords_any=["coupon"]),
                                actions=[ActionSpec(kind="send_message",
                                                    message=MessageContent(text="Here: C10"))]))
    user_id = desk.control("customers", account_id=account, name="Sam Shopper")["user_id"]
    post = desk.control("posts", account_id=account, message="New shoes")["post_id"]
    desk.control("comment", account_id=account, post_id=post, user_id=user_id, text="Nice shoes")
    conversation = desk.wait(lambda: Conversation.get_or_none(Conversation.kind == "facebook_comments"),
                             what="the comment conversation")
    app = open_conversation(admin_app, conversation.id)
    prefix = f"reply{conversation.id}_"
    assert app.radio(key=prefix + "type").options == ["Private message", "Reply to comment"]
    page = texts(app)
    assert "Private message: possible for 6 days" in page
    assert "Coupon" in page and "The comment contains none of the required words." in page
    app.radio(key=prefix + "type").set_value("comment").run()
    assert "Reply to comment: possible." in texts(app)
    app.text_area(key=prefix + "text").input("Thanks Sam!").run()
    reloaded = open_conversation(sign_in(*ADMIN), conversation.id)  # the draft keeps the way of answering
    assert reloaded.radio(key=prefix + "type").value == "comment"
    assert reloaded.text_area(key=prefix + "text").value == "Thanks Sam!"
    app.button(key=prefix + "send").click().run()
    sent = wait_until(lambda: desk.sandbox_get("sent", kind="comment_reply")["sent"], 20,
                      what="the public reply")
    assert sent[0]["body"]["message"] == "Thanks Sam!"


def test_staff_pause_and_resume_the_bot(desk, admin_app) -> None:
    from bot.inbound.pauses import paused_until

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    app.button(key=f"pause{conversation_id}").click().run()
    assert not app.exception
    assert paused_until(conversation_id) is not None
    assert "Bot paused until" in texts(app)
    app.button(key=f"resume{conversation_id}").click().run()
    assert paused_until(conversation_id) is None
    assert "Bot paused until" not in texts(app)
