"""The embedded SQLite default under ordinary load: the clock's health round while webhooks are
stored and channels connected (issue 23 point 9). Prints how many rounds met "database is locked".

    python -m bench.sqlite_clock [rounds]

One thread stores webhook-like rows as fast as it can (its own connection, as the API does);
the main thread connects three channels, then runs the health round that creates their check
rows, `rounds` times. Before the fix about half the rounds failed with SQLite's snapshot
conflict; the table shows the count now.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import peewee

from bot.channels import health
from bot.platform import runtime
from bot.platform.db import connection, now_ms
from bot.platform.models import Channel, Contact
from bot.platform.settings import load_settings


def main(rounds: int = 300) -> None:
    directory = tempfile.mkdtemp(prefix="socialdesk-bench-")
    env = {"DATABASE_URL": f"sqlite:///{Path(directory) / 'socialdesk.db'}", "SOCIALDESK_SECRET_KEY": "b" * 32,
           "META_APP_SECRET": "bench-secret", "META_VERIFY_TOKEN": "bench-token"}
    runtime.boot(load_settings(env), migrate=True)
    stop, writes = threading.Event(), [0]

    def webhooks() -> None:
        with connection():
            while not stop.is_set():
                Contact.insert(name="webhook", created_at=1, updated_at=1).execute()
                writes[0] += 1

    writer = threading.Thread(target=webhooks)
    writer.start()
    locked, started = 0, time.monotonic()
    try:
        with connection():
            for n in range(rounds):
                for k in range(3):
                    Channel.create(platform="facebook", account_id=f"{n}-{k}", page_id=f"{n}-{k}", name="P",
                                   created_at=now_ms())
                try:
                    health.enqueue_due_checks()
                except peewee.OperationalError as exc:
                    locked += "database is locked" in str(exc)
    finally:
        stop.set()
        writer.join()
    print(f"{'health rounds':<28}{'webhook rows meanwhile':<26}{'database is locked':<20}seconds")
    print(f"{rounds:<28}{writes[0]:<26}{locked:<20}{time.monotonic() - started:.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
