"""Server processes settle CPython's collector after boot (bot/platform/collector.py): what boot
made is frozen out of later collections and the young threshold is raised. Each check runs in a
fresh interpreter: freezing this test process would keep whatever frozen objects hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.platform.collector import OLDER_THRESHOLDS, YOUNG_THRESHOLD

ROOT = Path(__file__).resolve().parents[3]
REPORT = "import gc, json; print(json.dumps([gc.get_freeze_count(), gc.get_threshold()]))"


def _python(code: str, tmp_path: Path) -> tuple[int, list[int]]:
    """Run `code` then REPORT in a fresh interpreter on an embedded database; (frozen, thresholds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "META_"))}
    env.update(PYTHONPATH=str(ROOT), SOCIALDESK_SANDBOX="1", DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}")
    done = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}\nimport os; os._exit(0)"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, thresholds = json.loads(done.stdout.strip().splitlines()[-1])
    return frozen, thresholds


def test_settle_freezes_what_exists_and_raises_the_thresholds(tmp_path: Path) -> None:
    frozen, thresholds = _python("from bot.platform import collector; collector.settle()", tmp_path)
    assert frozen > 1000
    assert thresholds == [YOUNG_THRESHOLD, *OLDER_THRESHOLDS]


def test_cyclic_garbage_made_after_settling_is_still_collected(tmp_path: Path) -> None:
    code = ("import gc, weakref\nfrom bot.platform import collector\ncollector.settle()\n"
            "class Node: pass\na, b = Node(), Node()\na.other, b.other = b, a\ngone = weakref.ref(a)\n"
            "del a, b\nassert gone() is not None\ngc.collect()\nassert gone() is None")
    frozen, _ = _python(code, tmp_path)
    assert frozen > 1000


def test_the_api_server_and_a_worker_process_settle_after_boot(tmp_path: Path) -> None:
    api_frozen, api_thresholds = _python("from api.app import serve_app; serve_app()", tmp_path)
    worker_frozen, worker_thresholds = _python("import bot.worker_boot", tmp_path)
    assert api_frozen > 10_000 and worker_frozen > 10_000  # the app, the models, the settings
    assert api_thresholds == worker_thresholds == [YOUNG_THRESHOLD, *OLDER_THRESHOLDS]


def test_a_process_that_only_builds_the_app_does_not_settle(tmp_path: Path) -> None:
    """Tests and tools call `create_app` many times; only the server entry point settles."""
    frozen, thresholds = _python("from api.app import create_app; create_app()", tmp_path)
    assert frozen == 0 and thresholds[0] != YOUNG_THRESHOLD
