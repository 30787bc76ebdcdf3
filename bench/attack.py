"""bench/attack: what hostile webhook senders cost socialdesk (issue 17).

    python -m bench.attack [--slow 300] [--big 20] [--entries 1000000]

Starts PostgreSQL (a database of its own), a private Redis, `socialdesk api` (one process, so its
memory is one figure) and `socialdesk worker` (one process), then, from this separate process:

1. Intake: `--slow` connections announce a body without a signature and trickle it a byte every
   2 s, and `--big` connections each send a 15 MiB body without a signature; meanwhile a
   legitimate signed delivery is sent every 0.2 s. Reported: the API's RSS growth over its idle
   RSS, the legitimate deliveries' latency, and how many attack connections the API still holds.
   The same again with well-formed but wrong signatures (the worst case: those bodies are read,
   so the per-process byte budget is what bounds them; legitimate deliveries may get 503 then,
   which Meta retries).
2. Expansion: a signed delivery with `--entries` entries, then at once a normal one; reported:
   how long the normal one waits to be expanded, and the worker's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import (
    APP_SECRET,
    Process,
    Processes,
    free_port,
    machine,
    postgres_database,
    processes,
    redis_server,
    socialdesk_env,
    table,
    wait_for,
    wait_http,
)
from bot.meta.signature import sign

MIB = 1024 * 1024
PAGE_ID = "100000000000777"  # no channel is connected: a delivery is expanded, its events ignored
FAKE_SIGNATURE = "sha256=" + "0" * 64


def start(running: Processes, pg: str, redis: str) -> tuple[int, Process, Process]:
    port = free_port()
    env = socialdesk_env(pg, redis, SOCIALDESK_API_PORT=str(port))
    subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, check=True, capture_output=True)
    api = running.socialdesk("api", ["api", "--workers", "1"], env)
    worker = running.socialdesk("worker", ["worker", "--processes", "1", "--threads", "8"], env)
    wait_http(f"http://127.0.0.1:{port}/health", process=api)
    return port, api, worker


def rss_mib(process: Process) -> float:
    """The current resident size of the largest process of the tree."""
    sizes = []
    for pid in process.tree():
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        sizes += [int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:")]
    return max(sizes, default=0.0)


def legit_body(n: int) -> bytes:
    item = {"sender": {"id": "95001"}, "recipient": {"id": PAGE_ID}, "timestamp": 1718000000000 + n,
            "message": {"mid": f"m_attack_{n}", "text": "a normal message"}}
    return json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1718000000000, "messaging": [item]}]},
                      separators=(",", ":")).encode()


async def slow_sender(port: int, signature: str | None, stop: asyncio.Event, open_count: list[int]) -> None:
    """Announces 1,000 bytes, trickles one every 2 s until the server closes or the run ends."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    head = "POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
    if signature:
        head += f"X-Hub-Signature-256: {signature}\r\n"
    open_count[0] += 1
    closed = asyncio.create_task(_until_closed(reader))
    stopping = asyncio.create_task(stop.wait())
    try:
        writer.write(head.encode() + b"\r\n{")
        while not stop.is_set() and not closed.done():
            await asyncio.wait([closed, stopping], timeout=2, return_when=asyncio.FIRST_COMPLETED)
            if not stop.is_set() and not closed.done():
                writer.write(b" ")
                await writer.drain()
    except OSError:
        pass
    finally:
        open_count[0] -= 1
        closed.cancel()
        stopping.cancel()
        writer.close()


async def _until_closed(reader: asyncio.StreamReader) -> None:
    try:
        while await reader.read(65536):
            pass
    except OSError:
        pass


async def big_sender(port: int, signature: str | None) -> None:
    """A 15 MiB body sent as fast as the server reads it."""
    head = (f"POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {15 * MIB}\r\n")
    if signature:
        head += f"X-Hub-Signature-256: {signature}\r\n"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head.encode() + b"\r\n")
        chunk = b"x" * MIB
        for _ in range(15):
            writer.write(chunk)
            await writer.drain()
        await reader.read(65536)
        writer.close()
    except OSError:
        pass


async def legit_sender(port: int, stop: asyncio.Event, results: list[tuple[int, float]]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        n = 0
        while not stop.is_set():
            body = legit_body(n)
            n += 1
            sent = time.monotonic()
            response = await client.post(f"http://127.0.0.1:{port}/webhooks/meta", content=body, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)})
            results.append((response.status_code, time.monotonic() - sent))
            await asyncio.sleep(0.2)


