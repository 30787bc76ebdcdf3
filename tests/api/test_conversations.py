"""`/api/v1/conversations`: the inbox filters, a conversation with the person's details, its
messages, replies (DM, private reply, public comment reply) through the real send path to the
sandbox, assignment, close/reopen and tags."""

from __future__ import annotations

from bot.platform.db import connection
from bot.platform.models import Message
from tests.api.conftest import Api, error_of


def wait_status(api: Api, message_id: int, status: str) -> Message:
    return api.stack.wait(lambda: Message.get_or_none((Message.id == message_id)
                                                      & (Message.status == status)),
                          what=f"message {message_id} {status}")


def found(api: Api, **params: object) -> list[int]:
    return [item["id"] for item in api.ok("GET", "/conversations", params=params)["items"]]


def test_inbox_filters(api: Api) -> None:
    dm = api.dm("Do you ship to Berlin?")
    ig = api.dm("Hi from Instagram", instagram=True)
    comment, _ = api.comment("Price?")
    everything = api.ok("GET", "/conversations", as_="agent")
    assert everything["total"] == 3 and {i["id"] for i in everything["items"]} == {dm, ig, comment}
    assert found(api, kind="instagram") == [ig]
    assert found(api, kind="facebook_comments") == [comment]
    assert found(api, search="berlin") == [dm]
    assert found(api, tag="Instagram Direct") == [ig]
    api.ok("POST", f"/conversations/{dm}/close")
    assert found(api, status="closed") == [dm]
    api.ok("POST", f"/conversations/{ig}/assign", json={"assignee": api.user_ids["agent"]})
    mine = api.ok("GET", "/conversations", params={"assignee_id": api.user_ids["agent"]})
    assert [i["id"] for i in mine["items"]] == [ig] and mine["items"][0]["assignee"] == "agent@example.com"
    assert set(found(api, unassigned=True)) == {dm, comment}
    paged = api.ok("GET", "/conversations", params={"page_size": 2, "page": 2})
    assert (paged["total"], paged["pages"], len(paged["items"])) == (3, 2, 1)


def test_inbox_filter_by_channel(api: Api) -> None:
    """`channel_id` (repeatable) keeps the conversations of those channels; an id no channel has
    matches nothing rather than failing."""
    dm = api.dm("Do you ship to Berlin?")
    ig = api.dm("Hi from Instagram", instagram=True)
    comment, _ = api.comment("Price?")
    page, instagram = (c["id"] for c in api.ok("GET", "/channels"))
    assert set(found(api, channel_id=page)) == {dm, comment}
    assert found(api, channel_id=instagram) == [ig]
    assert set(found(api, channel_id=[page, instagram])) == {dm, ig, comment}
    assert found(api, channel_id=page, kind="messenger") == [dm]
    both = api.ok("GET", "/conversations", as_="agent", params={"channel_id": [instagram, 999], "page_size": 1})
    assert (both["total"], [i["id"] for i in both["items"]]) == (1, [ig])
    nowhere = api.ok("GET", "/conversations", params={"channel_id": [999, 2**31 - 1]})
    assert nowhere == {"items": [], "total": 0, "page": 1, "pages": 1}


def test_inbox_filter_validation(api: Api) -> None:
    for params, field in [({"kind": "email"}, "kind"), ({"status": "archived"}, "status"),
                          ({"page": 0}, "page"), ({"page_size": 1000}, "page_size"),
                          ({"assignee_id": "me"}, "assignee_id"),
                          ({"search": "a\u0000b"}, "search"),
                          ({"channel_id": "facebook"}, "channel_id"), ({"channel_id": [1, "x"]}, "channel_id"),
                          ({"channel_id": ""}, "channel_id"), ({"channel_id": 0}, "channel_id"),
                          ({"channel_id": 2**31}, "channel_id"), ({"channel_id": list(range(1, 102))}, "channel_id")]:
        response = api.get("/conversations", params=params)
        assert response.status_code == 422, (params, response.text)
        assert error_of(response)["field"] == field, params


