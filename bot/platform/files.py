"""Where the files staff attach are kept: one small interface, a local-directory backend.

A file arrives as a stream; it is written to a temporary file in the store's own directory
while it is counted, so a file beyond the limit is refused after at most `limit + 1` bytes
were read and never costs more memory than one chunk. Only then is it moved under its key
(an atomic rename, so a reader never sees half a file).

Keys are ours (random, `[A-Za-z0-9_-]`); a key read back from a request is checked against that
alphabet before it becomes a path, so no key can name a file outside the directory.

The S3-compatible backend (`bot.platform.s3files`, chosen by `SOCIALDESK_FILES_S3_URL`) spools
the same way into a local directory, then `put` uploads the file; `open` streams it back.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 64 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class TooLarge(Exception):
    """The stream went past the limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit // (1024 * 1024)} MB")
        self.limit = limit


class Spooled:
    """A file received and counted, waiting in the store's directory to be kept or dropped."""

    def __init__(self, path: Path, size: int, head: bytes) -> None:
        self.path = path
        self.size = size
        self.head = head  # the first bytes, for sniffing what the file really is


class FileStore(Protocol):
    def spool(self, chunks: Iterable[bytes], limit: int) -> Spooled: ...

    def put(self, spooled: Spooled) -> str: ...

    def discard(self, spooled: Spooled) -> None: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...


def new_key() -> str:
    return secrets.token_urlsafe(24)


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key))


class LocalFileStore:
    """Files in one directory on this machine (the default; one machine, or a shared mount)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def spool(self, chunks: Iterable[bytes], limit: int) -> Spooled:
        return spool_into(self.root, chunks, limit)

    def put(self, spooled: Spooled) -> str:
        key = new_key()
        os.replace(spooled.path, self._path(key))
        return key

    def discard(self, spooled: Spooled) -> None:
        spooled.path.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        if not valid_key(key):
            raise FileNotFoundError(key)
        return self.root / key


def spool_into(directory: Path, chunks: Iterable[bytes], limit: int) -> Spooled:
    """Copy the stream to a temporary file in `directory`, stopping as soon as it passes `limit`
    bytes (every backend counts a file here before keeping it)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".incoming-")
    size, head = 0, b""
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Spooled(Path(name), size, head)


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterable[bytes]:
    """A binary file object as chunks (what `spool` takes)."""
    while chunk := stream.read(size):
        yield chunk
