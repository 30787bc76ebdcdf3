"""Page access tokens at rest: encrypted with a key derived from SOCIALDESK_SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`; a token read back with the wrong key
fails loudly instead of sending garbage to Meta.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from bot.core.errors import ConfigError


class Vault:
    """Encrypts and decrypts secrets with one installation key."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(("socialdesk-vault:" + secret_key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ConfigError("SOCIALDESK_SECRET_KEY", "cannot decrypt stored page tokens: wrong key") from None
