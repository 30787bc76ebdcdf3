"""The helpdesk over REST on the live stack: private notes (never reaching the sandbox, @mentions
notifying, `note.created` delivered), snooze (leaves the open list, back on time through the
clock or when the customer writes) and canned responses (CRUD, personal vs shared, rendering)."""

from __future__ import annotations

import time

from bot.platform.db import connection, now_ms
from bot.platform.models import Conversation, Message, Note, Notification, Snooze
from tests.api.conftest import Api, error_of
from tests.api.test_outhooks import Receiver, receiver, stack  # noqa: F401, F811 - loopback receivers allowed


def ids_of(page: dict) -> list[int]:
    return [item["id"] for item in page["items"]]


# --- notes ------------------------------------------------------------------------------------------------


def test_a_note_never_reaches_meta_while_a_reply_does(api: Api) -> None:
    user_id = api.customer("Dana Buyer")
    talk = api.dm("Where is my order?", user_id=user_id)
    note = api.ok("POST", f"/conversations/{talk}/notes", 201,
                  json={"text": "SECRET-NOTE: customer is a reseller, @agent check the discount"})
    api.ok("POST", f"/conversations/{talk}/messages", 201, json={"message": {"text": "Checking now!"}})
    sent = api.stack.wait(lambda: api.stack.sandbox_get("sent", recipient_id=user_id)["sent"], what="the reply")
    assert len(sent) == 1 and "Checking now!" in str(sent[0]["body"])
    api.stack.wait(lambda: not Message.select().where(Message.status.in_(("pending", "sending"))).exists(),
                   what="the outbox drained")
    everything = str(api.stack.sandbox_get("sent")) + str(api.stack.sandbox_get("attempts"))
    assert "SECRET-NOTE" not in everything
    with connection():
        assert not Message.select().where(Message.text.contains("SECRET-NOTE")).exists()
        assert Note.get_by_id(note["id"]).text.startswith("SECRET-NOTE")
    assert note["mentions"] == [api.user_ids["agent"]]


def test_notes_listed_mentions_notify_and_only_the_author_deletes(api: Api) -> None:
    talk = api.dm()
    first = api.ok("POST", f"/conversations/{talk}/notes", 201, json={"text": "@agent please call her"})
    second = api.ok("POST", f"/conversations/{talk}/notes", 201, json={"text": "done", }, as_="agent")
    listed = api.ok("GET", f"/conversations/{talk}/notes")
    assert [n["id"] for n in listed] == [first["id"], second["id"]]
    assert listed[0]["author"] == "admin" and listed[1]["author_id"] == api.user_ids["agent"]
    with connection():
        told = list(Notification.select().where(Notification.kind == "mention"))
    assert [(n.user_id, n.conversation_id) for n in told] == [(api.user_ids["agent"], talk)]

    refused = api.call("DELETE", f"/conversations/{talk}/notes/{first['id']}", as_="agent")
    assert refused.status_code == 409, refused.text
    assert api.call("DELETE", f"/conversations/{talk}/notes/{first['id']}").status_code == 204
    assert [n["id"] for n in api.ok("GET", f"/conversations/{talk}/notes")] == [second["id"]]


def test_bad_notes_name_the_field(api: Api) -> None:
    talk = api.dm()
    for body, field in (({"text": "hi", "private": True}, "private"), ({"text": "   "}, "text"),
                        ({"text": "x" * 5001}, "text"), ({}, "text")):
        response = api.post(f"/conversations/{talk}/notes", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in (error_of(response)["field"] or "") + error_of(response)["message"], response.text
    assert api.post("/conversations/999999/notes", json={"text": "hi"}).status_code == 404
    with connection():
        assert Note.select().count() == 0


def test_note_created_is_delivered_to_subscribed_integrations(api: Api,
                                                            receiver: tuple[Receiver, str]) -> None:  # noqa: F811
    app, url = receiver
    api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["note.created"]})
    talk = api.dm()
    note = api.ok("POST", f"/conversations/{talk}/notes", 201, json={"text": "Handled by phone"})
    delivered = api.stack.wait(lambda: app.events("note.created"), what="note.created delivered")
    data = delivered[0].event["data"]
    assert (data["id"], data["conversation_id"], data["text"]) == (note["id"], talk, "Handled by phone")


# --- snooze -----------------------------------------------------------------------------------------------


def test_snoozed_until_the_customer_writes_leaves_the_open_list_then_comes_back(api: Api) -> None:
    user_id = api.customer("Dana Buyer")
    talk = api.dm("First question", user_id=user_id)
    view = api.ok("POST", f"/conversations/{talk}/snooze", json={"until": None})
    assert view["status"] == "snoozed" and view["snoozed_until"] is None
    assert talk not in ids_of(api.ok("GET", "/conversations?status=open"))
    assert ids_of(api.ok("GET", "/conversations?status=snoozed")) == [talk]
    api.dm("Any news?", user_id=user_id)
    assert api.conversation(talk).status == "open"
    with connection():
        assert not Snooze.select().where(Snooze.conversation == talk).exists()
    assert talk in ids_of(api.ok("GET", "/conversations?status=open"))
    assert api.ok("GET", f"/conversations/{talk}")["snoozed_until"] is None


