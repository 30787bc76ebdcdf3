"""The embedded default (SQLite, in-process queue): how fast a webhook is acknowledged while the
worker applies a 1,000-message batch (issue 18). Meta wants an answer within 5 s.

    python -m bench.sqlite_ack [--rate 20] [--people 100] [--timeout 180]

Starts `socialdesk api` on a fresh SQLite file with the in-process queue (the worker threads run
in the API process, as under `socialdesk run`), connects a page, then POSTs one delivery of
1,000 messages from `--people` customers and, until the worker has applied all of them, sends
single-message deliveries at `--rate` per second (open loop: a slow answer never delays the next
request). Prints each acknowledgement's latency (p50/p99/max) before and during the batch, the
answers (a 500 is a lost acknowledgement for Meta), how long the batch took, and peak memory.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import (
    APP_SECRET,
    connect_page,
    free_port,
    machine,
    memory_table,
    processes,
    socialdesk_env,
    table,
    wait_for,
    wait_http,
)

PAGE = "104870358931474"


def setup(env: dict[str, str]) -> None:
    """Migrate and connect the page, as an operator would before Meta starts sending."""
    subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, check=True, capture_output=True)
    connect_page(env, PAGE)


def big_batch(people: int) -> bytes:
    from tests.bot.meta import payloads as p

    now = int(time.time() * 1000)
    items = [p.messenger_message(PAGE, f"8{i % people:05d}", f"m_batch_{i}", text=f"Is it in stock? ({i})",
                                 timestamp=now + i) for i in range(1000)]
    return p.encode(p.batch(*items))


def single(n: int) -> bytes:
    from tests.bot.meta import payloads as p

    return p.encode(p.messenger_message(PAGE, f"7{n % 50:05d}", f"m_single_{n}", text=f"hello {n}",
                                        timestamp=int(time.time() * 1000)))


def post(client: httpx.Client, body: bytes) -> tuple[float, str]:
    """(seconds to the answer, status or error name)."""
    from bot.meta.signature import sign

    started = time.monotonic()
    try:
        response = client.post("/webhooks/meta", content=body, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)})
        outcome = str(response.status_code)
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__
    return time.monotonic() - started, outcome


def stored(database: Path) -> int:
    """Deliveries in the database (the journal moved in): every 200 must be one."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM delivery").fetchone()[0]


def applied(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM message WHERE mid LIKE 'm_batch_%'").fetchone()[0]


def open_loop(client: httpx.Client, rate: float, until: threading.Event, first: int, limit: float
              ) -> list[tuple[float, str]]:
    """Single deliveries at `rate` per second until `until` is set (or `limit` seconds)."""
    results: list[tuple[float, str]] = []
    with ThreadPoolExecutor(max_workers=64) as pool:
        futures, started, n = [], time.monotonic(), 0
        while not until.is_set() and time.monotonic() - started < limit:
            futures.append(pool.submit(post, client, single(first + n)))
            n += 1
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
        results = [f.result() for f in futures]
    return results


def row(label: str, results: list[tuple[float, str]]) -> list[str]:
    latencies = sorted(seconds * 1000 for seconds, _ in results)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0  # noqa: E731
    answers: dict[str, int] = {}
    for _, outcome in results:
        answers[outcome] = answers.get(outcome, 0) + 1
    worst = latencies[-1] if latencies else 0.0
    return [label, str(len(results)), f"{pick(0.5):.0f}", f"{pick(0.99):.0f}", f"{worst:.0f}",
            " ".join(f"{k}:{v}" for k, v in sorted(answers.items()))]


def main() -> int:
    parser = argparse.ArgumentParser(description="webhook acknowledgement on SQLite during a big batch")
    parser.add_argument("--rate", type=float, default=20.0, help="single deliveries per second meanwhile")
    parser.add_argument("--people", type=int, default=100, help="customers the 1,000 messages come from")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up on the batch after this")
    args = parser.parse_args()

    database = Path(tempfile.mkdtemp(prefix="socialdesk-bench-")) / "socialdesk.db"
    port = free_port()
    env = socialdesk_env(f"sqlite:///{database}", None, SOCIALDESK_API_PORT=str(port),
                         GRAPH_API_URL=f"http://127.0.0.1:{free_port()}")  # profile fetches fail fast
    setup(env)
    rows = []
    with processes() as running:
        api = running.socialdesk("api (and in-process workers)", ["api"], env)
        wait_http(f"http://127.0.0.1:{port}/health", process=api)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            quiet = threading.Event()
            rows_idle = open_loop(client, args.rate, quiet, 0, 3.0)
            rows.append(row("idle", rows_idle))
            elapsed, outcome = post(client, big_batch(args.people))
            started, done = time.monotonic(), threading.Event()
            watcher = threading.Thread(target=lambda: (wait_for(lambda: applied(database) >= 1000, args.timeout,
                                                                "the batch applied", 0.2), done.set()))
            watcher.start()
            during = open_loop(client, args.rate, done, 100_000, args.timeout)
            watcher.join()
            batch_s = time.monotonic() - started
            rows.append(row("while the 1,000-message batch is applied", during))
            answered = sum(outcome == "200" for r in (rows_idle, during) for _, outcome in r) + (outcome == "200")
            found = wait_for(lambda: (n := stored(database)) >= answered and n, 60, "every answered delivery stored")
        memory = memory_table(running)
    print(f"\nbench/sqlite_ack on {machine()}; SQLite, in-process queue; {args.rate:.0f} single deliveries/s; "
          f"batch of 1,000 messages from {args.people} people answered {outcome} in {elapsed * 1000:.0f} ms, "
          f"applied in {batch_s:.1f} s; deliveries stored / answered 200: {found}/{answered}")
    print(table("Webhook acknowledgement", ["phase", "requests", "p50 ms", "p99 ms", "max ms", "answers"], rows))
    print(memory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