def test_get_conversation_with_author_details(api: Api) -> None:
    user_id = api.customer("Jane Doe", instagram=True)
    conversation_id = api.dm("Hello!", user_id=user_id, instagram=True)
    view = api.ok("GET", f"/conversations/{conversation_id}", as_="agent")
    assert (view["kind"], view["channel_platform"], view["status"]) == ("instagram", "instagram", "open")
    assert view["contact_name"] == "Jane Doe" and view["username"] == "jane_doe"
    assert view["profile_url"] == "https://www.instagram.com/jane_doe" and view["contact_id"]
    assert view["tags"] == ["Instagram Direct"]
    assert [(m["direction"], m["text"]) for m in view["messages"]] == [("in", "Hello!")]
    assert view["options"][0]["reply_type"] == "message" and view["options"][0]["allowed"] is True
    messages = api.ok("GET", f"/conversations/{conversation_id}/messages", params={"limit": 1})
    assert [m["text"] for m in messages] == ["Hello!"]
    for path in ("/conversations/999", "/conversations/999/messages"):
        response = api.get(path)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert api.get("/conversations/abc").status_code in (404, 422)


def test_reply_in_a_dm_is_sent_through_the_send_path(api: Api) -> None:
    conversation_id = api.dm()
    rows = api.ok("POST", f"/conversations/{conversation_id}/messages", 201, as_="agent",
                  json={"message": {"text": "Yes, in 2 days.", "buttons": [{"title": "Track", "url": "https://x.io/t"}],
                                    "attachments": [{"type": "image", "url": "https://x.io/boot.jpg"}]}})
    assert [(r["direction"], r["author"], r["send_kind"]) for r in rows] == [("out", "staff", "direct")] * 2
    for row in rows:
        wait_status(api, row["id"], "sent")
    assert "Yes, in 2 days." in str(api.stack.sandbox_get("sent")["sent"])
    view = api.ok("GET", f"/conversations/{conversation_id}")
    assert [m["status"] for m in view["messages"] if m["direction"] == "out"] == ["sent", "sent"]
    with connection():
        assert Message.get_by_id(rows[0]["id"]).author_user_id == api.user_ids["agent"]


def test_reply_with_the_same_client_key_sends_once(api: Api) -> None:
    conversation_id = api.dm()
    body = {"message": {"text": "Once only"}, "client_key": "retry-123"}
    first = api.ok("POST", f"/conversations/{conversation_id}/messages", 201, json=body)
    again = api.ok("POST", f"/conversations/{conversation_id}/messages", 201, json=body)
    assert [r["id"] for r in first] == [r["id"] for r in again]
    wait_status(api, first[0]["id"], "sent")
    with connection():
        assert Message.select().where(Message.direction == "out").count() == 1


def test_reply_validation_names_the_field(api: Api) -> None:
    conversation_id = api.dm()
    path = f"/conversations/{conversation_id}/messages"
    cases = [
        ({"message": {}}, "message"),
        ({"message": {"text": "   "}}, "message"),
        ({}, "message"),
        ({"message": {"text": "hi"}, "reply_type": "fax"}, "reply_type"),
        ({"message": {"text": "hi"}, "reply_type": "private"}, "reply_type"),
        ({"message": {"text": "x" * 2001}}, "message.text"),
        ({"message": {"text": "hi", "buttons": [{"title": "a", "url": "https://a.io"}] * 3}},
         "message.buttons"),
        ({"message": {"text": "hi", "buttons": [{"title": "x" * 21, "payload": "P"}]}},
         "message.buttons[0].title"),
        ({"message": {"text": "hi", "buttons": [{"title": "Go"}]}}, "message.buttons[0]"),
        ({"message": {"attachments": [{"type": "gif", "url": "https://a.io/a.gif"}]}},
         "message.attachments[0].type"),
        ({"message": {"attachments": [{"type": "image", "url": "ftp://a.io/a.png"}]}},
         "message.attachments[0].url"),
        ({"message": {"text": "hi"}, "client_key": ""}, "client_key"),
        ({"message": {"text": "nul \u0000 here"}}, "message.text"),
    ]
    for body, field in cases:
        response = api.post(path, json=body)
        assert response.status_code == 422, (body, response.text)
        error = error_of(response)
        assert (error["code"], error["field"]) == ("invalid", field), (body, error)
    with connection():
        assert not Message.select().where(Message.direction == "out").exists()
    assert api.post("/conversations/999/messages", json={"message": {"text": "hi"}}).status_code == 404


