"""Meta's Attachment Upload API with a file (`POST /{page-id}/message_attachments`, multipart).

Meta's documented form (meta-platform.md §5): a `message` field holding
`{"attachment": {"type": ..., "payload": {"is_reusable": true}}}` as JSON and the bytes as a
`filedata` part (`filedata=@shirt.png;type=image/png`); the answer is `{"attachment_id": ...}`,
reusable for 90 days. Limits: 25 MB per file (too large: code 100, subcode 2018109); Instagram
images PNG or JPEG up to 8 MB. A file whose bytes are not of the declared type is refused with
100/2018047 "Upload attachment failure" (the subcode Meta gives when the media type does not
match the file; the exact refusal for each wrong type is *unconfirmed*).

The bytes are kept in memory (the sandbox is a test double) and served back at
`/control/uploads/{id}`, standing in for Meta's CDN URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from sandbox.graph_rules import MEDIA_TYPES, GraphFault, invalid_param

MB = 1024 * 1024
MAX_FILE = 25 * MB
INSTAGRAM_IMAGE_MAX = 8 * MB
MAX_BODY = MAX_FILE + MB  # a file just past the limit must arrive to be refused as Meta does
INSTAGRAM_IMAGE_TYPES = ("image/png", "image/jpeg")


@dataclass
class FilePart:
    """The `filedata` part of an upload."""

    filename: str
    content_type: str
    data: bytes


def read_form(body: bytes, content_type: str) -> dict[str, Any]:
    """A multipart/form-data body as parameters: text fields as strings, file parts as FilePart."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise invalid_param("the multipart body could not be read")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            params[name] = data.decode("utf-8", "replace")
        else:
            params[name] = FilePart(filename, part.get_content_type(), data)
    return params


def described(value: Any) -> Any:
    """A parameter as the attempts log keeps it: a file by its name, type and size, not its bytes."""
    if isinstance(value, FilePart):
        return {"filename": value.filename, "content_type": value.content_type, "size": len(value.data)}
    return value


def too_large(detail: str) -> GraphFault:
    return GraphFault(100, f"(#100) Attachment size exceeds allowable limit (sandbox: {detail})", subcode=2018109)


def upload_failure(detail: str) -> GraphFault:
    return GraphFault(100, f"(#100) Upload attachment failure. (sandbox: {detail})", subcode=2018047)


def check_file(kind: str, part: FilePart, *, instagram: bool) -> str:
    """Meta's checks of an uploaded file; answers the content type its bytes have."""
    if kind not in MEDIA_TYPES:
        raise invalid_param("param message[attachment][type] must be one of {image, video, audio, file}")
    if not part.data:
        raise upload_failure("the file is empty")
    if len(part.data) > MAX_FILE:
        raise too_large(f"{len(part.data)} bytes, at most 25 MB")
    actual = _content_type(part.data)
    if kind != "file" and not actual.startswith(kind + "/"):
        raise upload_failure(f"the bytes are {actual}, not a {kind}")
    if instagram and kind == "image":
        if actual not in INSTAGRAM_IMAGE_TYPES:
            raise upload_failure("Instagram takes PNG or JPEG images")
        if len(part.data) > INSTAGRAM_IMAGE_MAX:
            raise too_large("Instagram images are at most 8 MB")
    return actual


def _content_type(data: bytes) -> str:
    """What the first bytes are (the formats Meta sends); application/octet-stream otherwise."""
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF8", "image/gif"),
        (b"ID3", "audio/mpeg"),
        (b"OggS", "audio/ogg"),
        (b"%PDF-", "application/pdf"),
    )
    for magic, content_type in signatures:
        if data.startswith(magic):
            return content_type
    if data[4:8] == b"ftyp":
        return "audio/mp4" if data[8:12] in (b"M4A ", b"M4B ") else "video/mp4"
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return "audio/wav"
    return "application/octet-stream"
