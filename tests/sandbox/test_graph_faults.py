"""The sandbox's Graph API under load and faults: the per-page rate window with its usage
header, injected errors (seeded), the ambiguous failure, and latency."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.sandbox import harness
from tests.sandbox.harness import (
    Receiver,
    Sandbox,
    World,
    dm,
    error_of,
    text_body,
)
from tests.servers import wait_until

# The harness's fixtures, made available to this module.
receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world


# Rate limits and injected faults


def test_rate_limit_per_page_is_80001_with_usage_headers(sandbox: Sandbox, world: World) -> None:
    sandbox.control("config", rate_limit_per_second=3)
    answers = [sandbox.graph("GET", world.page_id, world.token) for _ in range(4)]
    usage = [json.loads(a.headers["X-Business-Use-Case-Usage"])[world.page_id][0] for a in answers]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert [u["call_count"] for u in usage[:3]] == [33, 66, 100]
    error = error_of(answers[3])
    assert (answers[3].status_code, error["code"]) == (400, 80001)
    assert usage[3]["estimated_time_to_regain_access"] == 0 and usage[3]["type"] == "pages"
    wait_until(lambda: sandbox.graph("GET", world.page_id, world.token).status_code == 200, 5, what="regain")


def test_injected_server_errors_are_500_code_2(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", error_rate=1.0, error_kinds=["server"])
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}))
    assert (response.status_code, error_of(response)["code"]) == (500, 2)
    assert sandbox.read("sent")["sent"] == []
    assert sandbox.read("attempts")["attempts"][-1]["injected"] is True
    assert sandbox.graph("GET", world.page_id, world.token).status_code == 200  # reads are not failed


def test_injected_rate_limits_are_613_or_80001(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", error_rate=1.0, error_kinds=["rate_limit"], seed=7)
    codes = {
        error_of(sandbox.send(world.token, world.page_id, text_body({"id": world.psid})))["code"]
        for _ in range(12)
    }
    assert codes == {613, 80001}


def test_injected_errors_follow_the_seed(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)

    def run() -> list[int]:
        sandbox.control("config", error_rate=0.5, error_kinds=["server"], seed=42)
        return [
            sandbox.send(world.token, world.page_id, text_body({"id": world.psid})).status_code
            for _ in range(10)
        ]

    first = run()
    assert first == run() and set(first) == {200, 500}


def test_ambiguous_failure_went_through(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", error_rate=1.0, error_kinds=["ambiguous"])
    response = sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, "maybe"))
    error = error_of(response)
    assert (response.status_code, error["code"], error["error_subcode"]) == (500, 1, 1357046)
    sent = sandbox.read("sent")["sent"]
    assert [s["body"]["message"]["text"] for s in sent] == ["maybe"]
    echo = wait_until(lambda: [i for i in receiver.items() if i.get("message", {}).get("is_echo")], 10)
    assert echo[0]["message"]["mid"] == sent[0]["message_id"]


def test_latency_delays_every_graph_call(sandbox: Sandbox, world: World) -> None:
    sandbox.control("config", latency_ms=300)
    started = time.monotonic()
    assert sandbox.graph("GET", world.page_id, world.token).status_code == 200
    assert time.monotonic() - started >= 0.3


# Dropped connections (drop_rate)


def test_dropped_before_the_call_closes_the_connection_and_sends_nothing(sandbox: Sandbox, world: World) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", drop_rate=1.0, drop_kinds=["before"])
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, "lost"))
    sandbox.control("config", drop_rate=0.0)
    assert sandbox.read("sent")["sent"] == []
    assert [(a["status"], a["dropped"]) for a in sandbox.read("attempts")["attempts"]] == [(0, "before")]


def test_dropped_after_the_call_loses_only_the_answer(sandbox: Sandbox, world: World, receiver: Receiver) -> None:
    dm(sandbox, world.page_id, world.psid)
    sandbox.control("config", drop_rate=1.0, drop_kinds=["after"])
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.send(world.token, world.page_id, text_body({"id": world.psid}, "went through"))
    sandbox.control("config", drop_rate=0.0)
    sent = sandbox.read("sent")["sent"]
    assert [s["body"]["message"]["text"] for s in sent] == ["went through"]
    echo = wait_until(lambda: [i for i in receiver.items() if i.get("message", {}).get("is_echo")], 10)
    assert echo[0]["message"]["mid"] == sent[0]["message_id"], "the webhooks of a dropped call still go out"
    assert [(a["status"], a["dropped"]) for a in sandbox.read("attempts")["attempts"]] == [(200, "after")]


def test_drop_rate_is_a_share_of_connections_and_checked(sandbox: Sandbox, world: World) -> None:
    assert sandbox.control_raw("config", drop_rate=1.5).status_code == 400
    assert sandbox.control_raw("config", drop_kinds=["sideways"]).status_code == 400
    sandbox.control("config", drop_rate=0.25, seed=5)
    outcomes = []
    for _ in range(80):
        try:
            outcomes.append(sandbox.graph("GET", world.page_id, world.token).status_code)
        except httpx.RemoteProtocolError:
            outcomes.append(0)
    assert 8 <= outcomes.count(0) <= 35 and outcomes.count(200) == 80 - outcomes.count(0)
