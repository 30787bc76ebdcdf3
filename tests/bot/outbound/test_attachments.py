"""What an attached file is comes from its bytes (issue 20, problem 9): the formats Meta sends are
recognised whatever the file is called; web pages, SVG and programs are refused with the reason."""

from __future__ import annotations

import pytest

from bot.core.errors import Invalid
from bot.outbound.attachments import _clean_name, sniff


@pytest.mark.parametrize(("head", "content_type", "media_type"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg", "image"),
    (b"\x00\x00\x00\x18ftypmp42", "video/mp4", "video"),
    (b"\x00\x00\x00\x14ftypqt  ", "video/quicktime", "video"),
    (b"\x00\x00\x00\x20ftypM4A ", "audio/mp4", "audio"),
    (b"ID3\x04\x00", "audio/mpeg", "audio"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav", "audio"),
    (b"%PDF-1.7\n", "application/pdf", "file"),
    (b"PK\x03\x04\x14\x00", "application/zip", "file"),
    (b"name;size\nBoots;42\n", "text/plain", "file"),
    ("Größe 42 ".encode() + "é".encode()[:1], "text/plain", "file"),  # a character cut at the end
])
def test_known_formats(head: bytes, content_type: str, media_type: str) -> None:
    kind = sniff(head)
    assert (kind.content_type, kind.media_type) == (content_type, media_type)


@pytest.mark.parametrize(("head", "words"), [
    (b"  <!DOCTYPE html><p>hi", "web page"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='x()'>", "web page"),
    (b"Totally a photo <script>steal()</script>", "web page"),
    (b"MZ\x90\x00\x03", "Windows program"),
    (b"\x7fELF\x02\x01", "a program"),
    (b"#!/bin/sh\nrm -rf /", "a script"),
    (b"\x01\x02\x03\x04binary", "cannot tell"),
])
def test_refused_with_the_reason(head: bytes, words: str) -> None:
    with pytest.raises(Invalid, match=words) as refused:
        sniff(head)
    assert refused.value.field == "file"


def test_names_lose_paths_and_control_characters() -> None:
    assert _clean_name("C:\\Users\\ana\\..\\photo\u202e\x07gnp.exe") == "photognp.exe"
    assert _clean_name("/etc/") == "file"
    assert len(_clean_name("a" * 400)) == 255
