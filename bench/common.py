"""What every benchmark needs: its own PostgreSQL database and its own Redis server (never the
shared ones' data), socialdesk's processes started as an operator would start them, the load
generator in a separate process, peak memory of each process, and a printed table.

Environment: `SOCIALDESK_BENCH_PG` (a PostgreSQL URL whose server lets us CREATE DATABASE;
default postgresql://postgres@127.0.0.1:5432/postgres); `redis-server` on the PATH.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
COUNTING = Path(__file__).resolve().parent / "counting"
OURS = "ours: the above together"
PRODUCTION = "ours without the sandbox (what production runs; Meta plays the sandbox)"
STOLEN = "stolen by the host (CPU this virtual machine waited for; slows every process above)"
PG_BASE = os.environ.get("SOCIALDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_SECRET = "bench-app-secret"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until truthy; raise after `timeout` seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except Exception:  # the thing polled is still starting
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def machine() -> str:
    """One line describing this machine, for the tables and the README."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database of this run's own, dropped afterwards (kept for a look when
    SOCIALDESK_BENCH_KEEP_DB is set; the next run of the same process id drops it)."""
    import psycopg2

    name = f"{prefix}_{os.getpid()}"
    admin = psycopg2.connect(PG_BASE)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    url = PG_BASE.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if not os.environ.get("SOCIALDESK_BENCH_KEEP_DB"):
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


AUTOVACUUM_NAPTIME_S = 60.0  # PostgreSQL's default autovacuum_naptime


@contextmanager
def autovacuum_stand_in(database_url: str) -> Iterator[bool]:
    """On a cluster whose autovacuum is off (this machine's CI cluster is), VACUUM (ANALYZE) the
    run's database every `AUTOVACUUM_NAPTIME_S`, as autovacuum visits a database on a default
    cluster: without it, rows updated on every message (a conversation's clocks) keep every old
    version and index entry, and a long run measures that bloat instead of socialdesk (a
    run's later rounds cost PostgreSQL 4x its first's). Yields whether it stands in."""
    import psycopg2

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SHOW autovacuum")
        if cur.fetchone()[0] != "off":
            yield False
            return
    stop = threading.Event()

    def visit() -> None:
        while not stop.wait(AUTOVACUUM_NAPTIME_S):
            conn = psycopg2.connect(database_url)
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute("VACUUM (ANALYZE)")
            finally:
                conn.close()

    thread = threading.Thread(target=visit, name="autovacuum stand-in", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join(timeout=600)


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free port, without persistence (the database is the record)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        wait_for(lambda: redis.Redis.from_url(url).ping(), 10, "redis-server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def socialdesk_env(database_url: str, redis_url: str | None, *, root: Path = ROOT,
                   count_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment socialdesk's processes run with. `root` is the source tree they run
    (another revision's worktree for a baseline); with `count_dir` every process counts its SQL
    statements and queue messages there (`bench/counting/sitecustomize.py`, see `Counts`)."""
    env = {**os.environ, "DATABASE_URL": database_url, "META_APP_SECRET": APP_SECRET,
           "META_VERIFY_TOKEN": "bench-verify-token", "SOCIALDESK_SECRET_KEY": SECRET_KEY,
           "SOCIALDESK_LOG_LEVEL": "WARNING", "PYTHONPATH": str(root)}
    if count_dir is not None:
        env["PYTHONPATH"] = f"{COUNTING}{os.pathsep}{root}"
        env["SOCIALDESK_BENCH_COUNT_DIR"] = str(count_dir)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


@dataclass
class Process:
    """A started server process (and, through /proc, its children) with a name for the tables."""

    name: str
    popen: subprocess.Popen
    log: Path

    def tree(self) -> list[int]:
        pids, todo = [], [self.popen.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    todo += [int(child) for child in (task / "children").read_text().split()]
                except OSError:
                    pass
        return pids

    def peak_rss_mib(self) -> tuple[float, float]:
        """(the largest process's peak RSS, the sum over the tree), from the kernel's VmHWM."""
        peaks = [peak_rss_kib(pid) / 1024 for pid in self.tree()]
        return (max(peaks, default=0.0), sum(peaks))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the tree: where the machine's 2 cores went."""
        return sum(cpu_seconds(pid) for pid in self.tree())

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command_cpu_seconds(comm: str) -> float:
    """CPU time of every live process running `comm` (PostgreSQL's backends, Redis): the
    database's share of a run. A backend that exits takes its figure with it, so runs keep
    their pooled connections open throughout."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == comm:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return total


def database_backends(database_url: str) -> list[int]:
    """The PostgreSQL backends connected to this run's own database (the server is shared: the
    other backends' CPU is not ours)."""
    import psycopg2

    name = database_url.rsplit("/", 1)[1]
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        return [pid for (pid,) in cur.fetchall()]


def listening_process(comm: str, port: int) -> list[int]:
    """The `comm` process serving `port` (this run's private redis-server, which retitles itself
    "redis-server 127.0.0.1:<port>")."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ")
            if text.startswith((comm.encode(), b"/")) and comm.encode() in text and f":{port}".encode() in text:
                found.append(int(cmdline.parent.name))
        except (OSError, ValueError):
            continue
    return found


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy since boot (/proc/stat): with the per-process figures it
    shows what PostgreSQL, Redis and the load generator took."""
    values = _cpu_line()
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def stolen_seconds() -> float:
    """CPU time the host gave to other guests while this virtual machine's cores wanted it
    (/proc/stat "steal"): it slows every process of a run at once (their CPU per reply rises
    together, the sandbox's too), so a run with much of it compares badly with one without."""
    return _cpu_line()[7] / os.sysconf("SC_CLK_TCK")


def _cpu_line() -> list[int]:
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Processes:
    """The processes of one benchmark run, all stopped on exit."""

    started: list[Process] = field(default_factory=list)
    root: Path = ROOT  # the source tree the processes run from
    logdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="socialdesk-bench-")))

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> Process:
        log = self.logdir / f"{name}.log"
        popen = subprocess.Popen(list(argv), cwd=self.root, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def socialdesk(self, name: str, args: Sequence[str], env: dict[str, str]) -> Process:
        return self.start(name, [sys.executable, "-m", "bot.cli", *args], env)

    def memory_rows(self) -> list[list[str]]:
        rows = []
        for process in self.started:
            largest, total = process.peak_rss_mib()
            rows.append([process.name, str(len(process.tree())), f"{largest:.0f}", f"{total:.0f}"])
        return rows

    def cpu_snapshot(self, database_url: str | None = None, redis_url: str | None = None) -> dict[str, float]:
        """CPU seconds so far: each started process tree, and (given this run's database and Redis)
        the PostgreSQL backends of its database and its redis-server; their sum is "ours", what
        one run costs whatever else the (shared) machine does. Then the whole machine."""
        snapshot = {p.name: p.cpu_seconds() for p in self.started}
        if database_url:
            snapshot["postgresql (this database's backends)"] = sum(
                cpu_seconds(pid) for pid in database_backends(database_url))
        if redis_url:
            port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
            snapshot["redis-server (this run's)"] = sum(cpu_seconds(pid) for pid in listening_process("redis", port))
        if database_url or redis_url:
            snapshot[OURS] = sum(snapshot.values())
        return {**snapshot, "postgresql (all its processes)": command_cpu_seconds("postgres"),
                "redis-server (all)": command_cpu_seconds("redis-server"), "machine": machine_busy_seconds(),
                STOLEN: stolen_seconds()}

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


@contextmanager
def processes(root: Path = ROOT) -> Iterator[Processes]:
    running = Processes(root=root)
    try:
        yield running
    finally:
        running.stop_all()


@dataclass
class Counts:
    """SQL statements (by "table VERB") and queue messages (by job) our processes sent so far,
    summed over the per-process files `bench/counting/sitecustomize.py` writes (every 0.5 s)."""

    sql: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, directory: Path, exclude: Sequence[int] = ()) -> Counts:
        total = cls()
        for path in directory.glob("*.json"):
            if int(path.stem) in exclude:
                continue
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for kind in ("sql", "jobs"):
                bucket = getattr(total, kind)
                for key, count in data[kind].items():
                    bucket[key] = bucket.get(key, 0) + count
        return total

    def minus(self, before: Counts) -> Counts:
        return Counts({k: v - before.sql.get(k, 0) for k, v in self.sql.items() if v - before.sql.get(k, 0)},
                      {k: v - before.jobs.get(k, 0) for k, v in self.jobs.items() if v - before.jobs.get(k, 0)})


