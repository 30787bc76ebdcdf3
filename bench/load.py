"""The load generator: run as its own process (`python -m bench.load`), so the client never shares
an interpreter with the server it measures.

It speaks HTTP/1.1 over keep-alive sockets with asyncio streams (uvloop when installed): a Python
HTTP client library costs more CPU per request than the server under test on a 2-core machine,
and would measure itself. Two modes, both bounded in time and in count:

- closed loop (`--rate 0`): `--concurrency` connections send back to back (the maximum rate);
- open loop (`--rate R`): request i is due at start + i/R and its latency is measured from that
  due time, so a stalled server is charged for the requests it delayed (no coordinated omission).

Input: a pickle of `[(path, headers: dict, body: bytes), ...]` used round-robin. Output: one JSON
line with counts, statuses, elapsed seconds and latency percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Tally:
    """What the connections observed."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent: int = 0


def build_requests(host: str, port: int, items: list[tuple[str, dict, bytes]]) -> list[bytes]:
    """Pre-encode every request once: the generator's loop then only writes bytes."""
    out = []
    for path, headers, body in items:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    return out


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def run(host: str, port: int, requests: list[bytes], *, concurrency: int, duration: float,
              max_requests: int, rate: float) -> tuple[Tally, float]:
    tally = Tally()
    counter = iter(range(max_requests))
    start = time.perf_counter()
    deadline = start + duration

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index in counter:
                due = start + index / rate if rate else time.perf_counter()
                if due > deadline:
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tally.sent += 1
                writer.write(requests[index % len(requests)])
                try:
                    status = await read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    tally.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                tally.latencies.append(time.perf_counter() - due)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if time.perf_counter() > deadline:
                    return
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return tally, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests-file", required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s (open loop); 0 = as fast as possible")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with open(args.requests_file, "rb") as handle:
        items = pickle.load(handle)
    requests = build_requests(args.host, args.port, items)
    tally, elapsed = asyncio.run(run(args.host, args.port, requests, concurrency=args.concurrency,
                                     duration=args.duration, max_requests=args.max_requests, rate=args.rate))
    done = len(tally.latencies)
    json.dump({"sent": tally.sent, "done": done, "errors": tally.errors, "elapsed": elapsed,
               "statuses": {str(k): v for k, v in tally.statuses.items()},
               "rps": done / elapsed if elapsed else 0.0,
               "p50_ms": percentile(tally.latencies, 0.50) * 1000,
               "p99_ms": percentile(tally.latencies, 0.99) * 1000}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