async def intake_run(port: int, api: Process, slow: int, big: int, signature: str | None) -> list[str]:
    idle = rss_mib(api)
    stop = asyncio.Event()
    open_count = [0]
    results: list[tuple[int, float]] = []
    peak = idle
    slow_tasks = [asyncio.create_task(slow_sender(port, signature, stop, open_count)) for _ in range(slow)]
    legit = asyncio.create_task(legit_sender(port, stop, results))
    big_tasks = [asyncio.create_task(big_sender(port, signature)) for _ in range(big)]
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        peak = max(peak, rss_mib(api))
        await asyncio.sleep(0.05)
    held = open_count[0]
    stop.set()
    await asyncio.gather(legit, *slow_tasks, *big_tasks, return_exceptions=True)
    latencies = [seconds for status, seconds in results if status == 200]
    refused = sum(1 for status, _ in results if status != 200)
    kind = "no signature" if signature is None else "well-formed wrong signature"
    return [kind, f"{idle:.0f}", f"{peak - idle:.0f}", f"{len(latencies)}/{len(results)}", _ms(latencies, 0.5),
            _ms(latencies, 0.95), _ms(latencies, 1.0), str(refused), f"{held}/{slow}"]


def _ms(seconds: list[float], quantile: float) -> str:
    if not seconds:
        return "-"
    ordered = sorted(seconds)
    return f"{ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000:.0f} ms"


def delivery_status(pg: str, delivery_id: int) -> str | None:
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT status FROM delivery WHERE id = %s", (delivery_id,))
        row = cursor.fetchone()
    return row[0] if row else None


def last_delivery_id(pg: str) -> int:
    import psycopg2

    with psycopg2.connect(pg) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM delivery")
        return cursor.fetchone()[0]


def expansion_run(port: int, pg: str, worker: Process, entries: int) -> list[str]:
    huge = b'{"object":"page","entry":[' + b",".join([b'{"id":"1"}'] * entries) + b"]}"
    post = httpx.Client(timeout=60)
    url = f"http://127.0.0.1:{port}/webhooks/meta"
    answer = post.post(url, content=huge, headers={"X-Hub-Signature-256": sign(huge, APP_SECRET)})
    huge_id = last_delivery_id(pg)
    normal = legit_body(10**6)
    sent = time.monotonic()
    assert post.post(url, content=normal, headers={"X-Hub-Signature-256": sign(normal, APP_SECRET)}).status_code == 200
    normal_id = last_delivery_id(pg)
    wait_for(lambda: delivery_status(pg, normal_id) == "processed", 120, "the normal delivery")
    waited = time.monotonic() - sent
    wait_for(lambda: delivery_status(pg, huge_id) != "received", 120, "the huge delivery")
    peak = max((peak_kib / 1024 for peak_kib in _peaks(worker)), default=0.0)
    return [f"{entries:,} entries ({len(huge) / MIB:.1f} MiB)", str(answer.status_code),
            delivery_status(pg, huge_id) or "?", f"{waited:.1f} s", f"{peak:.0f}"]


def _peaks(process: Process) -> list[int]:
    from bench.common import peak_rss_kib

    return [peak_rss_kib(pid) for pid in process.tree()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--big", type=int, default=20)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    with postgres_database("socialdesk_bench_attack") as pg, redis_server() as redis, processes() as running:
        port, api, worker = start(running, pg, redis)
        intake = [asyncio.run(intake_run(port, api, args.slow, args.big, signature))
                  for signature in (None, FAKE_SIGNATURE)]
        expansion = expansion_run(port, pg, worker, args.entries)
    print(f"\nbench/attack on {machine()}; API: 1 uvicorn process; worker: 1 process, 8 threads; PostgreSQL + Redis")
    print(table(f"Intake under {args.slow} slow senders + {args.big} x 15 MiB bodies (12 s), legitimate signed "
                "deliveries every 0.2 s meanwhile",
                ["attack bodies carry", "API idle RSS MiB", "API RSS growth MiB", "legit 200", "legit p50",
                 "legit p95", "legit max", "legit refused (503)", "slow conns open at 12 s"], intake))
    print(table("A signed delivery Meta could never send, then a normal one",
                ["huge delivery", "answer", "its outcome", "normal delivery expanded after", "worker peak RSS MiB"],
                [expansion]))


if __name__ == "__main__":
    main()
