"""bench/ingest: how fast signed webhook POSTs are accepted, against the floor of the stack.

    python -m bench.ingest [--duration 8] [--rounds 3] [--concurrency 64] [--rate 500] [--workers 0]

Starts PostgreSQL (a database of its own), a private Redis, `socialdesk api --workers 2` and the
no-op Litestar endpoint (`bench/noop.py`, same uvicorn, same 2 processes), then drives both from
a separate load-generator process on 127.0.0.1 with the same bodies: single-event POSTs and
100-entry batches, at the maximum rate (closed loop) and at a fixed rate (open loop). After the
run it counts the deliveries in PostgreSQL: every 200 must be a stored row ("durably stored" is
the API's rule: the 200 goes out after the commit). The no-op endpoint, the floor, is measured
first for every shape, on the quiet stack; then the webhook. Each is run `--rounds` times and the
median run is shown, with the range of the webhook rounds' ratios to the floor.

Workers are off by default: this measures accepting deliveries; expanding 100-entry batches is
the workers' job and `bench.e2e` measures it. `--workers N` runs N worker processes alongside
(they then share the 2 cores with the API).

`--drain` is production's shape (issue 18): the page the bodies come from is connected and one
worker process (or `--workers N`) expands and applies every delivery while the API takes them, so
the API shares the machine with a busy worker, PostgreSQL and Redis. Profile fetches go to a
closed local port (they fail fast and are retried later; Meta is never called).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import (
    APP_SECRET,
    AUTOVACUUM_NAPTIME_S,
    STOLEN,
    Processes,
    autovacuum_stand_in,
    connect_page,
    free_port,
    machine,
    memory_table,
    ms,
    postgres_database,
    processes,
    redis_server,
    run_load,
    socialdesk_env,
    table,
    wait_http,
)

POOL = 500  # distinct bodies per shape, reused round-robin (the no-op floor, 100-entry batches)
# Single-event webhook runs send each body once (a new message each, as Meta does: its
# redeliveries are rare), so the workers apply every one; before session 10 the 500 of the pool
# were sent again and again, and the draining worker mostly found duplicates.
DISTINCT = 120_000


def bodies(entries: int, count: int = POOL, tag: str = "pool", customers: int = 97) -> list[bytes]:
    """Real-shaped Messenger deliveries: `entries` customer messages per POST, from `customers`
    customers (a first message from a new customer also costs a profile fetch: one each per run)."""
    from tests.bot.meta import payloads as p

    now = int(time.time() * 1000)
    out = []
    for n in range(count):
        items = [p.messenger_message(p.PAGE_ID, f"7{n % customers:05d}{i:03d}", f"m_bench_{tag}_{n}_{i}",
                                     text=f"Hello, is the blue jacket still available in size M? ({n}/{i})",
                                     timestamp=now + i) for i in range(entries)]
        out.append(p.encode(p.batch(*items)))
    return out


def signed(path: str, raw: list[bytes]) -> list[tuple[str, dict, bytes]]:
    from bot.meta.signature import sign

    return [(path, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)}, body)
            for body in raw]


def start(running: Processes, pg: str, redis: str, workers: int, drain: bool) -> tuple[int, int]:
    api_port, noop_port = free_port(), free_port()
    env = socialdesk_env(pg, redis, SOCIALDESK_API_PORT=str(api_port),
                         GRAPH_API_URL=f"http://127.0.0.1:{free_port()}")  # never Meta
    subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, check=True, capture_output=True)
    if drain:
        from tests.bot.meta import payloads as p

        connect_page(env, p.PAGE_ID)
    api = running.socialdesk("api", ["api", "--workers", "2"], env)
    noop = running.start("no-op endpoint", [sys.executable, "-m", "uvicorn", "bench.noop:app", "--workers", "2",
                                            "--port", str(noop_port), "--log-level", "warning"], env)
    if workers:
        running.socialdesk("worker", ["worker", "--processes", str(workers), "--threads", "8"], env)
    # With no worker running, /health says 503 ("no worker"): any answer means the API is up.
    wait_http(f"http://127.0.0.1:{api_port}/health", process=api, below=500 if workers else 600)
    wait_http(f"http://127.0.0.1:{noop_port}/noop", process=noop)
    return api_port, noop_port


def delivery_count(pg: str) -> int:
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM delivery")
        return cur.fetchone()[0]


def backlog(pg: str) -> tuple[int, int]:
    """(deliveries waiting for the expander, events waiting to be applied): what the workers, at
    their lower priority, still have to do."""
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM delivery WHERE status = 'received'), "
                    "(SELECT count(*) FROM inbound_event WHERE status = 'pending')")
        return cur.fetchone()


CATCH_UP_S = 300.0
WARM_UP = 2000  # requests before each measured run


def catch_up(pg: str) -> float | None:
    """Seconds until the workers have applied everything (polled), or None past CATCH_UP_S."""
    start = time.monotonic()
    while time.monotonic() - start < CATCH_UP_S:
        if backlog(pg) == (0, 0):
            return time.monotonic() - start
        time.sleep(0.5)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description="webhook ingest benchmark")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per shape and endpoint; the median run of each is shown")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500.0, help="fixed request rate of the latency runs")
    parser.add_argument("--workers", type=int, default=0, help="worker processes running alongside")
    parser.add_argument("--drain", action="store_true",
                        help="production's shape: the page connected, a worker applying every delivery meanwhile")
    args = parser.parse_args()
    if args.drain:
        args.workers = max(args.workers, 1)

    single, batch = bodies(1), bodies(100)
    rows: list[list[str]] = []
    cpu_rows: list[list[str]] = []
    with postgres_database("socialdesk_bench_ingest") as pg, autovacuum_stand_in(pg) as vacuuming, \
            redis_server() as redis, processes() as running:
        api_port, noop_port = start(running, pg, redis, args.workers, args.drain)
        noop, webhook = (noop_port, "/noop"), (api_port, "/webhooks/meta")
        shapes = [("single event, max rate", single, 1, 0.0, args.rounds),
                  ("100-entry batch, max rate", batch, 100, 0.0, args.rounds),
                  (f"single event, {args.rate:.0f} req/s", single, 1, args.rate, 1)]
        # The floor first, on a quiet stack: measured after a webhook run, the no-op shared the
        # machine with the worker still draining that run's deliveries (slowed by up to half, which
        # flattered the ratio by as much). Each shape is run `rounds` times; the median is kept.
        floors = {label: median([measure(running, pg, noop, raw, rate, args) for _ in range(rounds)])
                  for label, raw, _, rate, rounds in shapes}
        for label, raw, entries, rate, rounds in shapes:
            # With --drain, a single-event max-rate run waits for the workers to catch up after it, so the
            # next one starts from an empty backlog (100-entry batches give them ~1M events a run:
            # the backlog is shown, not waited for).
            runs = [measure(running, pg, webhook, bodies(1, DISTINCT, f"{rate:.0f}r{k}") if entries == 1 else raw,
                            rate, args, count_stored=True, wait_for_workers=args.drain and entries == 1 and not rate)
                    for k in range(rounds)]
            floor = floors[label][0]["rps"]
            ratios = [result["rps"] / floor for result, _ in runs if floor]
            spread = f"{min(ratios):.0%}-{max(ratios):.0%}" if len(ratios) > 1 else "-"
            for target, (result, cpu) in (("no-op", floors[label]), ("webhook", median(runs))):
                rows.append([label, target, f"{result['rps']:.0f}", f"{result['rps'] * entries:.0f}",
                             ms(result["p50_ms"]), ms(result["p99_ms"]),
                             f"{result['rps'] / floor:.0%}" if floor else "-",
                             spread if target == "webhook" else "", _statuses(result), result.get("stored", "-"),
                             result.get("backlog", "-")])
                cpu_rows.append([f"{label}, {target}", *cpu])
        memory = memory_table(running)
    print(f"\nbench/ingest on {machine()}; API: 2 uvicorn processes; concurrency {args.concurrency}; "
          f"{args.duration:.0f} s per run; median of {args.rounds} rounds; worker processes: {args.workers}"
          + ("; draining (page connected, every delivery applied meanwhile)" if args.drain else "")
          + (f"; autovacuum is off on this cluster: the bench vacuums its database every "
             f"{AUTOVACUUM_NAPTIME_S:.0f} s, as autovacuum would" if vacuuming else ""))
    print(table("Ingest", ["run", "endpoint", "req/s", "events/s", "p50 ms", "p99 ms", "vs no-op", "rounds' range",
                           "answers", "stored/200", "left to apply at the end (deliveries + events); caught up after"],
                rows))
    print(table("CPU per request (µs; the load generator is the rest of the machine's figure)",
                ["run", "api", "no-op endpoint", "worker", "postgresql", "whole machine",
                 "stolen by the host"], cpu_rows))
    print(memory)
    return 0


def measure(running: Processes, pg: str, target: tuple[int, str], raw: list[bytes], rate: float,
            args: argparse.Namespace, *, count_stored: bool = False,
            wait_for_workers: bool = False) -> tuple[dict, list[str]]:
    """One run against one endpoint, and where its CPU went; with `count_stored`, the 200s are
    checked against the deliveries stored meanwhile, and with --drain the backlog the run left is
    shown (with `wait_for_workers`, how long the workers took to apply it once the load stopped)."""
    port, path = target
    requests = signed(path, raw)
    distinct = len(requests) > WARM_UP  # then each body goes once: the warm-up takes the last ones
    run_load(port, requests[-WARM_UP:] if distinct else requests, concurrency=8, duration=1.0,
             max_requests=WARM_UP)
    stored_before = delivery_count(pg)
    before = running.cpu_snapshot()
    result = run_load(port, requests, concurrency=args.concurrency, duration=args.duration,
                      max_requests=min(args.max_requests, len(requests) - WARM_UP) if distinct else args.max_requests,
                      rate=rate)
    cpu = cpu_row(before, running.cpu_snapshot(), result["done"])
    if count_stored:
        result["stored"] = f"{delivery_count(pg) - stored_before}/{result['statuses'].get('200', 0)}"
    if count_stored and args.drain:
        result["backlog"] = _backlog_cell(pg, wait_for_workers)
    return result, cpu


def _backlog_cell(pg: str, wait: bool) -> str:
    deliveries, events = backlog(pg)
    cell = f"{deliveries} + {events}"
    if wait:
        took = catch_up(pg)
        cell += f"; {took:.1f} s" if took is not None else f"; not within {CATCH_UP_S:.0f} s"
    return cell


def median(runs: list[tuple[dict, list[str]]]) -> tuple[dict, list[str]]:
    """The run with the median request rate (the machine's speed drifts between runs)."""
    return sorted(runs, key=lambda run: run[0]["rps"])[len(runs) // 2]


def cpu_row(before: dict[str, float], after: dict[str, float], requests: int) -> list[str]:
    """Where each request's CPU went: the server under test, the worker draining beside it, PostgreSQL,
    the whole machine."""
    def per(name: str) -> str:
        used = after.get(name, 0.0) - before.get(name, 0.0)
        return f"{used * 1e6 / requests:.0f}" if requests else "-"
    return [per("api"), per("no-op endpoint"), per("worker"), per("postgresql (all its processes)"), per("machine"),
            per(STOLEN)]


def _statuses(result: dict) -> str:
    parts = [f"{code}:{count}" for code, count in sorted(result["statuses"].items())]
    if result["errors"]:
        parts.append(f"errors:{result['errors']}")
    return " ".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
