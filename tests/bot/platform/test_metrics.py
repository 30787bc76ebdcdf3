"""bot.platform.metrics: labels that never carry ids, and counters added up across processes in
prometheus-client's multiprocess mode (`api --workers N`, `socialdesk worker`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.platform import metrics

ROOT = Path(__file__).resolve().parents[2]
COUNT = "from bot.platform import metrics; metrics.send('failed', 551); metrics.delivery(200)"
RENDER = """
from prometheus_client.parser import text_string_to_metric_families
from bot.platform import metrics, runtime
from bot.platform.db import connection
runtime.boot(migrate=True)
with connection():
    text = metrics.render().decode()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        if s.name in ("socialdesk_sends_total", "socialdesk_webhook_deliveries_total"):
            print(s.name, sorted(s.labels.items()), s.value)
"""


def test_operation_label_is_the_edge_never_an_id() -> None:
    assert metrics.operation("me/messages") == "messages"
    assert metrics.operation("100000000000001/subscribed_apps") == "subscribed_apps"
    assert metrics.operation("debug_token") == "debug_token"
    assert metrics.operation("1784000_99/") == "node" and metrics.operation("t_123") == "node"


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(shared),
           "SOCIALDESK_SANDBOX": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    for _ in range(2):  # two worker processes, each counting once, then gone
        subprocess.run([sys.executable, "-c", COUNT], env=env, check=True, timeout=60)
    shown = subprocess.run([sys.executable, "-c", RENDER], env=env, check=True, timeout=60, capture_output=True,
                           text=True).stdout
    assert "socialdesk_sends_total [('meta_code', '551'), ('outcome', 'failed')] 2.0" in shown
    assert "socialdesk_webhook_deliveries_total [('outcome', 'received'), ('status', '200')] 2.0" in shown