def test_a_timed_snooze_comes_back_on_time_through_the_clock(api: Api) -> None:
    talk = api.dm()
    until = int(time.time() * 1000) + 1500
    view = api.ok("POST", f"/conversations/{talk}/snooze", json={"until": until})
    assert view["status"] == "snoozed" and view["snoozed_until"] == until
    api.stack.wait(lambda: Conversation.get_by_id(talk).status == "open", what="woken by the clock")
    assert int(time.time() * 1000) >= until


def test_a_wake_up_whose_job_was_lost_is_found_by_the_clock(api: Api) -> None:
    talk = api.dm()
    with connection():  # snoozed with no scheduled job, as when the queue lost the wake-up
        Conversation.update(status="snoozed").where(Conversation.id == talk).execute()
        Snooze.create(conversation=talk, wake_at=now_ms() - 60_000, created_at=now_ms())
    api.stack.wait(lambda: Conversation.get_by_id(talk).status == "open", what="woken by the clock's sweep")
    with connection():
        assert Snooze.select().count() == 0


def test_reopen_or_close_ends_a_snooze_and_bad_times_are_refused(api: Api) -> None:
    talk = api.dm()
    api.ok("POST", f"/conversations/{talk}/snooze", json={"until": int(time.time() * 1000) + 3_600_000})
    assert api.ok("POST", f"/conversations/{talk}/reopen")["status"] == "open"
    assert api.ok("GET", f"/conversations/{talk}")["snoozed_until"] is None
    for body, field in (({"until": 5}, "until"), ({}, "until"), ({"until": None, "why": "x"}, "why")):
        response = api.post(f"/conversations/{talk}/snooze", json=body)
        assert response.status_code == 422, (body, response.text)
        assert error_of(response)["field"] == field, response.text
    assert api.conversation(talk).status == "open"


# --- canned responses -------------------------------------------------------------------------------------


def test_canned_responses_crud_render_and_privacy(api: Api) -> None:
    talk = api.dm(user_id=api.customer("Dana Buyer"))
    shared = api.ok("POST", "/canned-responses", 201, json={
        "name": "hello", "shared": True,
        "message": {"text": "Hi {{ first_name }}, welcome to {{ page_name }}!",
                    "attachments": [{"type": "image", "url": "https://cdn.example/welcome.jpg"}],
                    "buttons": [{"title": "Hi {{ first_name }}", "url": "https://shop.example"}]}})
    mine = api.ok("POST", "/canned-responses", 201, json={"name": "sig", "message": {"text": "— Alex"}}, as_="agent")
    assert [c["name"] for c in api.ok("GET", "/canned-responses", as_="agent")] == ["hello", "sig"]
    assert [c["name"] for c in api.ok("GET", "/canned-responses")] == ["hello"]
    assert api.get(f"/canned-responses/{mine['id']}").status_code == 404  # the agent's own
    rendered = api.ok("GET", f"/canned-responses/{shared['id']}/render?conversation_id={talk}", as_="agent")
    assert rendered == {"text": "Hi Dana, welcome to Acme Shoes!",
                        "attachments": [{"type": "image", "url": "https://cdn.example/welcome.jpg"}],
                        "buttons": [{"title": "Hi Dana", "url": "https://shop.example"}]}

    patch = {"message": {"text": "x"}}
    assert api.call("PATCH", f"/canned-responses/{shared['id']}", json=patch, as_="agent").status_code == 409
    changed = api.ok("PATCH", f"/canned-responses/{shared['id']}", json={"message": {"text": "Hello {{ full_name }}"}})
    assert changed["text"] == "Hello {{ full_name }}" and changed["buttons"] == []
    assert api.call("DELETE", f"/canned-responses/{mine['id']}", as_="agent").status_code == 204
    assert [c["name"] for c in api.ok("GET", "/canned-responses", as_="agent")] == ["hello"]


def test_bad_canned_responses_name_the_field(api: Api) -> None:
    buttons = [{"title": f"b{i}", "url": "https://shop.example"} for i in range(3)]
    for body, field in (({"name": "hi", "message": {"text": "Hi {{ frist_name }}"}}, "message.text"),
                        ({"name": "two words", "message": {"text": "Hi"}}, "name"),
                        ({"name": "hi", "message": {"text": "Hi"}, "owner": 3}, "owner"),
                        ({"name": "hi", "message": {"text": "Hi", "quick_replies": []}}, "message.quick_replies"),
                        ({"name": "hi", "message": {"text": "Hi", "buttons": buttons}}, "message.buttons"),
                        ({"name": "hi"}, "message")):
        response = api.post("/canned-responses", json=body)
        assert response.status_code == 422, (body, response.text)
        assert error_of(response)["field"] == field, response.text
    api.ok("POST", "/canned-responses", 201, json={"name": "hi", "message": {"text": "Hi"}})
    duplicate = api.post("/canned-responses", json={"name": "hi", "message": {"text": "Hi again"}})
    assert duplicate.status_code == 422 and error_of(duplicate)["field"] == "name"
