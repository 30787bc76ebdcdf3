"""bench/e2e: comments on a watched post -> private replies, through the whole system.

    python -m bench.e2e [--comments 300] [--rate 100] [--latency-ms 100] [--threads 32] [--drop-rate 0.05]
                        [--baseline-ref main] [--rates 20,50,100,200 --seconds 10]

Starts PostgreSQL (a database of its own), a private Redis, the sandbox Graph API as its own
process (answering every Graph call after `--latency-ms`), `socialdesk api --workers 2` and
`socialdesk worker --processes 2`, connects a page and a campaign that answers every comment on
one post with a private reply. A separate load process then has `--comments` customers comment
at `--rate` per second through the sandbox (which delivers Meta's webhooks to the API), and the
benchmark waits for every private reply to reach the sandbox. Latency is comment -> reply
received by the sandbox; throughput is replies per second over the run. First `--warmup` seconds
of comments (default 1) are offered at the same rate and answered, not counted: in its first
second a process opens its database connections (each a new PostgreSQL backend that loads its
catalog caches) and prepares its statements, and those comments' latencies are a cold start's
(p99 0.6 s at 100/s on 2 cores), not the steady state's. `--warmup 0` measures a cold start.

With 100 ms per Graph call a worker thread sends at most ~10 calls/s (and every new commenter
also costs a profile fetch), so `--threads` bounds throughput before the Send API budget does
(`SOCIALDESK_SEND_RATE`, 250/s per page).

Per reply it counts the SQL statements our processes (API and workers) sent, by table and verb,
BEGIN/COMMIT included, and the queue messages our code enqueued, by job: every process the
bench starts loads `bench/counting/sitecustomize.py`, which counts at `peewee.Database.execute_sql`
and `dramatiq.Actor.send_with_options` and writes per-process files (not part of socialdesk, so
it counts any revision the same way). CPU per reply is given for our processes (API, workers,
sandbox, this run's PostgreSQL backends and redis-server) and for the whole machine, which on a
shared machine includes other people's work. `--baseline-ref main` first runs the same bench on
a temporary `git worktree` of that ref (same venv; its code on PYTHONPATH) and prints both runs
and their ratio.

`--drop-rate 0.05` has the sandbox close 5 % of Graph API connections without an answer (half
before the call is handled, half after it took effect); the last table then says whether every
private reply still reached Meta exactly once and none was left failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import httpx

from bench.common import (
    APP_SECRET,
    OURS,
    ROOT,
    STOLEN,
    Counts,
    Processes,
    count_rows,
    cpu_table,
    free_port,
    machine,
    memory_table,
    ms,
    postgres_database,
    processes,
    redis_server,
    socialdesk_env,
    table,
    wait_for,
    wait_http,
)

LOAD = r"""
import asyncio, json, sys, time
from urllib.parse import urlsplit
sandbox, account, post, rate = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
users = json.loads(sys.stdin.read())
address = urlsplit(sandbox)
host, port = address.hostname, address.port
out = {}
# The customers' side of the bench, as cheap as we can make it: it runs on the measured machine
# and its CPU is in the whole-machine figure. (With httpx, at 3 ms of CPU per comment, it cost more
# than the API and the sandbox.) So HTTP/1.1 by hand: a fresh connection per comment, closed
# after the answer (a kept-alive connection the server closes as idle at the moment we reuse it
# fails, and retrying a POST that may have landed would comment twice).
async def post_comment(user):
    body = json.dumps({"account_id": account, "post_id": post, "user_id": user, "text": "me please"}).encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"POST /control/comment HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (host.encode(), len(body), body))
        answer = await asyncio.wait_for(reader.read(), 60)  # the server closes after the answer
    finally:
        writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 2"):
        raise SystemExit(f"comment refused: {answer[:300]!r}")
    return json.loads(payload)["comment_id"]
