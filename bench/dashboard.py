"""bench/dashboard: the staff dashboard in a real browser over a 10,000-conversation inbox.

    python -m bench.dashboard [--conversations 10000] [--messages 100000] [--rounds 8]

Seeds a PostgreSQL database of its own like bench/inbox (bulk `INSERT ... SELECT` over
`generate_series`, a few seconds), adds an admin and two campaigns with a ledger of comments,
starts `streamlit run dashboard/app.py` as staff run it, and drives Debian's headless Chromium
(`/usr/bin/chromium` through Playwright; no browser is ever downloaded) through it:

- the cold first page (a process that has served nothing yet) and signing in to the inbox;
- the first visit of each page in that session (a conversation, campaigns, the campaign editor,
  stats, bot flows, settings, contacts);
- a page opened in a new tab while signed in (a new Streamlit session, the process warm);
- clicks, `--rounds` times each: inbox filter, next/previous page, opening a conversation,
  back to the inbox, switching the stats' campaign, and moving between pages.

A step's time runs from the click (or the navigation) until what the step should show is on the
screen and Streamlit has finished the run (no stale element, the status widget gone). Goals:
cold first page < 2 s, first visit of any page < 1.5 s, p90 click-to-updated < 700 ms, on an idle
machine; the load average is printed with the table, as the figures depend on it. Each step also
gets the CPU time the dashboard process and the browser spent on it, which the load hardly
changes (on a shared machine, compare those), and the dashboard's script runs are listed with
their wall and CPU time and SQL statement count (the launcher below records them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    ROOT,
    cpu_seconds,
    free_port,
    machine,
    postgres_database,
    processes,
    socialdesk_env,
    table,
    wait_http,
)
from bench.inbox import insert_sql, seed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
EMAIL, PASSWORD = "bench@example.com", "bench password 123"
STEP_MS = 60_000
GOALS = {"cold": 2000, "first": 1500, "click": 700}
SETTLED = ("() => !document.querySelector('[data-stale=\"true\"]') "
           "&& !document.querySelector('[data-testid=\"stStatusWidget\"]')")

# Runs the dashboard as `socialdesk dashboard` does (`python -m dashboard.serve`), each script run
# timed (wall and CPU ms, SQL statements, the page it ran, fragment or not), one JSON line per run
# in the file named by argv[2]: where a step's time goes server side (the rest is the socket and
# the browser drawing). argv[1] is the checkout (a copy of an older one can be measured alike).
LAUNCHER = r"""
import json, logging, sys, threading, time
from pathlib import Path
ROOT = Path(sys.argv.pop(1))
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
try:
    from dashboard import serve
except ImportError:  # a checkout from before dashboard.serve (to measure it the same way)
    serve = None

out, local = open(sys.argv.pop(1), "a", buffering=1), threading.local()


class Count(logging.Handler):
    def emit(self, record):
        if isinstance(record.msg, tuple):  # (sql, params); not the pool's messages
            local.sql = getattr(local, "sql", 0) + 1


peewee = logging.getLogger("peewee")
peewee.addHandler(Count())
peewee.setLevel(logging.DEBUG)
peewee.propagate = False
page_run, script_run = StreamlitPage.run, ScriptRunner._run_script


def run_page(self):
    local.page = self.title
    return page_run(self)


def run_script(self, rerun_data):
    local.sql, local.page = 0, pages.get(self._session_id, "?")
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        return script_run(self, rerun_data)
    finally:
        pages[self._session_id] = local.page  # a fragment's run does not go through its page
        out.write(json.dumps({"page": local.page, "fragment": bool(rerun_data.fragment_id_queue),
                              "auto": bool(rerun_data.is_auto_rerun), "sql": local.sql,
                              "ms": (time.perf_counter() - started) * 1000,
                              "cpu": (time.thread_time() - cpu) * 1000}) + "\n")