def test_private_and_public_replies_to_a_comment(api: Api) -> None:
    conversation_id, comment_id = api.comment("Price please")
    private = api.ok("POST", f"/conversations/{conversation_id}/messages", 201,
                     json={"message": {"text": "Sent you the price!"}, "reply_type": "private"})
    assert [(r["send_kind"], r["status"]) for r in private] == [("private_reply", "pending")]
    wait_status(api, private[0]["id"], "sent")
    public = api.ok("POST", f"/conversations/{conversation_id}/messages", 201,
                    json={"message": {"text": "Check your inbox"}, "reply_type": "comment",
                          "comment_id": comment_id})
    assert [r["send_kind"] for r in public] == ["comment_reply"]
    wait_status(api, public[0]["id"], "sent")
    sent = api.stack.sandbox_get("sent")["sent"]
    assert any(s["private_reply"] and s["comment_id"] == comment_id for s in sent)
    second = api.ok("POST", f"/conversations/{conversation_id}/messages", 201,
                    json={"message": {"text": "Another private one"}, "reply_type": "private"})
    assert second[0]["status"] == "refused" and "already" in second[0]["reason"]


def test_comment_reply_validation(api: Api) -> None:
    conversation_id, _ = api.comment()
    path = f"/conversations/{conversation_id}/messages"
    for body, field in [
        ({"message": {"text": "hi"}}, "reply_type"),
        ({"message": {"text": "hi", "attachments": [{"type": "image", "url": "https://a.io/a.png"}]},
          "reply_type": "comment"}, "message"),
        ({"message": {"text": "hi"}, "reply_type": "private", "comment_id": "nope"}, "comment_id"),
    ]:
        response = api.post(path, json=body)
        assert response.status_code == 422 and error_of(response)["field"] == field, (body, response.text)


def test_assign_close_reopen(api: Api) -> None:
    conversation_id = api.dm()
    path = f"/conversations/{conversation_id}/assign"
    agent_id = api.user_ids["agent"]
    assert api.ok("POST", path, json={"assignee": agent_id})["assignee_id"] == agent_id
    assert api.ok("POST", path, json={"assignee": None})["assignee_id"] is None
    assert api.ok("POST", f"/conversations/{conversation_id}/close", as_="agent")["status"] == "closed"
    assert api.conversation(conversation_id).status == "closed"
    assert api.ok("POST", f"/conversations/{conversation_id}/reopen")["status"] == "open"
    for body in ({"assignee": 9999}, {"assignee": "agent"}, {}):
        response = api.post(path, json=body)
        assert response.status_code == 422 and error_of(response)["field"] == "assignee", body
    for missing in ("/conversations/999/close", "/conversations/999/reopen"):
        assert api.post(missing).status_code == 404
    assert api.post("/conversations/999/assign", json={"assignee": None}).status_code == 404


def test_tags(api: Api) -> None:
    conversation_id = api.dm()
    tags = api.ok("POST", f"/conversations/{conversation_id}/tags", as_="agent", json={"tag": " VIP "})
    assert tags == {"tags": ["Facebook Messenger", "VIP"]}
    assert api.ok("GET", f"/conversations/{conversation_id}")["tags"] == ["Facebook Messenger", "VIP"]
    assert api.ok("DELETE", f"/conversations/{conversation_id}/tags/VIP") == {"tags": ["Facebook Messenger"]}
    for body, field in [({"tag": ""}, "tag"), ({"tag": "x" * 150}, "tag"), ({"tag": 3}, "tag"), ({}, "tag")]:
        response = api.post(f"/conversations/{conversation_id}/tags", json=body)
        assert response.status_code == 422 and error_of(response)["field"] == field, body
    assert api.post("/conversations/999/tags", json={"tag": "VIP"}).status_code == 404


def test_pause_and_resume_the_bot(api: Api) -> None:
    conversation_id = api.dm("Hi")
    paused = api.ok("POST", f"/conversations/{conversation_id}/bot/pause", json={"minutes": 30}, as_="agent")
    assert paused["bot_paused_until"] is not None
    response = api.post(f"/conversations/{conversation_id}/bot/pause", json={"minutes": 0})
    assert response.status_code == 422 and error_of(response)["field"] == "minutes"
    resumed = api.ok("POST", f"/conversations/{conversation_id}/bot/resume", as_="agent")
    assert resumed["bot_paused_until"] is None
