"""`GET /metrics`: Prometheus' format, counting what the system did (deliveries, events, sends,
Graph latency) and showing the backlog an operator alerts on; protected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.platform.db import connection, now_ms
from bot.platform.models import Delivery
from bot.platform.settings import load_settings
from tests.api.conftest import Api
from tests.servers import LiveServer, free_port

KEY = "k" * 40


def scrape(url: str, **headers: str) -> dict[tuple[str, tuple], float]:
    answer = httpx.get(f"{url}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counts_deliveries_events_sends_and_graph_latency(api: Api) -> None:
    url = api.url
    before = scrape(url)
    assert api.stack.post_webhook({"object": "page", "entry": []}, signature="sha256=" + "0" * 64).status_code == 403
    conversation_id = api.dm()
    rows = api.ok("POST", f"/conversations/{conversation_id}/messages", 201, json={"message": {"text": "Hi!"}})
    api.stack.wait(lambda: value(scrape(url), "socialdesk_sends_total", outcome="sent", meta_code="")
                   > value(before, "socialdesk_sends_total", outcome="sent", meta_code=""), what=f"send {rows}")
    after = scrape(url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("socialdesk_webhook_deliveries_total", outcome="refused", status="403") == 1
    assert grew("socialdesk_webhook_deliveries_total", outcome="received", status="200") >= 1
    assert grew("socialdesk_events_total", outcome="applied") >= 1
    assert grew("socialdesk_sends_total", outcome="sent", meta_code="") == 1
    assert grew("socialdesk_graph_call_seconds_count", method="POST", operation="messages") >= 1
    assert grew("socialdesk_graph_call_seconds_sum", method="POST", operation="messages") > 0
    assert value(after, "socialdesk_workers_consuming") == 1
    assert value(after, "socialdesk_channels_unhealthy") == 0


def test_backlog_gauges_show_lag_and_no_worker(api: Api) -> None:
    """What the lag alert watches: the oldest delivery nobody processed, and nobody to do it."""
    stack = api.stack
    stack.stop_workers()
    idle = scrape(api.url)
    assert value(idle, "socialdesk_oldest_unprocessed_delivery_seconds") == 0
    assert value(idle, "socialdesk_workers_consuming") == 0
    body = {"object": "page", "entry": [{"id": stack.page["page_id"], "time": now_ms(), "messaging": []}]}
    assert stack.post_webhook(body).status_code == 200
    with connection():
        stored = Delivery.select().where(Delivery.status == "received").count()
        Delivery.update(received_at=now_ms() - 90_000).where(Delivery.status == "received").execute()
    lagging = scrape(api.url)
    assert value(lagging, "socialdesk_queue_depth", stage="deliveries") == stored >= 1
    assert 90 <= value(lagging, "socialdesk_oldest_unprocessed_delivery_seconds") < 120
    stack.start_workers()
    stack.wait(lambda: not Delivery.select().where(Delivery.status == "received").exists(), what="processed")
    assert value(scrape(api.url), "socialdesk_oldest_unprocessed_delivery_seconds") == 0


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    from api.app import create_app
    from bot.platform import runtime

    port = free_port()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SOCIALDESK_SECRET_KEY": KEY, "SOCIALDESK_SANDBOX": "1",
           "SOCIALDESK_API_PORT": str(port), **getattr(request, "param", {})}
    settings = runtime.boot(load_settings(env), migrate=True)
    server = LiveServer(create_app(settings), port=port).start()
    yield server
    server.stop()


def test_local_scrapes_only_without_a_token(served: LiveServer) -> None:
    assert httpx.get(f"{served.url}/metrics").status_code == 200
    proxied = httpx.get(f"{served.url}/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status_code == 403 and "SOCIALDESK_METRICS_TOKEN" in proxied.text


@pytest.mark.parametrize("served", [{"SOCIALDESK_METRICS_TOKEN": "scrape-me-0123"}], indirect=True)
def test_token_is_required_when_set(served: LiveServer) -> None:
    assert httpx.get(f"{served.url}/metrics").status_code == 401
    wrong = httpx.get(f"{served.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "scrape-me" not in wrong.text
    good = scrape(served.url, Authorization="Bearer scrape-me-0123", **{"X-Forwarded-For": "203.0.113.7"})
    assert ("socialdesk_workers_consuming", ()) in good


def test_root_answers_a_json_index(served: LiveServer) -> None:
    index = httpx.get(f"{served.url}/")
    assert index.status_code == 200
    assert json.loads(index.text)["health"] == "/health" and index.json()["webhook"] == "/webhooks/meta"
