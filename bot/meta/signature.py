"""Who may talk to our webhook: the `X-Hub-Signature-256` check and the `hub.challenge`
handshake (meta-platform.md §1).

Both compare secrets in constant time, so response timing tells an attacker nothing about how
much of a guess was right. The signature is an HMAC-SHA256 of the exact bytes received: Meta
signs its escaped-unicode form (`ä` travels as `\\u00e4`), so a re-serialised body would not
match. The older `X-Hub-Signature: sha1=` header is ignored.
"""

from __future__ import annotations

import hashlib
import hmac

_PREFIX = "sha256="
_HEX_DIGITS = frozenset("0123456789abcdef")
_HEX_LENGTH = hashlib.sha256().digest_size * 2


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body`: "sha256=<lowercase hex>".

    Used by the sandbox and the tests to sign what they send exactly as Meta does.
    """
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """True when `header` is a valid `X-Hub-Signature-256` of the raw `body` under `secret`.

    A missing or malformed header is simply False (the caller answers 403). The algorithm
    name and hex digits are accepted in any case. An empty secret never verifies: an
    unconfigured app must not accept bodies "signed" with the empty key.
    """
    digest = header_digest(header)
    if digest is None or not secret:
        return False
    expected = hmac.digest(secret.encode(), body, "sha256").hex()  # one-shot: no HMAC object per request
    return hmac.compare_digest(expected, digest)


def header_digest(header: str | None) -> str | None:
    """The lowercase hex digest of a well-formed `X-Hub-Signature-256` value, or None. Checked
    from the header alone, so a request without a plausible signature is refused before a byte
    of its body is read."""
    if not header:
        return None
    scheme, _, digest = header.strip().partition("=")
    digest = digest.lower()
    if scheme.lower() != "sha256" or len(digest) != _HEX_LENGTH or not _HEX_DIGITS.issuperset(digest):
        return None
    return digest


class StreamingVerifier:
    """The same check as `verify_signature`, fed chunk by chunk as the body arrives, so the
    HMAC costs no second pass over a body of several megabytes.

    Most deliveries arrive in one chunk: the first is held until a second comes, so a one-chunk
    body gets the one-shot digest (no HMAC object per request, as in `verify_signature`)."""

    def __init__(self, secret: str, digest: str) -> None:
        self._key = secret.encode()
        self._digest = digest
        self._first = b""
        self._mac: hmac.HMAC | None = None

    def update(self, chunk: bytes) -> None:
        if self._mac is not None:
            self._mac.update(chunk)
        elif not self._first:
            self._first = chunk
        else:
            self._mac = hmac.new(self._key, self._first, hashlib.sha256)
            self._mac.update(chunk)

    def matches(self) -> bool:
        if not self._key:  # an empty secret never verifies (see verify_signature)
            return False
        mac = self._mac.digest() if self._mac is not None else hmac.digest(self._key, self._first, "sha256")
        return hmac.compare_digest(mac.hex(), self._digest)


def answer_challenge(
    mode: str | None, token: str | None, challenge: str | None, expected_token: str
) -> str | None:
    """The body to answer Meta's verification GET with, or None for 403 (§1).

    The challenge goes back exactly as received (never parsed as a number) when `hub.mode` is
    "subscribe" and `hub.verify_token` equals our token. An empty expected token never matches.
    """
    if mode != "subscribe" or token is None or challenge is None or not expected_token:
        return None
    if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), expected_token.encode()):
        return None
    return challenge
