"""`/api/v1/files` (issue 20, problem 9): a file from staff's computer is kept by socialdesk,
uploaded to the page once through Meta's Attachment Upload API (the sandbox emulates it over real
HTTP) and sent by its reusable attachment id; wrong, dangerous or too large files are refused
with the reason; downloads can never render in the browser."""

from __future__ import annotations

import pytest

from bot.platform.db import connection
from bot.platform.models import Message, MetaUpload
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


def upload(api: Api, body: bytes, name: str, **params: str) -> dict:
    return api.ok("POST", "/files", 201, params={"name": name, **params}, content=body,
                  headers={"Content-Type": "application/octet-stream"}, as_="agent")


def test_uploaded_file_goes_through_metas_attachment_upload_once(api: Api) -> None:
    conversation = api.dm("Can I see the blue one?")
    file = upload(api, PNG, "../blue boots.png")
    assert (file["type"], file["content_type"], file["size"], file["name"]) == ("image", "image/png", len(PNG),
                                                                                 "blue boots.png")
    attachment = {"type": "image", "file_id": file["id"]}
    for text in ("Here it is", "And again"):
        rows = api.ok("POST", f"/conversations/{conversation}/messages", 201, as_="agent",
                      json={"message": {"text": text, "attachments": [attachment]}})
        api.stack.wait(lambda r=rows: Message.get_or_none((Message.id == r[-1]["id"]) & (Message.status == "sent")),
                       what="the image sent")
    attempts = api.stack.sandbox_get("attempts")["attempts"]
    uploads = [a for a in attempts if a["path"].endswith("/message_attachments")]
    assert len(uploads) == 1 and uploads[0]["status"] == 200  # reused for the second send
    assert uploads[0]["body"]["filedata"] == {"filename": "blue boots.png", "content_type": "image/png",
                                              "size": len(PNG)}
    with connection():
        attachment_id = MetaUpload.get().attachment_id
    sent = [s for s in api.stack.sandbox_get("sent")["sent"] if "attachment" in s["body"]["message"]]
    assert [s["body"]["message"]["attachment"]["payload"] for s in sent] == [{"attachment_id": attachment_id}] * 2
    # The sandbox serves the bytes Meta received, as its CDN would.
    phone = api.stack.sandbox_get("phone", account_id=api.stack.page["page_id"], user_id=sent[0]["recipient_id"])
    image_url = next(m["url"] for bubble in phone["chat"] for m in bubble["media"])
    assert api.stack.http.get(image_url).content == PNG

    download = api.call("GET", f"/files/{file['id']}", as_="agent")
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''blue%20boots.png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]
    assert api.call("GET", f"/files/{file['id']}", as_=None).status_code == 401


def test_files_are_judged_by_their_bytes_and_bounded(api: Api) -> None:
    page = b"<!DOCTYPE html><script>alert(1)</script>"
    for body, name, params, words in [
        (page, "photo.jpg", {}, "web page"),
        (b"MZ\x90\x00" + bytes(100), "invoice.pdf", {}, "Windows program"),
        (PNG, "boots.png", {"type": "video"}, "not a video"),
        (b"", "empty.txt", {}, "empty"),
        (bytes(26 * 1024 * 1024), "huge.bin", {}, "25 MB"),
    ]:
        response = api.call("POST", "/files", params={"name": name, **params}, content=body, as_="agent")
        assert response.status_code == 422, (name, response.text)
        assert words in error_of(response)["message"], (name, response.text)
    notes = upload(api, "Größen: 38, 39\n".encode(), "sizes.txt")
    assert (notes["type"], notes["content_type"]) == ("file", "text/plain")
    download = api.call("GET", f"/files/{notes['id']}", as_="agent")
    assert download.headers["content-type"] == "text/plain; charset=utf-8"
    # Nothing of the refused files stayed on disk: only the one text file.
    assert [p.name for p in _files_dir(api).iterdir()] == [notes["id"]]
    assert api.call("GET", "/files/" + "A" * 32, as_="agent").status_code == 404
    conversation = api.dm("Hi on Instagram", instagram=True)
    gif = upload(api, b"GIF89a" + bytes(50), "wave.gif")
    refused = api.call("POST", f"/conversations/{conversation}/messages", as_="agent",
                       json={"message": {"attachments": [{"type": "image", "file_id": gif["id"]}]}})
    assert refused.status_code == 422 and "PNG or JPEG" in error_of(refused)["message"]


def _files_dir(api: Api):  # noqa: ANN202 - a Path
    from pathlib import Path

    return Path(api.stack.settings.files_dir)
