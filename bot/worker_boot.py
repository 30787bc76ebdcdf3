"""What `dramatiq` imports in each worker process (`socialdesk worker`): boot this process from
the environment (database, Redis broker, jobs) and start the clock (only one clock acts at a
time across processes, by lease)."""

from __future__ import annotations

from bot.clock import Clock
from bot.platform import collector, logs, runtime

logs.configure()  # the one format (Dramatiq's own would be a second one)
runtime.boot()
clock = Clock().start()
collector.settle()
