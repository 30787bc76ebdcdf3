"""The one settings object: read from the environment once, validated at start.

A bad value stops the program with one line naming the variable (`ConfigError`). With no
configuration at all socialdesk runs embedded: a SQLite file, an in-process queue and the
built-in sandbox Graph API. Secrets are kept out of `repr` so they never reach logs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bot.errors import ConfigError

log = logging.getLogger(__name__)

META_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v21.0"
SANDBOX_PREFIX = "/sandbox"


@dataclass(frozen=True)
class Settings:
    """Everything socialdesk reads from its environment."""

    database_url: str
    """`sqlite:///path` (embedded default `./socialdesk.db`) or `postgresql://...` (pooled)."""
    redis_url: str | None
    """Unset: in-process queue with worker threads. Set: Dramatiq RedisBroker, separate workers."""
    meta_app_secret: str = field(repr=False)
    """Key of X-Hub-Signature-256. Unset means sandbox mode with a generated secret."""
    meta_verify_token: str = field(repr=False)
    """What Meta must send as hub.verify_token in the subscription handshake."""
    graph_api_url: str
    """Base URL of the Graph API (Meta's, or the sandbox's)."""
    graph_api_version: str
    """Graph API version path segment, e.g. v21.0."""
    secret_key: str = field(repr=False)
    """Encrypts page access tokens at rest."""
    smtp_url: str | None = field(repr=False)
    """smtp://user:password@host:port/?from=... for staff e-mails; unset disables e-mails."""
    public_url: str
    """Where staff and customers reach this installation (links in e-mails, click redirects)."""
    sandbox: bool
    """True when talking to the built-in sandbox Graph API instead of Meta."""
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dashboard_port: int = 8501
    worker_threads: int = 8
    health_check_minutes: int = 10
    email_coalesce_seconds: float = 30.0
    meta_app_id: str = "socialdesk"
    send_rate: int = 250
    """Send API calls per second per page we allow ourselves (Meta: 300/s, §8)."""
    media_send_rate: int = 10
    webhook_read_seconds: float = 10.0
    """How long a webhook body may take to arrive; a slower sender is cut off with 408."""
    webhook_inflight_mib: int = 32
    """Webhook body bytes one API process holds at once (reading or committing); beyond: 503."""

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path | None:
        return None if self.is_postgres else sqlite_path(self.database_url)


def sqlite_path(database_url: str) -> Path:
    """`sqlite:///rel.db` -> rel.db, `sqlite:////abs/x.db` -> /abs/x.db."""
    return Path(database_url.removeprefix("sqlite://").removeprefix("/") or "socialdesk.db")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from `environ` (default `os.environ`), raising ConfigError on the first bad value."""
    env = os.environ if environ is None else environ
    database_url = _database_url(env.get("DATABASE_URL", "sqlite:///socialdesk.db"))
    redis_url = _optional_url(env, "REDIS_URL", ("redis", "rediss", "unix"))
    smtp_url = _optional_url(env, "SMTP_URL", ("smtp", "smtps"))
    api_port = _int(env, "SOCIALDESK_API_PORT", 8000, 1, 65535)
    app_secret = env.get("META_APP_SECRET") or ""
    sandbox = not app_secret
    secret_key = env.get("SOCIALDESK_SECRET_KEY") or _embedded_secret_key(database_url)
    _check_secret_key(secret_key)
    if sandbox:
        app_secret = _derive(secret_key, "sandbox-app-secret")
    default_graph = f"http://127.0.0.1:{api_port}{SANDBOX_PREFIX}/graph" if sandbox else META_GRAPH_URL
    graph_url = env.get("GRAPH_API_URL") or default_graph
    _require_http(graph_url, "GRAPH_API_URL")
    public_url = env.get("PUBLIC_URL") or f"http://127.0.0.1:{api_port}"
    _require_http(public_url, "PUBLIC_URL")
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        meta_app_secret=app_secret,
        meta_verify_token=env.get("META_VERIFY_TOKEN") or _derive(secret_key, "verify-token")[:24],
        graph_api_url=graph_url.rstrip("/"),
        graph_api_version=_graph_version(env.get("GRAPH_API_VERSION", DEFAULT_GRAPH_VERSION)),
        secret_key=secret_key,
        smtp_url=smtp_url,
        public_url=public_url.rstrip("/"),
        sandbox=sandbox,
        api_host=env.get("SOCIALDESK_API_HOST", "127.0.0.1"),
        api_port=api_port,
        dashboard_port=_int(env, "SOCIALDESK_DASHBOARD_PORT", 8501, 1, 65535),
        worker_threads=_int(env, "SOCIALDESK_WORKER_THREADS", 8, 1, 64),
        health_check_minutes=_int(env, "SOCIALDESK_HEALTH_CHECK_MINUTES", 10, 1, 1440),
        email_coalesce_seconds=float(_int(env, "SOCIALDESK_EMAIL_COALESCE_SECONDS", 30, 0, 3600)),
        meta_app_id=env.get("META_APP_ID", "socialdesk"),
        send_rate=_int(env, "SOCIALDESK_SEND_RATE", 250, 1, 300),
        media_send_rate=_int(env, "SOCIALDESK_MEDIA_SEND_RATE", 10, 1, 10),
        webhook_read_seconds=float(_int(env, "SOCIALDESK_WEBHOOK_READ_SECONDS", 10, 1, 300)),
        # At least one body of the largest size (16 MiB) must fit, or such a delivery never would.
        webhook_inflight_mib=_int(env, "SOCIALDESK_WEBHOOK_INFLIGHT_MIB", 32, 16, 4096),
    )


def _database_url(url: str) -> str:
    scheme = urlparse(url).scheme
    if scheme in ("postgres", "postgresql"):
        if not urlparse(url).path.strip("/"):
            raise ConfigError("DATABASE_URL", "a PostgreSQL URL must name the database")
        return url
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        return url
    raise ConfigError("DATABASE_URL", f"unsupported scheme {scheme!r}: use sqlite:///file or postgresql://...")


def _optional_url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name) or None
    if value is not None and urlparse(value).scheme not in schemes:
        raise ConfigError(name, f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return value


def _require_http(url: str, name: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(name, "expected an http:// or https:// URL")


def _graph_version(value: str) -> str:
    if not (value.startswith("v") and value[1:].replace(".", "").isdigit()):
        raise ConfigError("GRAPH_API_VERSION", f"expected a version like v21.0, got {value!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"expected a number from {low} to {high}, got {value}")
    return value


def _check_secret_key(key: str) -> None:
    if len(key) < 32:
        raise ConfigError("SOCIALDESK_SECRET_KEY", "must be at least 32 characters")


def _embedded_secret_key(database_url: str) -> str:
    """On an embedded first run, generate the key and keep it beside the SQLite file."""
    if database_url.startswith(("postgres://", "postgresql://")):
        raise ConfigError("SOCIALDESK_SECRET_KEY", "must be set when DATABASE_URL is PostgreSQL")
    db_path = sqlite_path(database_url)
    key_path = db_path.with_name(db_path.name + ".key")
    if key_path.exists():
        return key_path.read_text().strip()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning("SOCIALDESK_SECRET_KEY is not set: generated one and stored it in %s; back it up", key_path)
    return key


def _derive(secret_key: str, purpose: str) -> str:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()
