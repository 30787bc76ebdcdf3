import json
import logging
import re
from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.platform import logs
from bot.platform.settings import SANDBOX_APP_ID, VARIABLES, load_settings, markdown_table

ROOT = Path(__file__).resolve().parents[3]

KEY = "k" * 40


def test_embedded_default_generates_key_beside_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/data/desk.db"
    with caplog.at_level(logging.INFO, logger="bot.platform.settings"):  # said, but not a warning
        settings = load_settings({"DATABASE_URL": url, "SOCIALDESK_SANDBOX": "1"})
    key_file = tmp_path / "data" / "desk.db.key"
    assert key_file.read_text().strip() == settings.secret_key
    assert "generated" in caplog.text and settings.secret_key not in caplog.text
    assert settings.sandbox and settings.redis_url is None
    assert settings.graph_api_url == "http://127.0.0.1:8000/sandbox/graph"
    assert load_settings({"DATABASE_URL": url, "SOCIALDESK_SANDBOX": "1"}).secret_key == settings.secret_key
    assert settings.meta_app_id == SANDBOX_APP_ID  # the sandbox's own app id: its token check works


def test_meta_app_secret_switches_to_meta() -> None:
    settings = load_settings({"META_APP_SECRET": "s3cret", "SOCIALDESK_SECRET_KEY": KEY,
                              "DATABASE_URL": "postgresql://u@h:5432/db"})
    assert not settings.sandbox and settings.graph_api_url == "https://graph.facebook.com"
    assert "s3cret" not in repr(settings) and KEY not in repr(settings)
    assert settings.meta_app_id is None  # no made-up default that Meta would refuse
    with_id = load_settings({"META_APP_SECRET": "s3cret", "SOCIALDESK_SECRET_KEY": KEY, "META_APP_ID": "123456789",
                             "DATABASE_URL": "postgresql://u@h:5432/db"})
    assert with_id.meta_app_id == "123456789"


def test_instagram_host_follows_the_graph_api_and_never_meets_the_sandbox(tmp_path: Path) -> None:
    """Instagram Login's host: Meta's beside Meta's Graph API, the sandbox's `/instagram` beside
    the sandbox's `/graph`, and Meta's Instagram host is refused with the sandbox (issue 22)."""
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY}
    assert load_settings({**base, "META_APP_SECRET": "s"}).instagram_api_url == "https://graph.instagram.com"
    sandboxed = load_settings({**base, "SOCIALDESK_SANDBOX": "1"})
    assert sandboxed.instagram_api_url == "http://127.0.0.1:8000/sandbox/instagram"
    with pytest.raises(ConfigError) as error:
        load_settings({**base, "SOCIALDESK_SANDBOX": "1", "INSTAGRAM_API_URL": "https://graph.instagram.com"})
    assert error.value.variable == "SOCIALDESK_SANDBOX"
    with pytest.raises(ConfigError) as error:
        load_settings({**base, "META_APP_SECRET": "s", "INSTAGRAM_API_URL": "ftp://x"})
    assert error.value.variable == "INSTAGRAM_API_URL"


@pytest.mark.parametrize(("env", "variable"), [
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgresql://u@h:5432/"}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgresql://u@h:5432/db", "SOCIALDESK_SECRET_KEY": ""}, "SOCIALDESK_SECRET_KEY"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL"),
    ({"SMTP_URL": "mail://x"}, "SMTP_URL"),
    ({"GRAPH_API_VERSION": "21"}, "GRAPH_API_VERSION"),
    ({"GRAPH_API_URL": "ftp://x"}, "GRAPH_API_URL"),
    ({"SOCIALDESK_API_PORT": "abc"}, "SOCIALDESK_API_PORT"),
    ({"SOCIALDESK_API_PORT": "70000"}, "SOCIALDESK_API_PORT"),
    ({"SOCIALDESK_SECRET_KEY": "short"}, "SOCIALDESK_SECRET_KEY"),
    ({"META_APP_ID": "socialdesk"}, "META_APP_ID"),
])
def test_bad_values_name_the_variable(env: dict, variable: str, tmp_path: Path) -> None:
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY, "META_APP_SECRET": "s"}
    with pytest.raises(ConfigError) as error:
        load_settings({**base, **env})
    assert error.value.variable == variable


def test_readme_configuration_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text()
    table = re.search(r"<!-- settings table[^>]*-->\n(.*?)\n<!-- end of settings table -->", readme, re.S)
    assert table is not None, "README lost its generated settings table"
    assert table.group(1) == markdown_table(), "regenerate it: python -m bot.platform.settings"


def test_every_variable_read_is_documented() -> None:
    """Every environment variable the code reads (settings, logging, metrics) is in VARIABLES,
    hence in README's table, and nothing documented is left unread."""
    pattern = re.compile(r'(?:env|environ)\.get\(\s*"([A-Z][A-Z0-9_]+)"|\(env, "([A-Z][A-Z0-9_]+)"')
    read: set[str] = set()
    for module in ("bot/platform/settings.py", "bot/platform/logs.py", "bot/platform/metrics.py", "bot/cli.py"):
        for match in pattern.finditer((ROOT / module).read_text()):
            read.add(match.group(1) or match.group(2))
    assert read - VARIABLES.keys() == set(), "read but not documented"
    assert VARIABLES.keys() - read == set(), "documented but never read"


def test_json_log_format(capsys: pytest.CaptureFixture) -> None:
    try:
        logs.configure({"SOCIALDESK_LOG_FORMAT": "json", "SOCIALDESK_LOG_LEVEL": "INFO"})
        logging.getLogger("socialdesk.test").info("hello %s", "there")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("socialdesk.test").exception("failed")
    finally:
        logs.configure({"SOCIALDESK_LOG_LEVEL": "WARNING"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "hello there" and lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "socialdesk.test" and "time" in lines[0]
    assert lines[1]["message"] == "failed" and "ValueError: boom" in lines[1]["exception"]
    with pytest.raises(ConfigError):
        logs.configure({"SOCIALDESK_LOG_FORMAT": "xml"})
