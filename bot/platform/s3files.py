"""The S3-compatible file store (AWS S3, MinIO, Ceph, R2, ...): the `FileStore` interface over
plain HTTP with AWS Signature Version 4 written out here, so no AWS SDK is needed.

A file is spooled and counted in a local temporary directory exactly as the local store does
(the size limit holds before anything is uploaded), then `put` sends it in one signed PUT with
its SHA-256 as `x-amz-content-sha256` (the service checks the body against it). Objects are
addressed path-style (`<url>/<bucket>/<key>`), which every S3-compatible service accepts.
`open` streams the object into a spooled temporary file (memory up to 1 MiB, then disk), so a
25 MB attachment never sits in memory. The secret key is only used to sign; it is never sent,
logged or put in an error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlparse

import httpx

from bot.platform.files import CHUNK, Spooled, new_key, read_chunks, spool_into, valid_key

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
IN_MEMORY = 1024 * 1024
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class S3Error(Exception):
    """The storage service refused or failed a call: the status and S3's error code only."""


def sign(method: str, url: str, headers: Mapping[str, str], payload_sha256: str, *, access_key: str,
         secret_key: str, region: str, now: dt.datetime) -> dict[str, str]:
    """The headers to add to a request so S3 accepts it (SigV4, service `s3`): `x-amz-date`,
    `x-amz-content-sha256` and `Authorization`. Every header given is signed, with `host`."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    parts = urlparse(url)
    signed = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed.update({"host": parts.netloc, "x-amz-date": stamp, "x-amz-content-sha256": payload_sha256})
    names = ";".join(sorted(signed))
    canonical = "\n".join([method, quote(parts.path or "/", safe="/-_.~"), _canonical_query(parts.query),
                           "".join(f"{k}:{signed[k]}\n" for k in sorted(signed)), names, payload_sha256])
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(_signing_key(secret_key, stamp[:8], region), to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
    return {"x-amz-date": stamp, "x-amz-content-sha256": payload_sha256, "Authorization": authorization}


def _canonical_query(query: str) -> str:
    """Query parameters sorted by name, each name and value URI-encoded (empty values kept)."""
    pairs = [(quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
             for k, _, v in (p.partition("=") for p in query.split("&") if p)]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _signing_key(secret_key: str, day: str, region: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class S3FileStore:
    """Files as objects of one bucket; `spool_dir` holds uploads while they are counted."""

    def __init__(self, url: str, bucket: str, access_key: str, secret_key: str, region: str,
                 spool_dir: Path, http: httpx.Client | None = None) -> None:
        self.base = f"{url.rstrip('/')}/{quote(bucket, safe='')}"
        self.access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self.spool_dir = spool_dir
        self.http = http or httpx.Client(timeout=TIMEOUT)

    def __repr__(self) -> str:
        return f"S3FileStore({self.base!r}, region={self.region!r})"  # never the keys

    def close(self) -> None:
        """Release the HTTP connections (the runtime does when settings change)."""
        self.http.close()

    def spool(self, chunks: Iterable[bytes], limit: int) -> Spooled:
        return spool_into(self.spool_dir, chunks, limit)

    def put(self, spooled: Spooled) -> str:
        """Upload the counted file under a new key; the local copy goes either way."""
        key = new_key()
        try:
            with spooled.path.open("rb") as body:
                self._call("PUT", key, file_sha256(spooled.path), body,
                           {"content-length": str(spooled.size)})
        finally:
            self.discard(spooled)
        return key

    def discard(self, spooled: Spooled) -> None:
        spooled.path.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        """The object, read into a temporary file; FileNotFoundError when there is none."""
        if not valid_key(key):
            raise FileNotFoundError(key)
        url = f"{self.base}/{key}"
        copy = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 -- returned open
        try:
            with self.http.stream("GET", url, headers=self._signed("GET", url, EMPTY_SHA256, {})) as response:
                _check(response, key)
                for chunk in response.iter_bytes(CHUNK):
                    copy.write(chunk)
        except BaseException:
            copy.close()
            raise
        copy.seek(0)
        return copy  # type: ignore[return-value]  # a file object in all but name

    def delete(self, key: str) -> None:
        """Deleting a key that is not there is no error (as with the local store)."""
        if valid_key(key):
            self._call("DELETE", key, EMPTY_SHA256, None, {})

    def _call(self, method: str, key: str, payload_sha256: str, body: BinaryIO | None,
              headers: dict[str, str]) -> httpx.Response:
        url = f"{self.base}/{key}"
        signed = {**headers, **self._signed(method, url, payload_sha256, headers)}
        content = read_chunks(body) if body is not None else None  # streamed, never read whole
        response = self.http.request(method, url, content=content, headers=signed)
        _check(response, key, reading=False)
        return response

    def _signed(self, method: str, url: str, payload_sha256: str, headers: Mapping[str, str]) -> dict[str, str]:
        return sign(method, url, headers, payload_sha256, access_key=self.access_key, secret_key=self._secret_key,
                    region=self.region, now=dt.datetime.now(dt.UTC))


def _check(response: httpx.Response, key: str, *, reading: bool = True) -> None:
    """A missing object is FileNotFoundError (as a missing local file); any other refusal (a 404
    on a write: no such bucket) is an S3Error naming the status and S3's code, never a header."""
    if reading and response.status_code == 404:
        raise FileNotFoundError(key)
    if response.status_code >= 300:
        response.read()
        code = response.text.partition("<Code>")[2].partition("</Code>")[0] or "no error code"
        raise S3Error(f"the file store answered {response.status_code} ({code[:80]})")
