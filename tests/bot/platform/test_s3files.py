"""The S3-compatible file store: SigV4 signatures equal to AWS's published example and to the
AWS SDK's (botocore 1.44, computed once and recorded here: the SDK is not a dependency), the
store's calls against an in-memory bucket that checks every request's signature and body hash,
and the settings that choose it.

Not run against a real S3 server: moto's server mode (the usual stand-in) cannot be a dev
dependency while the runtime lock pins python-dateutil 4 (botocore and moto require < 3)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import httpx
import pytest

from bot.core.errors import ConfigError
from bot.platform.files import TooLarge
from bot.platform.runtime import file_store
from bot.platform.s3files import EMPTY_SHA256, S3Error, S3FileStore, sign
from bot.platform.settings import load_settings

EXAMPLE_KEYS = {"access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
SDK_KEYS = {"access_key": "AK", "secret_key": "SK/x+y"}


def at(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(("method", "url", "headers", "keys", "region", "stamp", "signature"), [
    # AWS S3 docs, "Signature Calculations for the Authorization Header", GET Object example.
    ("GET", "https://examplebucket.s3.amazonaws.com/test.txt", {"Range": "bytes=0-9"}, EXAMPLE_KEYS, "us-east-1",
     "20130524T000000Z", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    # botocore's S3SigV4Auth: a path-style PUT on a port, and a query with an encoded value.
    ("PUT", "http://127.0.0.1:5977/my-bucket/abcDEF_-1234567890xyz", {"content-length": "5"}, SDK_KEYS,
     "eu-west-1", "20261202T075539Z", "750f986988c2adc2469b62cbbd40ea064245cacfd389219c252d0e9614150a76"),
    ("GET", "https://s3.eu-west-1.amazonaws.com/b/k?list-type=2&prefix=a%2Fb", {}, SDK_KEYS, "eu-west-1",
     "20261202T075547Z", "4c3ecfca35ce864099d1c37618274c6e0162af17e87c4b7c5351b15f858c53b2"),
])
def test_signatures_equal_aws_and_its_sdk(method, url, headers, keys, region, stamp, signature) -> None:
    signed = sign(method, url, headers, EMPTY_SHA256, region=region, now=at(stamp), **keys)
    assert signed["Authorization"].endswith(f"Signature={signature}"), signed["Authorization"]
    assert signed["x-amz-date"] == stamp and keys["secret_key"] not in str(signed)


class Bucket:
    """An in-memory bucket behind httpx's MockTransport: refuses a request whose signature or
    body hash does not match what it received, as S3 does."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.calls.append(request.method)
        sent = {k: v for k, v in request.headers.items() if k == "content-length" and request.method == "PUT"}
        expected = sign(request.method, str(request.url), sent, request.headers["x-amz-content-sha256"],
                        region="eu-west-1", now=at(request.headers["x-amz-date"]), **SDK_KEYS)
        if request.headers["authorization"] != expected["Authorization"]:
            return httpx.Response(403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>")
        if request.headers["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
            return httpx.Response(400, text="<Error><Code>XAmzContentSHA256Mismatch</Code></Error>")
        bucket, _, key = request.url.path.lstrip("/").partition("/")
        if bucket != "files":
            return httpx.Response(404, text="<Error><Code>NoSuchBucket</Code></Error>")
        if request.method == "PUT":
            self.objects[key] = body
            return httpx.Response(200)
        if request.method == "DELETE":
            self.objects.pop(key, None)
            return httpx.Response(204)
        if key not in self.objects:
            return httpx.Response(404, text="<Error><Code>NoSuchKey</Code></Error>")
        return httpx.Response(200, content=self.objects[key])


def store(bucket: Bucket, tmp_path: Path, name: str = "files", secret: str = SDK_KEYS["secret_key"]) -> S3FileStore:
    return S3FileStore("http://s3.test:9000", name, "AK", secret, "eu-west-1", tmp_path,
                       http=httpx.Client(transport=httpx.MockTransport(bucket)))


def test_put_open_delete_through_signed_calls(tmp_path: Path) -> None:
    bucket = Bucket()
    files = store(bucket, tmp_path)
    data = bytes(range(256)) * 2000  # several chunks
    spooled = files.spool([data[i:i + 50_000] for i in range(0, len(data), 50_000)], 1_000_000)
    key = files.put(spooled)
    assert bucket.objects[key] == data and not spooled.path.exists()  # uploaded whole, local copy gone
    with files.open(key) as stream:
        assert stream.read() == data
    files.delete(key)
    with pytest.raises(FileNotFoundError):
        files.open(key)
    with pytest.raises(FileNotFoundError):
        files.open("../../etc/passwd")  # never a request for a key that is not ours
    assert bucket.calls == ["PUT", "GET", "DELETE", "GET"]


def test_limits_and_refusals(tmp_path: Path) -> None:
    bucket = Bucket()
    with pytest.raises(TooLarge):
        store(bucket, tmp_path).spool([b"x" * 600, b"x" * 600], 1000)
    assert bucket.calls == [] and not list(tmp_path.iterdir())  # refused before any upload
    for files, code in ((store(bucket, tmp_path, "nobucket"), "NoSuchBucket"),
                        (store(bucket, tmp_path, secret="wrong-secret"), "SignatureDoesNotMatch")):
        spooled = files.spool([b"hello"], 1000)
        with pytest.raises(S3Error, match=code) as refused:
            files.put(spooled)
        assert "secret" not in str(refused.value) and not spooled.path.exists()
    assert "wrong-secret" not in repr(store(bucket, tmp_path, secret="wrong-secret"))


BASE_ENV = {"DATABASE_URL": "sqlite:///x.db", "SOCIALDESK_SANDBOX": "1", "SOCIALDESK_SECRET_KEY": "k" * 40}
S3_ENV = {"SOCIALDESK_FILES_S3_URL": "https://s3.eu-west-1.amazonaws.com", "SOCIALDESK_FILES_S3_BUCKET": "desk",
          "SOCIALDESK_FILES_S3_ACCESS_KEY": "AKID", "SOCIALDESK_FILES_S3_SECRET_KEY": "very-secret"}


def test_settings_choose_the_bucket(tmp_path: Path) -> None:
    settings = load_settings({**BASE_ENV, **S3_ENV, "SOCIALDESK_FILES_DIR": str(tmp_path),
                              "SOCIALDESK_FILES_S3_REGION": "eu-west-1"})
    bucket = settings.files_s3
    assert bucket is not None and (bucket.bucket, bucket.region) == ("desk", "eu-west-1")
    assert "very-secret" not in repr(settings)
    chosen = file_store(settings)
    assert isinstance(chosen, S3FileStore) and chosen.base == "https://s3.eu-west-1.amazonaws.com/desk"
    assert load_settings(BASE_ENV).files_s3 is None
    for variable, value in (("SOCIALDESK_FILES_S3_BUCKET", ""), ("SOCIALDESK_FILES_S3_SECRET_KEY", ""),
                            ("SOCIALDESK_FILES_S3_URL", "s3://desk")):
        with pytest.raises(ConfigError) as bad:
            load_settings({**BASE_ENV, **S3_ENV, variable: value})
        assert bad.value.variable == variable and "very-secret" not in str(bad.value)
