"""The one settings object: read from the environment once, validated at start.

A bad value stops the program with one line naming the variable (`ConfigError`). With no
configuration at all socialdesk runs embedded: a SQLite file and an in-process queue. The
built-in sandbox Graph API is only ever used by explicit choice (`SOCIALDESK_SANDBOX=1`, which
`socialdesk run` sets for itself, saying so, when no Meta app is configured): a production
install that forgot `META_APP_SECRET` refuses to start instead of accepting forged webhooks.
Secrets are kept out of `repr` so they never reach logs.

`VARIABLES` documents every variable; README's configuration table is generated from it
(`python -m bot.platform.settings`) and a test keeps both in step with what `load_settings` reads.
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

from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

META_GRAPH_URL = "https://graph.facebook.com"
META_INSTAGRAM_URL = "https://graph.instagram.com"  # Instagram API with Instagram Login (§12)
DEFAULT_GRAPH_VERSION = "v21.0"
SANDBOX_PREFIX = "/sandbox"
SANDBOX_APP_ID = "1234567890123456"  # the sandbox's own app id (sandbox/records.py Config)
TRUTHY = frozenset({"1", "true", "yes", "on"})

# name -> (default as shown to operators, what it does). Order is the README's.
VARIABLES: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("`sqlite:///socialdesk.db`", "`sqlite:///file` or `postgresql://user:pass@host/db` (pooled)"),
    "REDIS_URL": ("unset", "unset: in-process queue, jobs run in the API process; set: Redis queue, "
                  "run `socialdesk worker` processes"),
    "META_APP_SECRET": ("required", "your Meta app's secret (webhook signatures, appsecret_proof); "
                        "without it only the sandbox can run"),
    "META_APP_ID": ("unset (sandbox: its own)", "your Meta app's numeric id: needed for the token expiry "
                    "check (`debug_token`) and to find our app among a page's subscriptions"),
    "META_VERIFY_TOKEN": ("derived from the secret key", "what Meta sends as `hub.verify_token` in the "
                          "subscription handshake"),
    "SOCIALDESK_SANDBOX": ("unset", "`1`: use the built-in sandbox Graph API instead of Meta (demo, "
                           "development); `socialdesk run` sets it itself when no Meta app is configured"),
    "GRAPH_API_URL": ("Meta's (sandbox: the built-in one)", "base URL of the Graph API"),
    "GRAPH_API_VERSION": (f"`{DEFAULT_GRAPH_VERSION}`", "Graph API version"),
    "INSTAGRAM_API_URL": ("Meta's (a `GRAPH_API_URL` ending in `/graph`: its `/instagram` sibling, the "
                          "sandbox's)", "base URL of the Instagram host (`graph.instagram.com`) that serves "
                          "Instagram accounts connected with Instagram Login"),
    "SOCIALDESK_SECRET_KEY": ("generated beside the SQLite file", "encrypts page tokens at rest (32+ "
                              "characters); required with PostgreSQL"),
    "PUBLIC_URL": ("`http://127.0.0.1:<api port>`", "where staff and customers reach this installation "
                   "(e-mail links, click redirects)"),
    "SMTP_URL": ("unset (no e-mails)", "`smtp://user:password@host:port/?from=desk@example.com`"),
    "SOCIALDESK_API_HOST": ("`127.0.0.1`", "address the API listens on (`0.0.0.0` for all interfaces)"),
    "SOCIALDESK_API_PORT": ("`8000`", "API port"),
    "SOCIALDESK_DASHBOARD_PORT": ("`8501`", "dashboard port (it listens on 127.0.0.1)"),
    "SOCIALDESK_WORKER_THREADS": ("`8`", "worker threads of the in-process queue (`socialdesk worker --threads` "
                                          "sets it for its processes); sizes the database pool"),
    "SOCIALDESK_WORKER_NICE": ("`10`", "niceness of `socialdesk worker`'s processes (0-19): under a burst the API "
                                       "acknowledges webhooks first and the workers catch up after; `0`: equal "
                                       "priority"),
    "SOCIALDESK_APPLY_CONCURRENCY": ("the machine's cores", "events a worker process applies at once (each a "
                                     "database transaction, CPU-bound; sends and other waits keep every thread): "
                                     "a backlog is applied within the cores and a burst's acknowledgements keep "
                                     "theirs"),
    "SOCIALDESK_APPLY_REST": ("`3`", "while the webhook endpoint is saturated (a burst), a worker process "
                              "applies one transaction at a time and rests this many times as long as it took: "
                              "acknowledgements get the cores, the backlog is applied after the burst; `0`: "
                              "full speed regardless"),
    "SOCIALDESK_HEALTH_CHECK_MINUTES": ("`10`", "how often each channel's health is checked"),
    "SOCIALDESK_EMAIL_COALESCE_SECONDS": ("`30`", "staff e-mails about one conversation are grouped over "
                                          "this window"),
    "SOCIALDESK_SEND_RATE": ("`250`", "Send API calls per second per page (Meta allows 300)"),
    "SOCIALDESK_MEDIA_SEND_RATE": ("`10`", "audio/video sends per second per page (Meta allows 10)"),
    "SOCIALDESK_METRICS_TOKEN": ("unset (loopback only)", "bearer token `/metrics` requires; unset: "
                                 "`/metrics` answers only local, unproxied requests"),
    "SOCIALDESK_REDIS_PREFIX": ("the database's name", "prefix of every Redis key (queue, locks, leases, rate "
                                "limits, heartbeats), so installs can share one Redis database"),
    "SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE": ("`0`", "`1` lets outgoing webhooks reach private, loopback and "
                                          "link-local addresses (on-premise receivers); off by default"),
    "SOCIALDESK_WEBHOOK_READ_SECONDS": ("`10`", "how long a webhook body may take to arrive; a slower sender "
                                        "gets 408"),
    "SOCIALDESK_WEBHOOK_INFLIGHT_MIB": ("`32`", "webhook body bytes one API process holds at once (at least 16); "
                                        "beyond it 503, which Meta retries"),
    "SOCIALDESK_FILES_DIR": ("beside the SQLite file (`<db>.files`); PostgreSQL: `./socialdesk-files`",
                             "where files staff attach are stored (a local directory; share it between "
                             "machines, e.g. a network mount, when API and workers run apart)"),
    "SOCIALDESK_FILES_S3_URL": ("unset (the local directory)", "an S3-compatible service's endpoint "
                                "(`https://s3.eu-west-1.amazonaws.com`, MinIO's, ...): files are kept there "
                                "instead, in `SOCIALDESK_FILES_S3_BUCKET` (path-style URLs, SigV4-signed)"),
    "SOCIALDESK_FILES_S3_BUCKET": ("required with `SOCIALDESK_FILES_S3_URL`", "the bucket (created beforehand)"),
    "SOCIALDESK_FILES_S3_ACCESS_KEY": ("required with `SOCIALDESK_FILES_S3_URL`", "access key id"),
    "SOCIALDESK_FILES_S3_SECRET_KEY": ("required with `SOCIALDESK_FILES_S3_URL`", "secret access key "
                                       "(only used to sign; never logged)"),
    "SOCIALDESK_FILES_S3_REGION": ("`us-east-1`", "the region the signatures name (MinIO and most others: "
                                   "`us-east-1`)"),
    "SOCIALDESK_UPLOAD_MAX_MIB": ("`25`", "largest file staff may attach, in MiB (Meta's limit is 25 MB: at "
                                  "most 25)"),
    "SOCIALDESK_LOG_LEVEL": ("`INFO`", "log level"),
    "SOCIALDESK_LOG_FORMAT": ("`text`", "`text` (one line per record) or `json` (one JSON object per line)"),
    "PROMETHEUS_MULTIPROC_DIR": ("unset", "an empty directory shared by the processes of one machine "
                                 "(`api --workers N`, `socialdesk worker`) so `/metrics` adds up their "
                                 "counters; see *Operating it*"),
}


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible bucket for attached files (`bot.platform.s3files`)."""

    url: str
    bucket: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = "us-east-1"


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
    instagram_api_url: str
    """Base URL of the Instagram host (Instagram Login channels; Meta's, or the sandbox's)."""
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
    worker_nice: int = 10
    """Niceness of `socialdesk worker`'s processes: the API's acknowledgements get the CPU first."""
    apply_concurrency: int = 2
    """Events a worker process applies at once (`bot.jobs`): applying is CPU work for the worker
    and its database, so more than the cores at once only lengthens everyone's turn."""
    apply_rest: int = 3
    """While the webhook endpoint is saturated, a worker process applies one transaction at a
    time and rests this many times as long as it took (`bot.platform.pressure`): acknowledgements
    first, the backlog after the burst. 0: apply at full speed regardless."""
    health_check_minutes: int = 10
    email_coalesce_seconds: float = 30.0
    meta_app_id: str | None = None
    """Numeric Meta app id; None when not configured (the token expiry check says so)."""
    metrics_token: str | None = field(default=None, repr=False)
    """Bearer token for /metrics; None: loopback only."""
    send_rate: int = 250
    """Send API calls per second per page we allow ourselves (Meta: 300/s, §8)."""
    media_send_rate: int = 10
    outhooks_allow_private: bool = False
    """Let outgoing webhooks reach private/loopback addresses (on-premise receivers); off by default."""
    redis_prefix: str = "socialdesk"
    """Prefix of every Redis key (queue, locks, leases, rate limits), so installs can share a Redis."""
    webhook_read_seconds: float = 10.0
    """How long a webhook body may take to arrive; a slower sender is cut off with 408."""
    webhook_inflight_mib: int = 32
    """Webhook body bytes one API process holds at once (reading or committing); beyond: 503."""
    files_dir: str = "socialdesk-files"
    """Where attached files are kept (`bot.platform.files.LocalFileStore`); with `files_s3`, where
    uploads are counted before they go to the bucket."""
    files_s3: S3Settings | None = None
    """Set: attached files are kept in this S3-compatible bucket instead."""
    upload_max_mib: int = 25
    """Largest attachment staff may upload (Meta: 25 MB per file, meta-platform.md §5)."""

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
    sandbox = _sandbox_chosen(env, app_secret)
    secret_key = env.get("SOCIALDESK_SECRET_KEY") or _embedded_secret_key(database_url)
    _check_secret_key(secret_key)
    if sandbox and not app_secret:
        app_secret = _derive(secret_key, "sandbox-app-secret")
    default_graph = f"http://127.0.0.1:{api_port}{SANDBOX_PREFIX}/graph" if sandbox else META_GRAPH_URL
    graph_url = env.get("GRAPH_API_URL") or default_graph
    _require_http(graph_url, "GRAPH_API_URL")
    if sandbox and is_meta_graph(graph_url):
        raise ConfigError("SOCIALDESK_SANDBOX", "the sandbox cannot be used with Meta's Graph API (GRAPH_API_URL)")
    instagram_url = _instagram_url(env, graph_url)
    if sandbox and is_meta_graph(instagram_url):
        raise ConfigError("SOCIALDESK_SANDBOX", "the sandbox cannot be used with Meta's Instagram host "
                          "(INSTAGRAM_API_URL)")
    public_url = env.get("PUBLIC_URL") or f"http://127.0.0.1:{api_port}"
    _require_http(public_url, "PUBLIC_URL")
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        meta_app_secret=app_secret,
        meta_verify_token=env.get("META_VERIFY_TOKEN") or _derive(secret_key, "verify-token")[:24],
        graph_api_url=graph_url.rstrip("/"),
        graph_api_version=_graph_version(env.get("GRAPH_API_VERSION", DEFAULT_GRAPH_VERSION)),
        instagram_api_url=instagram_url.rstrip("/"),
        secret_key=secret_key,
        smtp_url=smtp_url,
        public_url=public_url.rstrip("/"),
        sandbox=sandbox,
        api_host=env.get("SOCIALDESK_API_HOST", "127.0.0.1"),
        api_port=api_port,
        dashboard_port=_int(env, "SOCIALDESK_DASHBOARD_PORT", 8501, 1, 65535),
        worker_threads=_int(env, "SOCIALDESK_WORKER_THREADS", 8, 1, 64),
        worker_nice=_int(env, "SOCIALDESK_WORKER_NICE", 10, 0, 19),
        apply_concurrency=_int(env, "SOCIALDESK_APPLY_CONCURRENCY", min(os.cpu_count() or 2, 64), 1, 64),
        apply_rest=_int(env, "SOCIALDESK_APPLY_REST", 3, 0, 20),
        health_check_minutes=_int(env, "SOCIALDESK_HEALTH_CHECK_MINUTES", 10, 1, 1440),
        email_coalesce_seconds=float(_int(env, "SOCIALDESK_EMAIL_COALESCE_SECONDS", 30, 0, 3600)),
        meta_app_id=_app_id(env, sandbox),
        metrics_token=env.get("SOCIALDESK_METRICS_TOKEN") or None,
        send_rate=_int(env, "SOCIALDESK_SEND_RATE", 250, 1, 300),
        media_send_rate=_int(env, "SOCIALDESK_MEDIA_SEND_RATE", 10, 1, 10),
        outhooks_allow_private=bool(_int(env, "SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE", 0, 0, 1)),
        redis_prefix=_redis_prefix(env.get("SOCIALDESK_REDIS_PREFIX") or "", database_url),
        webhook_read_seconds=float(_int(env, "SOCIALDESK_WEBHOOK_READ_SECONDS", 10, 1, 300)),
        # At least one body of the largest size (16 MiB) must fit, or such a delivery never would.
        webhook_inflight_mib=_int(env, "SOCIALDESK_WEBHOOK_INFLIGHT_MIB", 32, 16, 4096),
        files_dir=env.get("SOCIALDESK_FILES_DIR") or _default_files_dir(database_url),
        files_s3=_files_s3(env),
        upload_max_mib=_int(env, "SOCIALDESK_UPLOAD_MAX_MIB", 25, 1, 25),
    )