pages = {}
StreamlitPage.run, ScriptRunner._run_script = run_page, run_script
if serve is None:
    from streamlit.web.cli import main
    sys.argv[0:1] = ["streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    sys.exit(main())
sys.exit(serve.main())
"""

CAMPAIGNS = r"""
import os
from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.core.compose import MessageContent
from bot.platform import runtime
from bot.platform.db import connection
from bot.platform.settings import load_settings
runtime.boot(load_settings(dict(os.environ)))
with connection():
    for name, words in (("Spring sale", ["price", "sale"]), ("Sneaker coupon", ["shoes"])):
        campaigns.save(CampaignSpec(name=name, channel_id=1, trigger=TriggerSpec(keywords_any=words),
                                    actions=[ActionSpec(kind="send_message",
                                                        message=MessageContent(text="Hi! Here is the link."))]))
"""


def seed_ledger(pg: str, runs: int) -> None:
    """Comments each campaign looked at (a ledger the stats and the list count)."""
    import psycopg2

    now = int(time.time() * 1000)
    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute(insert_sql(cur, "campaign_run", {
            "campaign_id": "1 + g % 2", "comment_id": "'c_' || g", "post_id": "'1_' || (g % 20)",
            "matched": "g % 3 <> 0", "reason": "CASE WHEN g % 3 <> 0 THEN 'matched' ELSE 'keyword_missing' END",
            "source": "'webhook'", "created_at": f"{now} - g * 60000"}, f"generate_series(1, {runs}) g"))


def prepare(pg: str, env: dict[str, str], conversations: int, messages: int) -> float:
    """Schema, data, an admin and two campaigns; returns the seconds the seeding took."""
    subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, check=True, capture_output=True)
    seconds = seed(pg, conversations, messages)
    subprocess.run([sys.executable, "-m", "bot.cli", "user", "add", EMAIL, "--role", "admin"], env=env,
                   check=True, capture_output=True, input=f"{PASSWORD}\n", text=True)
    subprocess.run([sys.executable, "-c", CAMPAIGNS], env=env, check=True, capture_output=True)
    seed_ledger(pg, 4000)
    return seconds


class Clock:
    """Times steps in the browser: from the action until the expected content shows and the run
    is over."""

    def __init__(self, page: object, server: int) -> None:
        self.page, self.server = page, server
        self.times: dict[str, list[float]] = defaultdict(list)
        self.shown: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[tuple[float, float]]] = defaultdict(list)  # (dashboard, browser) ms

    def step(self, label: str, action: Callable[[], object], shown: Callable[[], object]) -> float:
        cpu = self.cpu_ms()
        started = time.perf_counter()
        action()
        shown()
        self.shown[label].append((time.perf_counter() - started) * 1000)
        self.page.wait_for_function(SETTLED, timeout=STEP_MS, polling=20)
        elapsed = (time.perf_counter() - started) * 1000
        self.times[label].append(elapsed)
        self.cpu[label].append(tuple(after - before for after, before in zip(self.cpu_ms(), cpu, strict=True)))
        return elapsed

    def cpu_ms(self) -> tuple[float, float]:
        """CPU ms used so far by the dashboard process, and by the browser (Chromium and
        Playwright's driver: every other descendant of this process). Unlike wall time, the
        machine's load hardly changes them: on an idle machine a step takes about their sum."""
        server = tree_cpu_ms(self.server)
        return server, tree_cpu_ms(os.getpid()) - server - cpu_seconds(os.getpid()) * 1000


def tree_cpu_ms(pid: int) -> float:
    """CPU time (ms) used by `pid` and its live descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                pass
    return sum(cpu_seconds(p) for p in pids) * 1000


def nav(page: object, title: str) -> Callable[[], object]:
    return lambda: page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()


def heading(page: object, name: str) -> Callable[[], object]:
    return lambda: page.get_by_role("heading", name=name, exact=True).first.wait_for()


def text(page: object, words: str | re.Pattern) -> Callable[[], object]:
    return lambda: page.get_by_text(words).first.wait_for()


def choose(page: object, label: str, option: str) -> Callable[[], object]:
    """Pick `option` in the selectbox labelled `label`."""
    def act() -> None:
        page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
        page.get_by_role("option", name=option, exact=True).click()
    return act


def inbox_listed(page: object) -> Callable[[], object]:
    return lambda: page.get_by_text(re.compile(r"^\d+ conversations")).first.wait_for()


def open_first(page: object) -> Callable[[], object]:
    return lambda: page.get_by_test_id("stButton").filter(has_text="Open").first.click()


def drive(url: str, rounds: int, server: int) -> tuple[Clock, Clock]:
    """The walk through the dashboard: (first-time steps, repeated clicks and new tabs)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(STEP_MS)
        first, clicks = Clock(page, server), Clock(page, server)
        try:
            first.step("cold first page (new process: sign-in form)", lambda: page.goto(url),
                       lambda: page.get_by_label("E-mail").wait_for())
            page.get_by_label("E-mail").fill(EMAIL)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            first.step("sign in -> inbox listed", lambda: page.get_by_role("button", name="Sign in").click(),
                       inbox_listed(page))
            first_visits(page, first)
            for _ in range(rounds):
                click_round(page, clicks)
        except Exception:
            page.screenshot(path=str(ROOT / "bench-dashboard-failure.png"), full_page=True)
            raise
        for _ in range(max(3, rounds // 2)):
            clicks.page = context.new_page()
            clicks.page.set_default_timeout(STEP_MS)
            clicks.step("page in a new tab, signed in (new session)", lambda: clicks.page.goto(url),
                        inbox_listed(clicks.page))
            clicks.page.close()
        browser.close()
    return first, clicks


def first_visits(page: object, clock: Clock) -> None:
    clock.step("first visit: conversation (Open)", open_first(page), reply_box(page))
    clock.step("first visit: Campaigns", nav(page, "Campaigns"), text(page, "Sneaker coupon"))
    clock.step("first visit: campaign editor (Edit)", lambda: page.get_by_role("button", name="Edit").first.click(),
               editor(page))
    clock.step("first visit: Stats", nav(page, "Stats"), text(page, "By action"))
    clock.step("first visit: Bot flows", nav(page, "Bot flows"), heading(page, "Bot flows"))
    clock.step("first visit: Settings", nav(page, "Settings"), heading(page, "Settings"))
    clock.step("first visit: Contacts", nav(page, "Contacts"), heading(page, "Contacts"))
    clock.step("first visit: Inbox (back)", nav(page, "Inbox"), inbox_listed(page))


def click_round(page: object, clock: Clock) -> None:
    clock.step("inbox: filter status Closed", choose(page, "Status", "Closed"), text(page, "2500 conversations"))
    clock.step("inbox: filter status Open", choose(page, "Status", "Open"), text(page, "7000 conversations"))
    clock.step("inbox: next page", lambda: page.get_by_role("button", name="Older").click(),
               text(page, re.compile(r"^Page 2 of")))
    clock.step("inbox: previous page", lambda: page.get_by_role("button", name="Newer").click(),
               text(page, re.compile(r"^Page 1 of")))
    clock.step("inbox -> conversation (Open)", open_first(page), reply_box(page))
    clock.step("conversation -> Inbox (sidebar)", nav(page, "Inbox"), inbox_listed(page))
    clock.step("inbox -> Stats (sidebar)", nav(page, "Stats"), text(page, "By action"))
    for name in ("Spring sale", "Sneaker coupon"):
        clock.step("stats: switch campaign", choose(page, "Campaign", name),
                   lambda: page.wait_for_url(re.compile(r"campaign=\d")))
    clock.step("stats -> campaign editor (sidebar)", nav(page, "Campaigns"), editor(page))
    clock.step("campaign editor -> Inbox (sidebar)", nav(page, "Inbox"), inbox_listed(page))


def reply_box(page: object) -> Callable[[], object]:
    return lambda: page.get_by_label("Your reply").wait_for()


def editor(page: object) -> Callable[[], object]:
    return lambda: page.get_by_role("button", name="Dry run").wait_for()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rows(clock: Clock, labels: list[str], goal: int) -> list[list[str]]:
    """One row per step: n, until shown (p50), until the run is over (p50, p90, max), met?"""
    out = []
    for label in labels:
        values = clock.times[label]
        p90 = pct(values, 0.9)
        out.append([label, str(len(values)), f"{statistics.median(clock.shown[label]):.0f}",
                    f"{statistics.median(values):.0f}", f"{p90:.0f}", f"{max(values):.0f}",
                    f"{statistics.median(c[0] for c in clock.cpu[label]):.0f}",
                    f"{statistics.median(c[1] for c in clock.cpu[label]):.0f}", "yes" if p90 < goal else "NO"])
    return out


HEADER = ["step", "n", "shown p50 ms", "done p50 ms", "done p90 ms", "max ms", "CPU dashboard p50 ms",
          "CPU browser p50 ms"]


def browser_tables(first: Clock, clicks: Clock, rounds: int) -> list[str]:
    cold = [k for k in first.times if k.startswith("cold")]
    tabs = [k for k in clicks.times if "new tab" in k]
    plain = [k for k in clicks.times if k not in tabs]
    every = [v for k in plain for v in clicks.times[k]]
    cpu = [c for k in plain for c in clicks.cpu[k]]
    total = ["**all clicks**", str(len(every)), "", f"{statistics.median(every):.0f}", f"{pct(every, 0.9):.0f}",
             f"{max(every):.0f}", f"{statistics.median(c[0] for c in cpu):.0f}",
             f"{statistics.median(c[1] for c in cpu):.0f}", "yes" if pct(every, 0.9) < GOALS["click"] else "NO"]
    return [
        table(f"Cold page (goal < {GOALS['cold']} ms)", [*HEADER, "< goal"],
              rows(first, cold, GOALS["cold"]) + rows(clicks, tabs, GOALS["cold"])),
        table(f"First visit in a session (goal < {GOALS['first']} ms)", [*HEADER, "< goal"],
              rows(first, [k for k in first.times if k not in cold], GOALS["first"])),
        table(f"Clicks, {rounds} rounds (goal: p90 < {GOALS['click']} ms)", [*HEADER, "p90 < goal"],
              [*rows(clicks, plain, GOALS["click"]), total]),
    ]


def server_table(path: Path) -> str:
    """Script runs by page, as the launcher logged them: whole-page runs and fragment runs."""
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in path.read_text().splitlines():
        run = json.loads(line)
        kind = "fragment (timer)" if run["auto"] else "fragment" if run["fragment"] else "page"
        runs[(run["page"], kind)].append(run)
    out = []
    for (page, kind), found in sorted(runs.items()):
        ms_ = [r["ms"] for r in found]
        out.append([page, kind, str(len(found)), f"{statistics.median(ms_):.0f}", f"{pct(ms_, 0.9):.0f}",
                    f"{max(ms_):.0f}", f"{statistics.median(r['cpu'] for r in found):.0f}",
                    f"{statistics.median(r['sql'] for r in found):.0f}"])
    return table("Server side: script runs in the dashboard process (wall time; CPU time of the script's "
                 "thread, which the machine's load does not inflate; SQL statements)",
                 ["page", "run", "n", "p50 ms", "p90 ms", "max ms", "CPU p50 ms", "SQL p50"], out)


def loadavg() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description="dashboard benchmark in headless Chromium")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("/usr/bin/chromium is not installed (apt-get install chromium)")
    with postgres_database("socialdesk_bench_dashboard") as pg, processes() as running:
        port = free_port()
        env = socialdesk_env(pg, None, GRAPH_API_URL=f"http://127.0.0.1:{free_port()}/graph")
        seconds = prepare(pg, env, args.conversations, args.messages)
        runs = running.logdir / "runs.jsonl"
        started = time.perf_counter()
        dashboard = running.start("dashboard", [
            sys.executable, "-c", LAUNCHER, str(ROOT), str(runs),
            "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
            "--browser.gatherUsageStats=false", "--client.toolbarMode=minimal", "--server.fileWatcherType=none"], env)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/_stcore/health", process=dashboard)
        ready = time.perf_counter() - started
        before = loadavg()
        first, clicks = drive(url, args.rounds, dashboard.popen.pid)
        after = loadavg()
        print(f"bench/dashboard on {machine()}\n{args.conversations:,} conversations, {args.messages:,} messages "
              f"(seeded in {seconds:.0f} s); load average (1 / 5 / 15 min) before {before}, after {after}; "
              f"the dashboard process answered its health check {ready:.1f} s after it was started")
        print("\n".join(browser_tables(first, clicks, args.rounds)))
        print(server_table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
