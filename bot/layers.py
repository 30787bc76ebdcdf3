"""The floors of the house: which package may import which. One place, read by
`tests/test_layers.py` (which fails on an upward import, an import cycle, or `api/` <-> `dashboard/`)
and drawn into README's architecture section by `render()`.

A module may import modules on a lower floor, and modules of its own package when that makes no
cycle. Floors are listed bottom-up; the data's path runs webhook -> parse (meta) -> store (inbound)
-> decide (automation) -> send (outbound) -> record, with the jobs, staff commands and queries as
the only doors the processes use.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (floor, package, what it holds). The longest package prefix of a module decides its floor.
FLOORS: tuple[tuple[int, str, str], ...] = (
    (0, "bot.core", "our own vocabulary: error values, normalized events in, message content out"),
    (1, "bot.meta", "Meta's JSON and nothing else: webhook shapes, parse, signature, Graph API client"),
    (1, "bot.migrations", "schema migrations with frozen models"),
    (2, "bot.platform", "settings, database, hot SQL statements, models, vault, queue, scheduler, channel "
                        "registry, runtime, side-by-side work"),
    (3, "bot.inbound", "store: deliveries -> ordered events -> contacts, conversations, messages"),
    (4, "bot.outbound", "send: outbox rows, the send policy, the sender, outgoing webhooks"),
    (5, "bot.automation", "decide: router, campaigns, bot flows, handover, notifications"),
    (6, "bot.channels", "connect pages, channel health, backfill"),
    (6, "bot.staff", "staff sign-in, sessions, API tokens, reply drafts"),
    (6, "bot.helpdesk", "helpdesk tools: private notes with @mentions, snooze, canned responses"),
    (7, "bot.jobs", "door: the queue's jobs, chaining the stages (only jobs and commands enqueue)"),
    (8, "bot.commands", "door: what staff do (dashboard and REST API)"),
    (8, "bot.queries", "door: what staff read"),
    (8, "bot.reports", "door: what admins read in reports (response times, volumes, CSV exports)"),
    (8, "bot.backlog", "door: what operators read (the backlog gauges of /metrics)"),
    (8, "bot.clock", "door: the worker's clock (scheduled work, lost-message sweep, health rounds)"),
    (9, "bot.demo", "the demo channel of `socialdesk run`"),
    (9, "bot.worker_boot", "what each Dramatiq worker process imports"),
    (9, "bot", "the package itself"),
    (0, "bot.layers", "this map of the floors (imports nothing)"),
    (10, "api", "the Litestar app: webhooks in, REST API, redirects, health"),
    (10, "dashboard", "the Streamlit app"),
    (11, "bot.cli", "the `socialdesk` command: starts the API, workers, clock, dashboard (and the sandbox)"),
)

# Packages on one floor never import each other (that is the floors' rule); this pair is named
# because the product owner's design says so in as many words.
APART: tuple[tuple[str, str], ...] = (("api", "dashboard"),)

# The sandbox is a separate program emulating Meta: it imports nothing of ours, and of ours only
# these modules may start it (`socialdesk run` / `socialdesk sandbox`, and the API's demo mount).
SANDBOX = "sandbox"
SANDBOX_STARTERS = ("bot.cli", "api.app")


def floor_of(module: str) -> tuple[int, str] | None:
    """(floor, package) of one of our modules, or None for a module on no floor (a new module
    directly in `bot/` must be placed: in a stage package, or listed here)."""
    best = None
    for floor, package, _ in FLOORS:
        inside = module == package or (package != "bot" and module.startswith(package + "."))
        if inside and (best is None or len(package) > len(best[1])):
            best = (floor, package)
    return best


def render() -> str:
    """The floors as README draws them (top floor first)."""
    lines = []
    for floor, package, what in sorted(FLOORS, key=lambda f: (-f[0], f[1])):
        if package == "bot":
            continue
        path = ROOT / package.replace(".", "/")
        folder = f"{path.relative_to(ROOT)}/" if path.is_dir() else f"{path.relative_to(ROOT)}.py"
        lines.append(f"{floor:>2}  {folder:<19} {what}")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m bot.layers`: the table for README's architecture section
    print(render())