def _files_s3(env: Mapping[str, str]) -> S3Settings | None:
    """The bucket, when an endpoint is set: an http(s) URL and every value it needs."""
    url = (env.get("SOCIALDESK_FILES_S3_URL") or "").strip()
    if not url:
        return None
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.username:
        raise ConfigError("SOCIALDESK_FILES_S3_URL", "expected an http(s) URL such as "
                          "https://s3.eu-west-1.amazonaws.com (the bucket and keys have their own variables)")
    return S3Settings(url=url, bucket=_s3_value(env, "SOCIALDESK_FILES_S3_BUCKET"),
                      access_key=_s3_value(env, "SOCIALDESK_FILES_S3_ACCESS_KEY"),
                      secret_key=_s3_value(env, "SOCIALDESK_FILES_S3_SECRET_KEY"),
                      region=(env.get("SOCIALDESK_FILES_S3_REGION") or "").strip() or "us-east-1")


def _default_files_dir(database_url: str) -> str:
    """Beside the SQLite file, like its key; with PostgreSQL a folder in the working directory."""
    if database_url.startswith(("postgres://", "postgresql://")):
        return "socialdesk-files"
    db_path = sqlite_path(database_url)
    return str(db_path.with_name(db_path.name + ".files"))


def _s3_value(env: Mapping[str, str], variable: str) -> str:
    value = (env.get(variable) or "").strip()
    if not value:
        raise ConfigError(variable, "is required with SOCIALDESK_FILES_S3_URL")
    return value


