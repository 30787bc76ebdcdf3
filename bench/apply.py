"""bench/apply: what applying one customer message costs the workers (issue 18), once stored.

    python -m bench.apply [--messages 20000] [--customers 97] [--workers 1]

`bench.ingest --drain` showed that a webhook's own cost (the API, its commit) is small beside what
the workers then spend applying the message it carried, and that this is what keeps the API from
its rate while they drain. This bench measures that part alone: a page connected, one worker
started and warmed up, then stopped (SIGSTOP); `--messages` distinct Messenger messages from
`--customers` customers POSTed to the API and stored; the worker let go (SIGCONT) and timed until
every event is applied. It prints per message: CPU of the worker, of this database's PostgreSQL
backends and of the run's Redis, SQL statements by table and queue messages by job (counted in
our processes, `bench/counting`), and the rate. Profile fetches go to a closed local port (they
fail fast and are retried later; Meta is never called).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    Counts,
    Process,
    Processes,
    connect_page,
    count_rows,
    cpu_table,
    free_port,
    machine,
    postgres_database,
    processes,
    redis_server,
    run_load,
    socialdesk_env,
    table,
    wait_for,
    wait_http,
)
from bench.ingest import backlog, bodies, signed

WARM_UP = 1000
CATCH_UP_S = 900.0


def main() -> int:
    parser = argparse.ArgumentParser(description="the workers' cost of applying stored messages")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=97)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (8 threads each)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy's collapsed stacks of the worker while it applies")
    args = parser.parse_args()
    counts_dir = Path(tempfile.mkdtemp(prefix="socialdesk-counts-"))
    with postgres_database("socialdesk_bench_apply") as pg, redis_server() as redis, processes() as running:
        env = socialdesk_env(pg, redis, count_dir=counts_dir, SOCIALDESK_API_PORT=str(free_port()),
                             GRAPH_API_URL=f"http://127.0.0.1:{free_port()}")  # never Meta
        port = start(running, env)
        worker = running.socialdesk("worker", ["worker", "--processes", str(args.workers), "--threads", "8"], env)
        load(port, bodies(1, WARM_UP, "warm", args.customers), pg)
        wait_for(lambda: backlog(pg) == (0, 0), 120, "the warm-up applied")
        _signal(worker, signal.SIGSTOP)
        load(port, bodies(1, args.messages, "run", args.customers), pg)
        excluded = [pid for process in running.started if process is not worker for pid in process.tree()]
        counts_before, before = Counts.read(counts_dir, exclude=excluded), running.cpu_snapshot(pg, redis)
        started = time.monotonic()
        _signal(worker, signal.SIGCONT)
        spy = _profile(worker, args.profile) if args.profile else None
        wait_for(lambda: backlog(pg) == (0, 0), CATCH_UP_S, "every event applied", interval=0.2)
        took = time.monotonic() - started
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        after = running.cpu_snapshot(pg, redis)
        time.sleep(1.0)  # the counting files are written every half second
        counts = Counts.read(counts_dir, exclude=excluded).minus(counts_before)
    del after["api"], before["api"]  # stopped meanwhile: the API had nothing to do
    print(f"\nbench/apply on {machine()}; {args.messages} messages from {args.customers} customers, stored, "
          f"then applied by {args.workers} worker process(es) x 8 threads: {took:.1f} s, "
          f"{args.messages / took:.0f} messages/s")
    print(cpu_table(before, after, args.messages, "message"))
    print(table("SQL statements per message (our processes)", ["table", "statements", "per message", "verbs"],
                count_rows(counts.sql, args.messages, by_table=True)))
    print(table("Queue messages per message", ["job", "sent", "per message"], count_rows(counts.jobs, args.messages)))
    return 0


def start(running: Processes, env: dict[str, str]) -> int:
    from tests.bot.meta import payloads as p

    subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, check=True, capture_output=True)
    connect_page(env, p.PAGE_ID)
    api = running.socialdesk("api", ["api", "--workers", "1"], env)
    wait_http(f"http://127.0.0.1:{env['SOCIALDESK_API_PORT']}/health", process=api, below=600)
    return int(env["SOCIALDESK_API_PORT"])


def load(port: int, raw: list[bytes], pg: str) -> None:
    """POST every body once; each must be stored (answered 200)."""
    result = run_load(port, signed("/webhooks/meta", raw), concurrency=16, duration=3600.0, max_requests=len(raw))
    if result["statuses"].get("200", 0) != len(raw):
        raise SystemExit(f"not every webhook was stored: {result['statuses']} errors {result['errors']}")


def _profile(worker: Process, path: str) -> subprocess.Popen:
    """py-spy (on the PATH) sampling the worker's thread that holds the interpreter lock (where its CPU
    goes), in every worker process, written as collapsed stacks."""
    return subprocess.Popen(["py-spy", "record", "--pid", str(worker.popen.pid), "--subprocesses", "--gil",
                             "--format", "raw", "--rate", "200", "--output", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _signal(process: Process, sig: signal.Signals) -> None:
    for pid in process.tree():
        os.kill(pid, sig)


if __name__ == "__main__":
    raise SystemExit(main())
