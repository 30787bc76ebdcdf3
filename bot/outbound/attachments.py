"""Files staff attach: received and kept by socialdesk, then uploaded to each page through Meta's
Attachment Upload API (`POST /{page-id}/message_attachments`, meta-platform.md §5) once, and sent
by the reusable `attachment_id` Meta answered.

Why upload rather than send a URL: Meta would have to fetch the file from us, so the
installation would need a public address and Meta would fetch it again for every send. An
uploaded file is Meta's for 90 days; we upload again before that (`REUPLOAD_AFTER_MS`).

What a file is, is decided by its bytes, not by its name or the browser's word: the first bytes
are matched against the formats Meta sends (`sniff`), and a file whose bytes say something else
(an HTML page named photo.jpg, a program) is refused with the reason. Sizes are bounded while
the file streams in (`bot.platform.files`), before it costs memory.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import msgspec

from bot.core.compose import MediaAttachment, MessageContent
from bot.core.errors import Invalid, NotFound, Refused
from bot.platform import runtime
from bot.platform.db import now_ms
from bot.platform.files import Spooled, TooLarge, valid_key
from bot.platform.models import Channel, MetaUpload, StoredFile
from bot.platform.registry import page_token

MB = 1024 * 1024
DAY_MS = 86_400_000
REUPLOAD_AFTER_MS = 80 * DAY_MS  # Meta keeps an attachment id 90 days (§5): renew it before
INSTAGRAM_IMAGE_MAX = 8 * MB  # §5: Instagram images png/jpeg up to 8 MB
INSTAGRAM_IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})


class FileView(msgspec.Struct):
    """A stored file as staff and the API see it (never its path)."""

    id: str
    name: str
    content_type: str
    type: str  # image | video | audio | file: how it is sent
    size: int
    created_at: int


@dataclass(frozen=True)
class Kind:
    content_type: str
    media_type: str


# Markup and programs: a browser or a computer would run them. Refused whatever they are named.
_REFUSED = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"#!", "a script"),
)
_MARKUP = (b"<!doctype", b"<html", b"<svg", b"<script", b"<?xml", b"<body", b"<head", b"<iframe")


def sniff(head: bytes) -> Kind:
    """What the first bytes say the file is, among what Meta sends; Invalid for anything else."""
    for magic, words in _REFUSED:
        if head.startswith(magic):
            raise Invalid("file", f"this is {words}: such files are not sent to customers")
    found = _media_kind(head) or _document_kind(head)
    if found is None:
        raise Invalid("file", "socialdesk cannot tell what this file is from its content: send an image "
                              "(JPEG, PNG, GIF), a video (MP4), audio (MP3, M4A, OGG, WAV), a PDF, an office "
                              "document or plain text")
    return found


def _media_kind(head: bytes) -> Kind | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind("image/png", "image")
    if head.startswith(b"\xff\xd8\xff"):
        return Kind("image/jpeg", "image")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return Kind("image/gif", "image")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return Kind("audio/mp4", "audio")
        return Kind("video/quicktime" if brand == b"qt  " else "video/mp4", "video")
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return Kind("audio/mpeg", "audio")
    if head.startswith(b"OggS"):
        return Kind("audio/ogg", "audio")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Kind("audio/wav", "audio")
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return Kind("audio/aac", "audio")
    return None


def _document_kind(head: bytes) -> Kind | None:
    if head.startswith(b"%PDF-"):
        return Kind("application/pdf", "file")
    if head.startswith(b"PK\x03\x04"):  # zip, and the office formats built on it (docx, xlsx, pptx)
        return Kind("application/zip", "file")
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # older office documents (doc, xls)
        return Kind("application/octet-stream", "file")
    return _text_kind(head)


def _text_kind(head: bytes) -> Kind | None:
    """Plain text (a CSV, a note): UTF-8 without control bytes, and not markup a browser renders."""
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the 512th byte
            return None
        text = head[: exc.start].decode("utf-8")
    if head.lstrip().lower().startswith(_MARKUP) or b"<script" in head.lower():
        raise Invalid("file", "this is a web page (HTML/SVG): such files are not sent to customers")
    if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n\f" for c in text):
        return None
    return Kind("text/plain", "file")


def store_file(chunks: Iterable[bytes], name: str, user_id: int | None, declared_type: str | None = None
               ) -> FileView:
    """Keep a file staff sent: stream it in under the size limit, check what its bytes are (and
    that they match `declared_type` when one was chosen), and record it."""
    files = runtime.files()
    limit = runtime.settings().upload_max_mib * MB
    digest = hashlib.sha256()
    try:
        spooled = files.spool(_hashing(chunks, digest), limit)
    except TooLarge as exc:
        raise Invalid("file", f"the file is {exc}: Meta takes files up to {limit // MB} MB") from None
    try:
        kind = _checked(spooled, declared_type)
    except Invalid:
        files.discard(spooled)
        raise
    row = StoredFile.create(key=files.put(spooled), name=_clean_name(name), content_type=kind.content_type,
                            media_type=kind.media_type, size=spooled.size, sha256=digest.hexdigest(),
                            uploaded_by=user_id, created_at=now_ms())
    return view(row)


def _hashing(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterable[bytes]:
    """Pass the chunks on, hashing them on the way (the file is read once)."""
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _checked(spooled: Spooled, declared_type: str | None) -> Kind:
    if spooled.size == 0:
        raise Invalid("file", "the file is empty")
    kind = sniff(spooled.head)
    if declared_type and declared_type != kind.media_type:
        raise Invalid("type", f"the file's content is {kind.content_type}, not a {declared_type}: "
                              f"send it as a {kind.media_type}")
    return kind


def _clean_name(name: str) -> str:
    """The name staff see: no path, no control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return cleaned[:255] or "file"