async def main():
    # When the machine cannot keep up, comments wait for one of 100 connections; their latency
    # counts from when they were due, so the wait is charged to the system, not dropped.
    slots = asyncio.Semaphore(100)
    start, wall = time.perf_counter(), time.time()
    async def one(i, user):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = (wall + i / rate) * 1000  # when the comment was due (open loop)
        async with slots:
            out[await post_comment(user)] = t0
    await asyncio.gather(*(one(i, u) for i, u in enumerate(users)))
asyncio.run(main())
print(json.dumps(out))
"""


SETUP = r"""
import json, sys, httpx
from bot import commands
from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.core.compose import MessageContent
from bot.platform import runtime
from bot.platform.db import connection
from bot.platform.models import Channel
from bot.platform.settings import load_settings
import os
sandbox, app_secret, latency_ms, comments = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with httpx.Client(base_url=sandbox, timeout=30) as client:
    client.post("/control/config", json={"app_secret": app_secret}).raise_for_status()
    page = client.post("/control/pages", json={"name": "Bench Shoes"}).json()
    post = client.post("/control/posts", json={"account_id": page["page_id"], "message": "Giveaway"}).json()
    users = [client.post("/control/customers", json={"account_id": page["page_id"], "name": f"Fan {i}"})
             .json()["user_id"] for i in range(comments)]
    runtime.boot(load_settings(dict(os.environ)))
    with connection():
        commands.connect_page(page["page_id"], "Bench Shoes", page["page_token"])
        channel = Channel.get(Channel.account_id == page["page_id"]).id
        campaigns.save(CampaignSpec(
            name="Giveaway", channel_id=channel, is_active=True,
            trigger=TriggerSpec(all_posts=False, post_ids=[post["post_id"]]),
            actions=[ActionSpec(kind="send_message", message=MessageContent(text="You're in! Code: FAN10"))]))
    client.post("/control/config", json={"latency_ms": latency_ms}).raise_for_status()
