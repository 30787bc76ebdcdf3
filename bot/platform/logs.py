"""One log format for every socialdesk process: a line per record (`text`, the default) or one
JSON object per line (`SOCIALDESK_LOG_FORMAT=json`) for log collectors. Uvicorn is run with
`log_config=None` so its records go through the same handler instead of a second format."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping

from bot.core.errors import ConfigError

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"[, "exception"]}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(environ: Mapping[str, str] | None = None) -> None:
    """Replace the root handlers with one stderr handler in the chosen format."""
    env = os.environ if environ is None else environ
    fmt = (env.get("SOCIALDESK_LOG_FORMAT") or "text").strip().lower()
    if fmt not in FORMATS:
        raise ConfigError("SOCIALDESK_LOG_FORMAT", f"expected text or json, got {fmt!r}")
    level = (env.get("SOCIALDESK_LOG_LEVEL") or "INFO").strip().upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError("SOCIALDESK_LOG_LEVEL", f"expected DEBUG, INFO, WARNING or ERROR, got {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))  # a line per call
