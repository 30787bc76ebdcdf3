"""Issue 22 in the dashboard: Like / Hide on a comment in the conversation screen, and a channel's
Messenger profile in the settings page (saved, refused in people's words, pushed to the sandbox)."""

from __future__ import annotations

import pytest

from bot.platform.models import CommentModeration, Message, MessengerProfile
from bot.platform.registry import channel_for
from tests.dashboard.conftest import open_conversation, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_like_a_comment_and_edit_the_messenger_profile(desk, admin_app) -> None:
    page = desk.page["page_id"]
    user = desk.control("customers", account_id=page, name="Cara Commenter")["user_id"]
    post = desk.control("posts", account_id=page, message="Boots")["post_id"]
    comment_id = desk.control("comment", account_id=page, post_id=post, user_id=user, text="Nice")["comment_id"]
    message = desk.wait(lambda: Message.get_or_none(Message.comment_id == comment_id), what="comment stored")
    app = open_conversation(admin_app, message.conversation_id)
    app.button(key=f"like{comment_id}").click().run()
    assert not app.exception, app.exception
    desk.wait(lambda: CommentModeration.get_or_none((CommentModeration.comment_id == comment_id)
                                                    & (CommentModeration.status == "done")), what="liked")
    assert "Liked by staff" in texts(app.run())
    assert app.button(key=f"like{comment_id}").disabled  # once per comment

    facebook = channel_for("facebook", page)
    app.switch_page("app_pages/settings.py").run()
    key = f"profile_{facebook.id}_"
    save = next(b for b in app.button if b.key and key + "form" in b.key)
    app.text_input(key=key + "get_started").input("x" * 1001)
    save.click().run()
    assert "get_started_payload: must be 1 to 1000 characters" in texts(app)
    assert MessengerProfile.get_or_none(MessengerProfile.channel == facebook.id) is None
    app.text_input(key=key + "get_started").input("HELLO")
    next(b for b in app.button if b.key and key + "form" in b.key).click().run()
    assert not app.exception, app.exception
    desk.wait(lambda: MessengerProfile.get(MessengerProfile.channel == facebook.id).status == "pushed",
              what="profile pushed")
    assert "live on Meta" in texts(app.run())