print(json.dumps([page["page_id"], post["post_id"], users]))
"""


def setup(sandbox: str, env: dict[str, str], latency_ms: int, comments: int,
          root: Path) -> tuple[str, str, list[str]]:
    """The sandbox world (page, post, customers) and socialdesk's channel and campaign, made by
    the revision under test (its own process, so a baseline's code makes its own rows)."""
    argv = [sys.executable, "-c", SETUP, sandbox, APP_SECRET, str(latency_ms), str(comments)]
    plain = {k: v for k, v in env.items() if k != "SOCIALDESK_BENCH_COUNT_DIR"}
    done = subprocess.run(argv, cwd=root, env=plain, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise SystemExit(f"setup failed:\n{done.stderr[-2000:]}")
    page_id, post_id, users = json.loads(done.stdout.strip().splitlines()[-1])
    return page_id, post_id, users


def private_replies(sandbox: str) -> list[tuple[str, int]]:
    """(comment id, when Meta got it) for every private reply the sandbox accepted, duplicates kept."""
    sent = httpx.get(f"{sandbox}/control/sent", timeout=60).json()["sent"]
    return [(s["body"]["recipient"]["comment_id"], s["time_ms"]) for s in sent if s["private_reply"]]


def replies(sandbox: str) -> dict[str, int]:
    return dict(private_replies(sandbox))


def health_checked(pg: str) -> bool:
    """The clock checks a newly connected page within seconds; its first finding changes the channel
    row and so the configuration version every process follows, and each process reloads its
    copies of channels and campaigns: a once-only event, kept out of the measured run."""
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM channel WHERE health_status = 'unknown'")
        return cur.fetchone()[0] == 0


def offer(args: argparse.Namespace, sandbox: str, page_id: str, post_id: str, users: list[str]) -> dict[str, float]:
    """Have `users` comment at `--rate` (the load process), wait until Meta got a private reply to
    each comment; return when each comment was due, by comment id."""
    if not users:
        return {}
    load = subprocess.run([sys.executable, "-c", LOAD, sandbox, page_id, post_id, str(args.rate)],
                          input=json.dumps(users), capture_output=True, text=True,
                          timeout=len(users) / args.rate + 300)
    if load.returncode:
        raise SystemExit(f"the load process failed:\n{load.stderr[-2000:]}")
    commented = {key: float(t0) for key, t0 in json.loads(load.stdout).items()}
    try:
        wait_for(lambda: commented.keys() <= replies(sandbox).keys(), args.timeout, "every private reply",
                 interval=1.0)
    except TimeoutError as exc:
        print(f"warning: {exc}", file=sys.stderr)
    return commented


def settled(pg: str) -> bool:
    """No private reply row is still on its way (pending, sending) after Meta got every reply."""
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM message WHERE send_kind = 'private_reply' "
                    "AND status IN ('pending', 'sending')")
        return cur.fetchone()[0] == 0


def fault_row(sandbox: str, pg: str, drop_rate: float, commented: int) -> list[str]:
    """What the dropped connections did: how many, and whether every reply still went exactly once."""
    import psycopg2

    attempts = httpx.get(f"{sandbox}/control/attempts", timeout=60).json()["attempts"]
    dropped = [a for a in attempts if a.get("dropped")]
    sent = [comment for comment, _ in private_replies(sandbox)]
    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM message WHERE send_kind = 'private_reply' GROUP BY status")
        statuses = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM message WHERE send_kind = 'private_reply' AND attempts > 1")
        retried = cur.fetchone()[0]
    return [f"{drop_rate:.0%}", str(sum(a["dropped"] == "before" for a in dropped)),
            str(sum(a["dropped"] == "after" for a in dropped)), str(retried), str(len(set(sent))),
            str(len(sent) - len(set(sent))), str(statuses.get("failed", 0)),
            str(len(set(sent)) == len(sent) == commented and statuses.get("sent", 0) == commented)]


STAGES = {
    "webhook stored -> expanded": ("SELECT processed_at - received_at FROM delivery "
                                   "WHERE processed_at IS NOT NULL AND received_at >= %(since)s"),
    "event stored -> applied": ("SELECT e.applied_at - e.created_at FROM inbound_event e "
                                "WHERE e.kind = 'CommentAdded' AND e.created_at >= %(since)s"),
    "comment received -> reply row": (
        "SELECT m.created_at - d.received_at FROM message m "
        "JOIN inbound_event e ON e.event_key = 'comment:' || m.target_comment_id || ':add' "
        "JOIN delivery d ON d.id = e.delivery_id WHERE m.send_kind = 'private_reply' AND d.received_at >= %(since)s"),
    "reply row -> sent": ("SELECT sent_at - created_at FROM message WHERE send_kind = 'private_reply' AND sent_at > 0 "
                          "AND created_at >= %(since)s"),
}


def stage_rows(pg: str, since_ms: int) -> list[list[str]]:
    """Per-stage latencies of the measured comments (stored since `since_ms`), to tell which part
    of the pipeline sets the pace."""
    import psycopg2

    rows = []
    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        for label, sql in STAGES.items():
            try:
                cur.execute(sql, {"since": since_ms})
            except psycopg2.Error:
                conn.rollback()
                continue
            values = sorted(v for (v,) in cur.fetchall() if v is not None)
            if values:
                rows.append([label, str(len(values)), ms(values[len(values) // 2]),
                             ms(values[min(len(values) - 1, int(len(values) * 0.99))])])
    return rows


SLOWEST = (
    "SELECT d.received_at - min(d.received_at) OVER (), d.processed_at - d.received_at, e.applied_at - e.created_at, "
    "m.created_at - e.applied_at, m.send_started_at - m.created_at, m.sent_at - m.send_started_at, m.attempts, "
    "m.sent_at - d.received_at FROM message m "
    "JOIN inbound_event e ON e.event_key = 'comment:' || m.target_comment_id || ':add' "
    "JOIN delivery d ON d.id = e.delivery_id WHERE m.send_kind = 'private_reply' AND m.sent_at > 0 "
    "AND d.received_at >= %(since)s")


def slowest_rows(pg: str, since_ms: int, count: int = 12) -> list[list[str]]:
    """The slowest replies stage by stage, with when their comment came: a tail that comes in one
    burst is a stall (a checkpoint, a lock, a pause of a process); one spread over the run is a queue."""
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute(SLOWEST, {"since": since_ms})
        rows = sorted(cur.fetchall(), key=lambda r: r[-1] or 0)[-count:]
    return [[f"{r[0] / 1000:.2f}", *(str(v) for v in r[1:])] for r in rows]


TABLE_WORK = ("SELECT relname, seq_scan + COALESCE(idx_scan, 0), seq_scan, seq_tup_read, n_tup_ins, "
              "n_tup_upd + n_tup_del FROM pg_stat_user_tables ORDER BY relname")


def table_work(pg: str) -> dict[str, tuple[int, ...]]:
    """Scans (statements reading a table), of them sequential scans and the rows they read,
    inserts and updates per table so far: the database work a comment costs. A sequential scan
    per reply on a growing table is a missing index (its rows read grow with the run)."""
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")
        cur.execute(TABLE_WORK)
        return {name: tuple(counts) for name, *counts in cur.fetchall()}


def redis_commands(url: str) -> dict[str, int]:
    """Commands this run's redis-server has answered so far, by command (Lua scripts count as one
    EVALSHA each, whatever they run): the Redis round trips a reply costs."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def redis_rows(before: dict[str, int], after: dict[str, int], replies: int) -> list[list[str]]:
    calls = {name: count - before.get(name, 0) for name, count in after.items()}
    calls = {name: count for name, count in sorted(calls.items(), key=lambda item: -item[1]) if count > 0}
    rows = [[name, str(count), f"{count / max(replies, 1):.2f}"] for name, count in calls.items()]
    total = sum(calls.values())
    return [*rows, ["total", str(total), f"{total / max(replies, 1):.2f}"]]


def work_rows(before: dict[str, tuple[int, ...]], after: dict[str, tuple[int, ...]],
              replies: int) -> list[list[str]]:
    rows = []
    for name, counts in after.items():
        delta = [a - b for a, b in zip(counts, before.get(name, (0,) * len(counts)), strict=True)]
        if any(delta) and replies:
            rows.append([name, *(f"{d / replies:.1f}" for d in delta)])
    return rows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="end-to-end comment -> private reply benchmark")
    parser.add_argument("--comments", type=int, default=300)
    parser.add_argument("--rate", type=float, default=100.0, help="comments per second")
    parser.add_argument("--latency-ms", type=int, default=100, help="injected Graph API latency")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=32, help="threads per worker process")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of comments offered at --rate before the measured ones, not counted: "
                             "the processes open their database connections and prepare their statements "
                             "(0: measure from a cold start)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up waiting for replies after this")
    parser.add_argument("--drop-rate", type=float, default=0.0,
                        help="share of Graph API connections the sandbox closes without an answer")
    parser.add_argument("--rates", default=None,
                        help="comma-separated rates (e.g. 20,50,100,200): one run per rate, each offering "
                             "--seconds of comments, and one summary table")
    parser.add_argument("--seconds", type=float, default=10.0, help="with --rates: how long each rate is offered")
    parser.add_argument("--pairs", type=int, default=1,
                        help="with --baseline-ref: how many (baseline, this tree) pairs to run one after the "
                             "other; more than one prints the medians and each ratio's range")
    parser.add_argument("--idle-seconds", type=float, default=5.0,
                        help="how long the idle stack's CPU is measured before the comments")
    parser.add_argument("--baseline-ref", default=None,
                        help="also run the same bench on this git ref (a temporary worktree, same venv) "
                             "and print today's figures against it")
    return parser.parse_args()


@dataclass
class Run:
    """One run's figures, printed as tables and compared with a baseline run's."""

    label: str
    tables: list[str]
    replies: int
    counts: Counts
    cpu_ms: float  # our processes (API, workers, sandbox, this database's backends, this Redis), per reply
    machine_ms: float  # the whole (shared) machine, per reply
    p99_ms: float
    replies_per_s: float
    summary: list[str] = field(default_factory=list)  # the first table's row
    peak_mib: dict[str, str] = field(default_factory=dict)  # largest process per kind
    production_ms: float = 0.0  # cpu_ms without the sandbox (Meta's side in production)
    stolen_ms: float = 0.0  # CPU the host took from this virtual machine meanwhile, per reply


def run(args: argparse.Namespace, root: Path, label: str) -> Run:
    """Start everything from the source tree `root`, offer the comments, wait for the replies."""
    counts_dir = Path(tempfile.mkdtemp(prefix="socialdesk-counts-"))
    with postgres_database("socialdesk_bench_e2e") as pg, redis_server() as redis, processes(root) as running:
        api_port, sandbox_port = free_port(), free_port()
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        env = socialdesk_env(pg, redis, root=root, count_dir=counts_dir, SOCIALDESK_API_PORT=str(api_port),
                             GRAPH_API_URL=f"{sandbox}/graph")
        subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], cwd=root, env=env, check=True,
                       capture_output=True)
        box = running.socialdesk("sandbox", ["sandbox", "--port", str(sandbox_port)], env)
        api = running.socialdesk("api", ["api", "--workers", "2"], env)
        wait_http(f"{sandbox}/control/config", process=box)
        wait_http(f"http://127.0.0.1:{api_port}/", process=api)  # /health is 503 until a worker runs
        warm = round(args.warmup * args.rate)
        page_id, post_id, users = setup(sandbox, env, args.latency_ms, warm + args.comments, root)
        httpx.post(f"{sandbox}/control/config", json={"drop_rate": args.drop_rate, "seed": 17}).raise_for_status()
        running.socialdesk("worker", ["worker", "--processes", str(args.processes), "--threads",
                                      str(args.threads)], env)
        time.sleep(3)  # workers booted and idle: their start-up statements stay out of the count
        wait_for(lambda: health_checked(pg), 30, "the page's first health check", interval=0.2)
        idle = idle_table(running, pg, redis, args.idle_seconds)
        cold = offer(args, sandbox, page_id, post_id, users[:warm])  # not counted: see --warmup
        time.sleep(1.0 if warm else 0)
        counts_before = Counts.read(counts_dir, exclude=box.tree())
        cpu_before, work_before, redis_before = running.cpu_snapshot(pg, redis), table_work(pg), redis_commands(redis)
        since_ms = int(time.time() * 1000)
        commented = offer(args, sandbox, page_id, post_id, users[warm:])
        got = {c: t for c, t in replies(sandbox).items() if c in commented}
        wait_for(lambda: settled(pg), 30, "every private reply row settled", interval=1.0)
        cpu_after, redis_after = running.cpu_snapshot(pg, redis), redis_commands(redis)
        time.sleep(1.5)  # the processes' last counts reach their files (written every 0.5 s)
        counts = Counts.read(counts_dir, exclude=box.tree()).minus(counts_before)
        faults = fault_row(sandbox, pg, args.drop_rate, len(cold) + len(commented))
        cpu = cpu_table(cpu_before, cpu_after, len(got), "reply")
        work = work_rows(work_before, table_work(pg), len(got))
        memory = memory_table(running)
        peaks = {name: largest for name, _, largest, _ in running.memory_rows()}
        stages = stage_rows(pg, since_ms)
        slowest = slowest_rows(pg, since_ms)
    shutil.rmtree(counts_dir, ignore_errors=True)
    latencies = sorted(got[c] - t0 for c, t0 in commented.items() if c in got)
    span_s = (max(got.values()) - min(commented.values())) / 1000 if got else float("nan")
    offered_s = (max(commented.values()) - min(commented.values())) / 1000 or float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    row = [str(len(commented)), f"{args.rate:.0f}", f"{len(commented) / offered_s:.0f}",
           str(len(got)), f"{len(got) / span_s:.0f}", ms(latencies[len(latencies) // 2]) if latencies else "-",
           ms(p99) if latencies else "-", str(len(set(got)) == len(got) and len(got) == len(commented))]
    per = max(1, len(got))
    tables = [
        table(f"Comment -> private reply ({label})", ["comments", "offered/s", "achieved/s", "replies",
                                                      "replies/s", "p50 ms", "p99 ms", "exactly once"], [row]),
        table("SQL statements our processes sent (API + workers), by table", ["table", "statements",
              "per reply", "per reply by verb"], count_rows(counts.sql, per, by_table=True)),
        table("Queue messages our code enqueued, by job", ["job", "messages", "per reply"],
              count_rows(counts.jobs, per)),
        table("Where the time went (from the database; p50 / p99 ms)", ["stage", "rows", "p50 ms", "p99 ms"],
              stages),
        table("The slowest replies (ms; 'at' is seconds after the first comment came)",
              ["at s", "stored -> expanded", "-> applied", "applied -> reply row", "-> claimed", "claimed -> sent",
               "attempts", "total"], slowest),
        table("Redis commands per reply (all processes; INFO commandstats of this run's redis-server)",
              ["command", "calls", "per reply"], redis_rows(redis_before, redis_after, per)),
        table("Database work per reply (from pg_stat_user_tables)", ["table", "scans", "of which sequential",
                                                                    "rows read sequentially", "inserts",
                                                                    "updates+deletes"], work),
        table("Dropped connections (sandbox --drop-rate)", ["drop rate", "dropped before", "dropped after",
                                                            "replies retried", "replies at Meta", "duplicates",
                                                            "failed", "exactly once, none failed"], [faults]),
        cpu, idle, memory]
    ours_ms = (cpu_after[OURS] - cpu_before[OURS]) * 1000 / per
    production_ms = ours_ms - (cpu_after["sandbox"] - cpu_before["sandbox"]) * 1000 / per
    machine_ms = (cpu_after["machine"] - cpu_before["machine"]) * 1000 / per
    stolen_ms = (cpu_after[STOLEN] - cpu_before[STOLEN]) * 1000 / per
    return Run(label, tables, len(got), counts, ours_ms, machine_ms, p99, len(got) / span_s, row, peaks,
               production_ms, stolen_ms)


def idle_table(running: Processes, pg: str, redis: str, seconds: float) -> str:
    """CPU each process uses per second while nothing happens (workers polling, clocks ticking):
    a cost paid whatever the traffic, which a run's CPU per reply includes as `ms/s / rate`."""
    before = running.cpu_snapshot(pg, redis)
    time.sleep(seconds)
    after = running.cpu_snapshot(pg, redis)
    rows = [[name, f"{(after[name] - before[name]) * 1000 / seconds:.1f}"] for name in after
            if name not in ("machine", STOLEN)]
    return table(f"CPU while idle ({seconds:.0f} s before the comments)", ["process", "CPU ms per second"], rows)


def rates_table(runs: list[Run]) -> str:
    """One line per offered rate: what README's throughput table shows."""
    rows = []
    for r in runs:
        per = max(1, r.replies)
        rows.append([*r.summary[1:], f"{r.cpu_ms:.1f}", f"{r.production_ms:.1f}", f"{r.machine_ms:.1f}",
                     f"{r.stolen_ms:.1f}",
                     f"{sum(r.counts.sql.values()) / per:.1f}", f"{sum(r.counts.jobs.values()) / per:.2f}",
                     r.peak_mib.get("api", "-"),
                     r.peak_mib.get("worker", "-")])
    return table("Comment -> private reply by offered rate", [
        "offered/s", "achieved/s", "replies", "replies/s", "p50 ms", "p99 ms", "exactly once", "CPU ms/reply (ours)",
        "CPU ms/reply (without sandbox)", "CPU ms/reply (machine)", "stolen by the host ms/reply",
        "SQL/reply", "queue msgs/reply", "API peak MiB",
        "worker peak MiB"], rows)


def run_rates(args: argparse.Namespace) -> int:
    """`--rates`: a fresh stack per rate, each offered for `--seconds`."""
    runs = []
    for rate in [float(r) for r in args.rates.split(",")]:
        one = replace_args(args, rate=rate, comments=max(1, int(rate * args.seconds)))
        runs.append(run(one, ROOT, f"{rate:.0f}/s"))
        print(runs[-1].tables[0], flush=True)
    print(rates_table(runs))
    return 0


def replace_args(args: argparse.Namespace, **changes: object) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), **changes})