def count_rows(counts: dict[str, int], per: int, by_table: bool = False) -> list[list[str]]:
    """Rows "name | total | per unit", largest first; `by_table` folds "table VERB" into tables
    and lists the verbs."""
    if by_table:
        folded: dict[str, int] = {}
        verbs: dict[str, dict[str, int]] = {}
        for key, count in counts.items():
            name, _, verb = key.partition(" ")
            folded[name] = folded.get(name, 0) + count
            verbs.setdefault(name, {})[verb] = verbs.get(name, {}).get(verb, 0) + count
        rows = [[name, str(count), f"{count / per:.2f}",
                 ", ".join(f"{v} {c / per:.2f}" for v, c in sorted(verbs[name].items(), key=lambda i: -i[1]))]
                for name, count in sorted(folded.items(), key=lambda item: -item[1])]
    else:
        rows = [[name, str(count), f"{count / per:.2f}"]
                for name, count in sorted(counts.items(), key=lambda item: -item[1])]
    total = sum(counts.values())
    return [*rows, ["total", str(total), f"{total / per:.2f}", *([""] if by_table else [])]]


def wait_http(url: str, timeout: float = 60, process: Process | None = None, below: int = 500) -> None:
    """Poll until `url` answers with a status under `below` (600: any answer, e.g. /health's 503
    while no worker runs)."""
    def up() -> bool:
        if process is not None and process.popen.poll() is not None:
            raise SystemExit(f"{process.name} exited; see {process.log}:\n{process.log.read_text()[-3000:]}")
        return httpx.get(url, timeout=2).status_code < below

    deadline = time.monotonic() + timeout
    while True:
        try:
            if up():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout}s")
        time.sleep(0.2)


