"""The sandbox (issue 20): Meta's Attachment Upload API with a file (multipart `filedata`) and its
refusals, and the person's phone: the chat with buttons, cards, attachments and quick replies,
and the comment threads with replies under their comment."""

from __future__ import annotations

import json

import httpx

from tests.sandbox import harness
from tests.sandbox.harness import VERSION, Sandbox, World, comment, dm, error_of

receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
MB = 1024 * 1024


def upload(sandbox: Sandbox, world: World, account: str, kind: str, data: bytes, name: str = "f.png",
           content_type: str = "image/png") -> httpx.Response:
    message = {"attachment": {"type": kind, "payload": {"is_reusable": True}}}
    form = {"message": json.dumps(message)}
    if account == world.ig_id:
        form["platform"] = "instagram"
    return sandbox.http.post(f"/graph/{VERSION}/{world.page_id}/message_attachments",
                             params={"access_token": world.token}, data=form,
                             files={"filedata": (name, data, content_type)})


def test_file_upload_is_checked_like_meta_and_sent_by_id(sandbox: Sandbox, world: World) -> None:
    answer = upload(sandbox, world, world.page_id, "image", PNG)
    assert answer.status_code == 200, answer.text
    attachment_id = answer.json()["attachment_id"]
    dm(sandbox, world.page_id, world.psid)
    by_id = {"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}}
    sent = sandbox.send(world.token, world.page_id, {"recipient": {"id": world.psid}, "message": by_id})
    assert sent.status_code == 200, sent.text
    served = sandbox.http.get(f"/control/uploads/{attachment_id}")
    assert served.content == PNG and served.headers["content-disposition"] == "attachment"
    assert served.headers["x-content-type-options"] == "nosniff"
    refusals = [
        (upload(sandbox, world, world.page_id, "image", bytes(25 * MB + 1)), 2018109),  # 25 MB per file
        (upload(sandbox, world, world.page_id, "video", PNG), 2018047),  # the bytes are an image
        (upload(sandbox, world, world.ig_id, "image", b"GIF89a" + bytes(9), "a.gif", "image/gif"), 2018047),
        (upload(sandbox, world, world.ig_id, "image", PNG + bytes(8 * MB)), 2018109),  # Instagram: 8 MB
    ]
    for response, subcode in refusals:
        assert response.status_code == 400 and error_of(response)["error_subcode"] == subcode, response.text
    attempt = sandbox.read("attempts")["attempts"][0]
    assert attempt["body"]["filedata"] == {"filename": "f.png", "content_type": "image/png", "size": len(PNG)}


def test_phone_shows_what_the_person_sees(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    buttons = {"template_type": "button", "text": "Pick one",
               "buttons": [{"type": "postback", "title": "Red", "payload": "RED"},
                           {"type": "web_url", "title": "Shop", "url": "https://shop.example.com"}]}
    for message in ({"attachment": {"type": "template", "payload": buttons}},
                    {"text": "Size?", "quick_replies": [{"content_type": "text", "title": "38", "payload": "S38"}]},
                    {"attachment": {"type": "image", "payload": {"url": "https://cdn.example.com/a.png"}}}):
        answer = sandbox.send(world.token, world.page_id, {"recipient": {"id": world.psid}, "message": message})
        assert answer.status_code == 200, answer.text
    first = comment(sandbox, world.page_id, world.post_id, world.psid)
    reply = sandbox.control("comment", account_id=world.page_id, post_id=world.post_id, parent_id=first,
                            as_account=True, text="20 EUR")["comment_id"]
    phone = sandbox.read("phone", account_id=world.page_id, user_id=world.psid)
    chat = phone["chat"]
    assert [b["from_page"] for b in chat] == [False, True, True, True] and chat[0]["text"] == "hi"
    assert chat[1]["template"]["buttons"][0] == {"type": "postback", "title": "Red", "payload": "RED"}
    assert chat[2]["quick_replies"][0]["title"] == "38"
    assert chat[3]["media"] == [{"type": "image", "url": "https://cdn.example.com/a.png", "title": None}]
    (post,) = phone["posts"]
    (thread,) = post["comments"]
    assert (thread["id"], thread["text"]) == (first, "nice")
    assert [(r["id"], r["by_page"], r["text"]) for r in thread["replies"]] == [(reply, True, "20 EUR")]