def view(row: StoredFile) -> FileView:
    return FileView(id=row.key, name=row.name, content_type=row.content_type, type=row.media_type,
                    size=row.size, created_at=row.created_at)


def stored(file_id: str) -> StoredFile:
    row = StoredFile.get_or_none(StoredFile.key == file_id) if valid_key(file_id) else None
    if row is None:
        raise NotFound("file", file_id)
    return row


def open_file(file_id: str) -> tuple[FileView, BinaryIO]:
    """The file's facts and its bytes (the caller closes the stream)."""
    row = stored(file_id)
    return view(row), runtime.files().open(row.key)


def check_for_channel(content: MessageContent, channel: Channel, field: str = "attachments") -> None:
    """Stored files this channel cannot take, refused before anything is queued: a file that does
    not exist, a type that does not match, Instagram's images (PNG/JPEG up to 8 MB, §5)."""
    for index, attachment in enumerate(content.attachments):
        if attachment.file_id is None:
            continue
        row = stored(attachment.file_id)
        where = f"{field}[{index}]"
        if attachment.type != row.media_type:
            raise Invalid(f"{where}.type", f"the file is a {row.media_type}, not a {attachment.type}")
        if channel.platform == "instagram" and row.media_type == "image":
            if row.content_type not in INSTAGRAM_IMAGE_TYPES:
                raise Invalid(where, "Instagram takes PNG or JPEG images only")
            if row.size > INSTAGRAM_IMAGE_MAX:
                raise Invalid(where, "Instagram takes images up to 8 MB")


def with_meta_ids(content: MessageContent, channel: Channel) -> MessageContent:
    """`content` with each stored file replaced by the page's attachment id (uploaded now when
    the page has none, or one near its 90 days). A GraphError from the upload propagates: the
    sender records it like any failed send."""
    if not any(a.file_id and not a.attachment_id for a in content.attachments):
        return content
    attachments = tuple(_uploaded(a, channel) if a.file_id and not a.attachment_id else a
                        for a in content.attachments)
    return msgspec.structs.replace(content, attachments=attachments)


def _uploaded(attachment: MediaAttachment, channel: Channel) -> MediaAttachment:
    try:
        row = stored(attachment.file_id or "")
    except NotFound:
        raise Refused(f"the attached file {attachment.name or attachment.file_id} is no longer stored") from None
    known = MetaUpload.get_or_none((MetaUpload.file == row) & (MetaUpload.channel == channel))
    if known is None or known.uploaded_at < now_ms() - REUPLOAD_AFTER_MS:
        attachment_id = _upload(row, channel)
        MetaUpload.insert(file=row, channel=channel, attachment_id=attachment_id, uploaded_at=now_ms()
                          ).on_conflict(conflict_target=[MetaUpload.file, MetaUpload.channel],
                                        preserve=[MetaUpload.attachment_id, MetaUpload.uploaded_at]).execute()
    else:
        attachment_id = known.attachment_id
    return MediaAttachment(type=attachment.type, attachment_id=attachment_id)


def _upload(row: StoredFile, channel: Channel) -> str:
    try:
        stream = runtime.files().open(row.key)
    except FileNotFoundError:
        raise Refused(f"the attached file {row.name} is no longer stored") from None
    with stream:
        return runtime.graph().upload_file(channel.page_id, page_token(channel), row.media_type, stream,
                                           filename=row.name, content_type=row.content_type,
                                           platform=channel.platform)