def run_load(port: int, requests: list[tuple[str, dict, bytes]], *, concurrency: int, duration: float,
             max_requests: int, rate: float = 0.0) -> dict[str, Any]:
    """Run the load generator in its own process and return its JSON summary."""
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as handle:
        pickle.dump(requests, handle)
    try:
        argv = [sys.executable, "-m", "bench.load", "--port", str(port), "--requests-file", handle.name,
                "--concurrency", str(concurrency), "--duration", str(duration), "--max-requests",
                str(max_requests), "--rate", str(rate)]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=duration + 120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(handle.name)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (pastes into the README as is)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    return "\n".join([f"\n{title}\n", line, rule, *body])


def memory_table(running: Processes) -> str:
    return table("Peak memory (VmHWM)", ["process", "processes", "largest MiB", "sum MiB"], running.memory_rows())


def cpu_table(before: dict[str, float], after: dict[str, float], per: int, unit: str) -> str:
    """CPU seconds each process used between two snapshots, and per unit of work (ms)."""
    rows = []
    for name in after:
        used = after[name] - before.get(name, 0.0)
        label = "whole machine (shared: other people's work too)" if name == "machine" else name
        rows.append([label, f"{used:.1f}", f"{used * 1000 / per:.2f}" if per else "-"])
        if name == OURS and "sandbox" in after:  # in production Meta plays the sandbox's part
            used -= after["sandbox"] - before.get("sandbox", 0.0)
            rows.append([PRODUCTION, f"{used:.1f}", f"{used * 1000 / per:.2f}" if per else "-"])
    return table("CPU used during the run", ["process", "CPU s", f"CPU ms per {unit}"], rows)


def ms(value: float) -> str:
    return f"{value:.1f}"


def connect_page(env: dict[str, str], page_id: str) -> None:
    """Connect a page in the benchmark's database (already migrated) in a process of its own,
    as an operator would before Meta starts sending, so its deliveries are applied, not ignored.
    No subscription call: `GRAPH_API_URL` in `env` should point nowhere real."""
    code = ("import os\nfrom bot import commands\nfrom bot.platform import runtime\n"
            "from bot.platform.db import connection\nfrom bot.platform.settings import load_settings\n"
            "runtime.boot(load_settings(dict(os.environ)))\n"
            f"with connection(): commands.connect_page({page_id!r}, 'Bench Page', 'bench-token', subscribe=False)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
