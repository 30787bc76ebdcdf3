"""bench/reports: the admin reports (`bot.reports.report`) and the CSV exports over a large
PostgreSQL inbox, seeded like bench/inbox (conversations with contacts, messages spread over them,
a third of them staff replies, about 28 hours of traffic at the default size).

    python -m bench.reports [--conversations 20000] [--messages 200000] [--repeat 3]

Times the calls in this process (query plus the Python walk, no HTTP): a report of the last day,
of the last 7 days, and each export. The report reads every fact of each conversation it touches,
so its cost grows with the traffic of the range, not with the whole database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.common import machine, ms, postgres_database, socialdesk_env, table
from bench.inbox import seed

DAY_MS = 86_400_000


def timed(call, repeat: int) -> tuple[float, object]:  # noqa: ANN001 - any callable
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best * 1000, result


def main() -> int:
    parser = argparse.ArgumentParser(description="reports benchmark")
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with postgres_database("socialdesk_bench_reports") as pg:
        env = socialdesk_env(pg, None)
        subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, check=True, capture_output=True)
        seconds = seed(pg, args.conversations, args.messages)
        os.environ["DATABASE_URL"] = pg
        from bot import reports
        from bot.platform.db import connection, now_ms, open_database

        open_database(pg)
        now = now_ms()
        runs = {"report, last day": lambda: reports.report(now - DAY_MS, now + 1),
                "report, last 7 days": lambda: reports.report(now - 7 * DAY_MS, now + 1),
                "contacts.csv": lambda: sum(1 for _ in reports.contacts_csv()),
                "conversations.csv": lambda: sum(1 for _ in reports.conversations_csv())}
        rows = []
        with connection():
            for label, call in runs.items():
                elapsed, result = timed(call, args.repeat)
                size = result if isinstance(result, int) else f"{result.first_response.count} first responses"
                rows.append([label, ms(elapsed), str(size)])
    print(table(f"bench/reports: {args.conversations:,} conversations, {args.messages:,} messages "
                f"(seeded in {seconds:.0f} s) on {machine()}", ["run", "best ms", "result"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
