"""bot.meta.signature: X-Hub-Signature-256 and the hub.challenge handshake (meta-platform.md §1)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.meta.signature import StreamingVerifier, answer_challenge, header_digest, sign, verify_signature
from tests.bot.meta import payloads as p

SECRET = "0123456789abcdef0123456789abcdef"


def test_sign_is_hmac_sha256_of_the_exact_bytes_in_lowercase_hex() -> None:
    body = b'{"object":"page","entry":[]}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == f"sha256={expected}"
    assert expected == expected.lower()


def test_a_known_vector() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert sign(b"what do ya want for nothing?", "Jefe") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_valid_signature_verifies() -> None:
    body = p.encode(p.messenger_message(p.PAGE_ID, p.PSID, "m_1", text="hi"))
    assert verify_signature(body, sign(body, SECRET), SECRET)


def test_escaped_unicode_body_is_signed_as_sent_not_re_serialised() -> None:
    body = p.encode(p.messenger_message(p.PAGE_ID, p.PSID, "m_1", text="Grüße 😀"))
    assert b"\\u00fc" in body
    assert b"\\ud83d\\ude00" in body
    header = sign(body, SECRET)
    assert verify_signature(body, header, SECRET)
    # The same JSON written with raw UTF-8 is different bytes: it must not verify.
    unescaped = body.decode("unicode_escape").encode("utf-16", "surrogatepass").decode("utf-16").encode()
    assert unescaped != body
    assert not verify_signature(unescaped, header, SECRET)


def test_uppercase_hex_and_algorithm_name_are_accepted() -> None:
    body = b"{}"
    digest = sign(body, SECRET).removeprefix("sha256=")
    assert verify_signature(body, f"sha256={digest.upper()}", SECRET)
    assert verify_signature(body, f"SHA256={digest}", SECRET)
    assert verify_signature(body, f"  sha256={digest} ", SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256",
        "sha1=0123456789abcdef0123456789abcdef01234567",
        "sha256=zz" + "0" * 62,
        "sha256=" + "0" * 63,
        "sha256=" + "0" * 65,
        "sha256=" + "é" * 64,
        "sha256=" + "0" * 64,
    ],
)
def test_missing_or_malformed_or_wrong_header_is_refused(header: str | None) -> None:
    assert verify_signature(b"{}", header, SECRET) is False


def test_wrong_secret_or_changed_body_is_refused() -> None:
    body = b'{"object":"page"}'
    header = sign(body, SECRET)
    assert not verify_signature(body, header, "another secret")
    assert not verify_signature(body + b" ", header, SECRET)


def test_empty_secret_never_verifies() -> None:
    assert not verify_signature(b"{}", sign(b"{}", ""), "")


@pytest.mark.parametrize("cuts", [[], [0], [5], [0, 5], [3, 7, 20], [1, 2, 3, 4]])
def test_streaming_verifier_agrees_however_the_body_is_cut(cuts: list[int]) -> None:
    """One chunk (the one-shot digest) or several (the HMAC fed per chunk), empty ones included:
    the same answer as `verify_signature`."""
    body = p.encode(p.messenger_message("1", "2", "m_cut", text="cut anywhere"))
    chunks = [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    for secret, signed_with, expected in ((SECRET, SECRET, True), ("another-secret", SECRET, False), ("", "", False)):
        digest = header_digest(sign(body, signed_with))
        assert digest is not None
        verifier = StreamingVerifier(secret, digest)
        for chunk in chunks:
            verifier.update(chunk)
        assert verifier.matches() is expected, (secret, chunks)


def test_challenge_is_returned_exactly_as_received() -> None:
    assert answer_challenge("subscribe", "my-token", "1158201444", "my-token") == "1158201444"
    assert answer_challenge("subscribe", "my-token", "00042", "my-token") == "00042"


@pytest.mark.parametrize(
    ("mode", "token", "challenge", "expected"),
    [
        ("subscribe", "wrong", "1", "my-token"),
        ("unsubscribe", "my-token", "1", "my-token"),
        (None, "my-token", "1", "my-token"),
        ("subscribe", None, "1", "my-token"),
        ("subscribe", "my-token", None, "my-token"),
        ("subscribe", "", "1", ""),
        ("subscribe", "my-tökén", "1", "my-token"),
    ],
)
def test_challenge_refused(mode: str | None, token: str | None, challenge: str | None, expected: str) -> None:
    assert answer_challenge(mode, token, challenge, expected) is None


def test_challenge_with_non_ascii_token() -> None:
    assert answer_challenge("subscribe", "tökén", "7", "tökén") == "7"