def _sandbox_chosen(env: Mapping[str, str], app_secret: str) -> bool:
    """The sandbox runs only when asked for: without an app secret, anything else would accept
    webhooks signed with a key anyone can derive (or read from the sandbox)."""
    asked = env.get("SOCIALDESK_SANDBOX", "").strip().lower() in TRUTHY
    if not app_secret and not asked:
        raise ConfigError("META_APP_SECRET", "is not set: set it to your Meta app's secret, or set "
                          "SOCIALDESK_SANDBOX=1 to run against the built-in sandbox")
    return asked


def _app_id(env: Mapping[str, str], sandbox: bool) -> str | None:
    value = (env.get("META_APP_ID") or "").strip()
    if value and not value.isdigit():
        raise ConfigError("META_APP_ID", f"expected your Meta app's numeric id, got {value!r}")
    return value or (SANDBOX_APP_ID if sandbox else None)


def _instagram_url(env: Mapping[str, str], graph_url: str) -> str:
    """The Instagram host: set, or derived so one sandbox serves both hosts (its Graph API is at
    `.../graph`, its Instagram host at `.../instagram`); otherwise Meta's."""
    url = env.get("INSTAGRAM_API_URL") or ""
    if not url:
        base = graph_url.rstrip("/")
        derived = not is_meta_graph(base) and base.endswith("/graph")
        url = base.removesuffix("/graph") + "/instagram" if derived else META_INSTAGRAM_URL
    _require_http(url, "INSTAGRAM_API_URL")
    return url


