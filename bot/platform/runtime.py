"""What one process holds once configured: the settings, the database, the broker, the vault
and the Graph API clients (one per Meta host). `boot` is called by each entry point (CLI command, worker boot,
dashboard, tests); services read these through the accessors instead of threading them through
every call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot import migrations
from bot.meta.graph import GraphClient
from bot.platform import metrics, queue
from bot.platform.db import open_database
from bot.platform.files import FileStore, LocalFileStore
from bot.platform.s3files import S3FileStore
from bot.platform.settings import Settings, load_settings
from bot.platform.together import FOLLOW_UP_THREADS
from bot.platform.vault import Vault

_state: dict[str, Any] = {}


def boot(settings: Settings | None = None, *, migrate: bool = False) -> Settings:
    """Configure this process: database, broker, vault, Graph client. Idempotent per settings."""
    settings = settings or load_settings()
    if _state.get("settings") == settings:
        return settings
    database = open_database(settings.database_url, max_connections=pool_size(settings))
    if migrate:
        migrations.upgrade(database)
    queue.setup_broker(settings.redis_url, send_rate=settings.send_rate, media_send_rate=settings.media_send_rate,
                       prefix=settings.redis_prefix)
    for old in (_state.get("graph"), _state.get("instagram_graph"), _state.get("files")):
        if old is not None and hasattr(old, "close"):  # HTTP clients (the local file store has none)
            old.close()
    _state.update(settings=settings, vault=Vault(settings.secret_key),
                  graph=GraphClient(settings.graph_api_url, settings.graph_api_version,
                                    on_answer=metrics.graph_answered),
                  instagram_graph=GraphClient(settings.instagram_api_url, settings.graph_api_version,
                                              on_answer=metrics.graph_answered),
                  files=file_store(settings))
    return settings


SERVING_CONNECTIONS = 12  # request handlers, the webhook writer, the clock


def pool_size(settings: Settings) -> int:
    """Database connections one process may hold at once: each worker thread and each of its
    follow-up helpers (`bot.platform.together`) works on its own, besides the serving side.
    Connections are opened only when needed; this bounds them, it does not open them."""
    return settings.worker_threads + FOLLOW_UP_THREADS + SERVING_CONNECTIONS


def file_store(settings: Settings) -> FileStore:
    """The local directory, or the S3-compatible bucket when one is configured (uploads are then
    counted in the local directory before they go)."""
    bucket = settings.files_s3
    if bucket is None:
        return LocalFileStore(Path(settings.files_dir))
    return S3FileStore(bucket.url, bucket.bucket, bucket.access_key, bucket.secret_key, bucket.region,
                       spool_dir=Path(settings.files_dir))


def settings() -> Settings:
    return _get("settings")


def booted() -> bool:
    """Whether this process was configured (`boot`); tools and unit tests may run jobs' parts without."""
    return "settings" in _state


def vault() -> Vault:
    return _get("vault")


def graph(login: str = "facebook") -> GraphClient:
    """The Graph API client for a channel's login: `graph.facebook.com` for Facebook Login (pages
    and their linked Instagram accounts), `graph.instagram.com` for Instagram Login
    (`Channel.login == "instagram"`, meta-platform.md §12)."""
    return _get("instagram_graph" if login == "instagram" else "graph")


def files() -> FileStore:
    """Where attached files are kept (the local directory of `SOCIALDESK_FILES_DIR`, or the bucket
    of `SOCIALDESK_FILES_S3_URL`)."""
    return _get("files")


def _get(name: str) -> Any:
    try:
        return _state[name]
    except KeyError:
        raise RuntimeError("bot.platform.runtime.boot() was not called in this process") from None
