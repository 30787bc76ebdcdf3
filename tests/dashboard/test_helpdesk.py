"""The helpdesk in the dashboard: a private note in the timeline (marked, interleaved by time,
never sent), @mentions reaching a colleague's bell, snooze and unsnooze, and saved replies
inserted from the picker or by typing `/name`."""

from __future__ import annotations

import time

from bot.core.compose import Button, MessageContent
from bot.helpdesk import canned
from bot.platform.models import Conversation, Note, Notification, User
from tests.dashboard.conftest import ADMIN, AGENT, customer_writes, open_conversation, sign_in, texts
from tests.servers import wait_until


def test_a_note_shows_in_the_timeline_marked_private_and_notifies_the_mentioned(desk, admin_app) -> None:
    conversation_id, user_id = customer_writes(desk, "Dana Buyer", "Is the blue one back?")
    app = open_conversation(admin_app, conversation_id)
    key = f"note{conversation_id}_text"
    app.text_area(key=key).input("Restock on Friday, @agent will confirm")
    app.button(key=f"note{conversation_id}_add").click().run()
    assert not app.exception, app.exception
    assert "Note added (1 colleague notified)." in texts(app)
    assert app.text_area(key=key).value == ""
    page = texts(app)
    shown = page.replace("\u2060", "")  # customer-safe text breaks autolinks after '@' with a word joiner
    assert "Private note" in page and "Restock on Friday, @agent will confirm" in shown
    assert [m.name for m in app.chat_message] == ["user", "assistant"]  # after the customer's message
    agent = User.get(User.email == AGENT[0])
    assert Notification.get((Notification.user == agent.id) & (Notification.kind == "mention")).conversation_id \
        == conversation_id
    assert "mentioned you in a note" in texts(sign_in(*AGENT))  # the agent's bell
    assert desk.sandbox_get("sent", recipient_id=user_id)["sent"] == []


def test_only_the_author_sees_a_delete_button_and_it_deletes(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    app.text_area(key=f"note{conversation_id}_text").input("Mine")
    app.button(key=f"note{conversation_id}_add").click().run()
    note = Note.get()
    other = open_conversation(sign_in(*AGENT), conversation_id)
    assert "Mine" in texts(other)
    assert not [b for b in other.button if b.key == f"note_delete{note.id}"]
    app.button(key=f"note_delete{note.id}").click().run()
    assert not app.exception and Note.select().count() == 0
    assert "Mine" not in texts(app)


def test_snooze_until_the_customer_writes_and_unsnooze(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    app.selectbox(key=f"snooze_choice{conversation_id}").select("customer")
    app.button(key=f"snooze{conversation_id}").click().run()
    assert not app.exception, app.exception
    assert Conversation.get_by_id(conversation_id).status == "snoozed"
    assert "Snoozed until the customer writes" in texts(app)
    inbox = app.switch_page("app_pages/inbox.py").run()
    wait_until(lambda: "No conversations match these filters." in texts(inbox.run()), 10, what="open list")
    inbox.selectbox(key="inbox_status").select("snoozed").run()
    assert "Dana Buyer" in texts(inbox)
    app = open_conversation(inbox, conversation_id)
    app.button(key=f"unsnooze{conversation_id}").click().run()
    assert Conversation.get_by_id(conversation_id).status == "open"


def test_a_timed_snooze_is_stored_for_the_chosen_time(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    app = open_conversation(admin_app, conversation_id)
    app.selectbox(key=f"snooze_choice{conversation_id}").select("1h")
    before = int(time.time() * 1000)
    app.button(key=f"snooze{conversation_id}").click().run()
    view_until = Conversation.get_by_id(conversation_id)
    from bot.helpdesk import snooze
    snoozed, until = snooze.snoozed_until(conversation_id)
    assert view_until.status == "snoozed" and snoozed
    assert before + 3_600_000 - 5_000 <= until <= int(time.time() * 1000) + 3_600_000


def test_saved_replies_insert_from_the_picker_and_by_typing_their_name(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    admin = User.get(User.email == ADMIN[0])
    canned.create(admin.id, "hello", "Hi {{ first_name }}, thanks for writing!", shared=True)
    sig = canned.create(admin.id, "sig", MessageContent(
        text="— the Acme team", buttons=(Button(title="Our shop", url="https://shop.example"),)), shared=False)
    app = open_conversation(admin_app, conversation_id)
    prefix = f"reply{conversation_id}_"
    text = app.text_area(key=prefix + "text")
    text.input("/hello").run()
    assert not app.exception, app.exception
    assert app.text_area(key=prefix + "text").value == "Hi Dana, thanks for writing!"
    app.selectbox(key=prefix + "canned").select(sig.id).run()
    assert app.text_area(key=prefix + "text").value == "Hi Dana, thanks for writing!\n— the Acme team"
    assert app.text_input(key=prefix + "btn0_title").value == "Our shop"
    assert app.text_input(key=prefix + "btn0_value").value == "https://shop.example"
    assert app.selectbox(key=prefix + "canned").value == 0  # back to "—", ready for the next one
    app.text_area(key=prefix + "text").input("see https://x.example/hello and /nothing").run()
    assert app.text_area(key=prefix + "text").value == "see https://x.example/hello and /nothing"


def test_saved_replies_page_creates_checks_edits_and_deletes(desk, agent_app) -> None:
    from bot.platform.models import CannedResponse

    app = agent_app.switch_page("app_pages/canned.py").run()
    assert not app.exception, app.exception
    app.text_input(key="canned_new_name").input("Hello")
    app.text_area(key="canned_new_text").input("Hi {{ frist_name }}")
    app.button(key="canned_new_save").click().run()
    assert "Not saved: message.text: unknown shortcode(s) frist_name" in texts(app)
    assert CannedResponse.select().count() == 0
    app.text_area(key="canned_new_text").input("Hi {{ first_name }}!")
    app.text_input(key="canned_new_btn0_title").input("Our shop")
    app.text_input(key="canned_new_btn0_value").input("https://shop.example")
    app.selectbox(key="canned_new_scope").set_value("shared")
    app.button(key="canned_new_save").click().run()
    assert "Saved /hello." in texts(app) and app.text_input(key="canned_new_name").value == ""
    row = CannedResponse.get()
    assert (row.name, row.text, row.scope) == ("hello", "Hi {{ first_name }}!", "shared")
    assert row.buttons == [{"title": "Our shop", "url": "https://shop.example"}]
    assert app.text_input(key="canned_new_btn0_title").value == ""
    app.text_area(key=f"canned{row.id}_text").input("Hello {{ first_name }}!")
    app.button(key=f"canned{row.id}_save").click().run()
    assert CannedResponse.get_by_id(row.id).text == "Hello {{ first_name }}!"
    app.button(key=f"canned{row.id}_delete").click().run()
    assert CannedResponse.select().count() == 0 and "No saved replies yet." in texts(app)


def test_snooze_choices_end_at_the_expected_local_time() -> None:
    import datetime as dt

    from dashboard.helpdesk import wake_time

    sunday_night = dt.datetime(2026, 12, 6, 23, 30)
    assert wake_time("1h", sunday_night) == dt.datetime(2026, 12, 7, 0, 30)
    assert wake_time("tomorrow", sunday_night) == dt.datetime(2026, 12, 7, 9, 0)
    assert wake_time("week", sunday_night) == dt.datetime(2026, 12, 7, 9, 0)  # next Monday
    assert wake_time("week", dt.datetime(2026, 12, 7, 8, 0)) == dt.datetime(2026, 12, 14, 9, 0)
    assert wake_time("customer", sunday_night) is None
