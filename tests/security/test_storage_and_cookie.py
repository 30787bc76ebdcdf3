"""The SQLite file (customers' messages, encrypted page tokens) is created readable by its owner
only, and the dashboard's session cookie is `Secure` whenever PUBLIC_URL is https."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot import migrations
from bot.platform.db import connection, open_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "data" / "socialdesk.db"
    previous = os.umask(0o000)  # the most permissive umask: nothing is taken away
    try:
        database = open_database(f"sqlite:///{path}")
        with connection():
            migrations.upgrade(database)  # writes: the -wal and -shm files exist now
            assert mode(path) == 0o600
            for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert mode(extra) == 0o600, extra
    finally:
        os.umask(previous)


def test_an_existing_file_keeps_the_mode_its_operator_chose(tmp_path: Path) -> None:
    path = tmp_path / "socialdesk.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    database = open_database(f"sqlite:///{path}")
    with connection():
        database.execute_sql("SELECT 1")
    assert mode(path) == 0o640


@pytest.mark.parametrize(("public_url", "secure"), [("https://desk.example.com", True),
                                                    ("http://127.0.0.1:8000", False)])
def test_the_session_cookie_is_secure_behind_https(monkeypatch: pytest.MonkeyPatch, public_url: str,
                                                  secure: bool) -> None:
    from dashboard import state

    monkeypatch.setattr(state, "settings", lambda: SimpleNamespace(public_url=public_url))
    script = state._cookie_script("token-value", 3600)
    cookie = script.split("document.cookie = ", 1)[1].split(" + ", 1)[0]
    assert cookie.startswith('"socialdesk_session=token-value; Max-Age=3600; Path=/; SameSite=Strict')
    assert cookie.endswith('; Secure"') is secure
