"""One person, one story (issue 20, problem 5): a comment conversation shows the private reply
sent from it with a link to the DM thread it opened (not a red "not possible now"); a reply
under someone's comment shows the comment it answers; the contact lists every conversation of
the person, with where it happens."""

from __future__ import annotations

import pytest

from bot.platform.models import Contact, Conversation, Identity, Message
from dashboard.widgets import plain
from tests.dashboard.conftest import open_conversation, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)



def comment_thread_of(desk, user_id: str) -> Conversation:
    return desk.wait(lambda: Conversation.select().join(Identity, on=Conversation.identity == Identity.id)
                     .where((Identity.scoped_id == user_id) & (Conversation.kind == "facebook_comments")).first(),
                     what="the comment conversation")


def test_comment_thread_keeps_the_private_reply_and_the_context(desk, admin_app) -> None:
    from bot import queries

    account = desk.page["page_id"]
    sam = desk.control("customers", account_id=account, name="Sam Shopper")["user_id"]
    kim = desk.control("customers", account_id=account, name="Kim Critic")["user_id"]
    post = desk.control("posts", account_id=account, message="New shoes")["post_id"]
    first = desk.control("comment", account_id=account, post_id=post, user_id=sam, text="Do they run small?")
    conversation = comment_thread_of(desk, sam)
    app = open_conversation(admin_app, conversation.id)
    prefix = f"reply{conversation.id}_"
    app.text_area(key=prefix + "text").input("They do: take one size up.").run()
    app.button(key=prefix + "send").click().run()
    assert not app.exception, app.exception
    reply = desk.wait(lambda: Message.get_or_none((Message.private_reply_to == first["comment_id"])
                                                  & (Message.status == "sent")), what="the private reply sent")
    app = open_conversation(app, conversation.id)
    page = texts(app)
    assert plain("They do: take one size up.") in page  # the private reply, in the comment thread
    assert "not possible now" not in page and "had its private reply" in page
    dm_link = f"conversation={reply.conversation_id}"
    assert {(link.proto.label, link.proto.query_string) for link in app.get("page_link")} >= {
        ("Private reply: continue in the person's inbox conversation", dm_link),
        ("Open the inbox conversation", dm_link)}
    view = queries.conversation(conversation.id)
    (shown,) = [m for m in view.messages if m.send_kind == "private_reply"]
    assert shown.elsewhere_conversation_id == reply.conversation_id == view.dm_conversation_id

    # Kim answers under Sam's comment: Kim's thread says what it answers.
    desk.control("comment", account_id=account, post_id=post, user_id=kim, text="Mine were fine",
                 parent_id=first["comment_id"])
    kims = comment_thread_of(desk, kim)
    app = open_conversation(app, kims.id)
    assert "Replying to Sam Shopper's comment: “Do they run small?”" in texts(app)

    # Sam's contact lists both of Sam's conversations, with the page they happen on.
    contact = Contact.get_by_id(conversation.contact_id)
    app.session_state["sd_open_contact"] = contact.id
    app.switch_page("app_pages/contacts.py").run()
    page = texts(app)
    assert "Conversations (2)" in page
    for kind in ("Messenger", "Facebook comments"):
        assert f"**{kind}** on {plain(conversation.channel.name)} · open" in page
