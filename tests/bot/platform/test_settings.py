from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.platform.settings import load_settings

KEY = "k" * 40


def test_embedded_default_generates_key_beside_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/data/desk.db"
    settings = load_settings({"DATABASE_URL": url})
    key_file = tmp_path / "data" / "desk.db.key"
    assert key_file.read_text().strip() == settings.secret_key
    assert "generated" in caplog.text and settings.secret_key not in caplog.text
    assert settings.sandbox and settings.redis_url is None
    assert settings.graph_api_url == "http://127.0.0.1:8000/sandbox/graph"
    assert load_settings({"DATABASE_URL": url}).secret_key == settings.secret_key  # stable across runs


def test_meta_app_secret_switches_to_meta() -> None:
    settings = load_settings({"META_APP_SECRET": "s3cret", "SOCIALDESK_SECRET_KEY": KEY,
                              "DATABASE_URL": "postgresql://u@h:5432/db"})
    assert not settings.sandbox and settings.graph_api_url == "https://graph.facebook.com"
    assert "s3cret" not in repr(settings) and KEY not in repr(settings)


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
])
def test_bad_values_name_the_variable(env: dict, variable: str, tmp_path: Path) -> None:
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY}
    with pytest.raises(ConfigError) as error:
        load_settings({**base, **env})
    assert error.value.variable == variable