def is_meta_graph(url: str) -> bool:
    """Whether `url` is one of Meta's Graph API hosts (where no sandbox may ever stand in)."""
    host = (urlparse(url).hostname or "").lower()
    return any(host == domain or host.endswith("." + domain) for domain in ("facebook.com", "instagram.com"))


def markdown_table() -> str:
    """README's configuration table, generated from `VARIABLES`."""
    rows = [f"| `{name}` | {default} | {meaning} |" for name, (default, meaning) in VARIABLES.items()]
    return "\n".join(["| Variable | Default | What it does |", "|---|---|---|", *rows])


def _redis_prefix(value: str, database_url: str) -> str:
    """SOCIALDESK_REDIS_PREFIX, else the database's name: two installs on one Redis (staging and
    production) then keep their queues, locks and leases apart without configuration."""
    if not value:
        name = urlparse(database_url).path.rsplit("/", 1)[-1].removesuffix(".db")
        value = "".join(c for c in name if c.isalnum() or c in "_-.")[:64] or "socialdesk"
    if len(value) > 64 or not all(c.isalnum() or c in "_-." for c in value):
        raise ConfigError("SOCIALDESK_REDIS_PREFIX", "up to 64 letters, digits, '_', '-' or '.'")
    return value


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
    # Expected on a first embedded run, so not a warning; the file is what page tokens are sealed with.
    log.info("SOCIALDESK_SECRET_KEY is not set: generated one and stored it in %s; back it up", key_path)
    return key


def _derive(secret_key: str, purpose: str) -> str:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


if __name__ == "__main__":
    print(markdown_table())