FIGURES = ["SQL statements per reply", "queue messages per reply", "CPU ms per reply, our processes",
           "CPU ms per reply, ours without the sandbox", "CPU ms per reply, whole shared machine",
           "CPU ms per reply stolen by the host (both runs slowed by it: compare with care)",
           "p99 comment -> reply ms", "replies/s"]


def figures(r: Run) -> list[float]:
    """A run's figures, in FIGURES' order."""
    per = max(1, r.replies)
    return [sum(r.counts.sql.values()) / per, sum(r.counts.jobs.values()) / per, r.cpu_ms, r.production_ms,
            r.machine_ms, r.stolen_ms, r.p99_ms, r.replies_per_s]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def comparison(today: Run, base: Run) -> str:
    """Today's figures against the baseline's, measured in one session on one machine."""
    rows = [[name, f"{t:.1f}", f"{b:.1f}", ratio(t, b)]
            for name, t, b in zip(FIGURES, figures(today), figures(base), strict=True)]
    return table(f"Today vs baseline ({base.label})", ["figure", "today", "baseline", "today / baseline"], rows)


def pairs_summary(pairs: list[tuple[Run, Run]]) -> str:
    """Several (baseline, today) pairs run back to back: the medians and each figure's range of
    ratios, so one run's noise (this machine: 10.8-12.8 ms per reply for one tree) is seen."""
    rows = []
    measured = [(figures(today), figures(base)) for today, base in pairs]
    for i, name in enumerate(FIGURES):
        todays = [today[i] for today, _ in measured]
        bases = [base[i] for _, base in measured]
        ratios = sorted(t / b for t, b in zip(todays, bases, strict=True) if b)
        spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}" if ratios else "-"
        rows.append([name, f"{median(todays):.1f}", f"{median(bases):.1f}", ratio(median(todays), median(bases)),
                     spread])
    return table(f"Today vs baseline, {len(pairs)} pairs run alternately (medians)",
                 ["figure", "today", "baseline", "today / baseline", "pairs' ratios"], rows)


@contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    """A temporary `git worktree` of `ref`, run with this venv's interpreter."""
    path = Path(tempfile.mkdtemp(prefix="socialdesk-baseline-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False,
                       capture_output=True)


def main() -> int:
    args = parse_args()
    print(f"\nbench/e2e on {machine()}; Graph API latency {args.latency_ms} ms; API: 2 uvicorn processes; "
          f"workers: {args.processes} x {args.threads} threads; send budget 250/s per page")
    if args.rates:
        return run_rates(args)
    if not args.baseline_ref:
        print("\n".join(run(args, ROOT, "this tree").tables))
        return 0
    pairs = []
    with baseline_tree(args.baseline_ref) as tree:
        for _ in range(args.pairs):
            base = run(args, tree, f"baseline {args.baseline_ref}")
            pairs.append((run(args, ROOT, "this tree"), base))
    today, base = pairs[-1]
    print("\n".join(base.tables + today.tables))
    print("\n".join(comparison(today, base) for today, base in pairs))
    if len(pairs) > 1:
        print(pairs_summary(pairs))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
