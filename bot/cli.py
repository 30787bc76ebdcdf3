"""`socialdesk` command line: run everything embedded, or each part on its own for scaling out.

Every error is one clear line on stderr and a non-zero exit. Every mode is complete or refuses:
a server without Redis runs its jobs in-process (or says what to run), and SIGTERM (how systemd
and containers stop a service) stops a command and its children as Ctrl-C does.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

import peewee

from bot import commands
from bot.core.errors import ConfigError, SocialdeskError
from bot.platform import logs
from bot.platform.settings import TRUTHY, Settings, load_settings

log = logging.getLogger("socialdesk")

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Terminated(Exception):
    """SIGTERM arrived: unwind through every `finally` (stopping children) as Ctrl-C does."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        logs.configure()
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"socialdesk: configuration error: {exc}", file=sys.stderr)
        return 2
    except SocialdeskError as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 1
    except peewee.OperationalError as exc:  # unreachable database: one line, not a traceback
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        print(f"socialdesk: database unavailable: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 0  # asked to stop, stopped cleanly (systemd counts this as success)


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialdesk", description="Social inbox and automations for Meta channels.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int | None], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = command("run", cmd_run, "everything on one machine: API, workers, dashboard (and the sandbox)")
    p.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    p.add_argument("--no-sandbox", action="store_true",
                   help="never start the demo sandbox (META_APP_SECRET is then required)")
    p = command("api", cmd_api, "the webhook and REST API server (without REDIS_URL: with its workers in-process)")
    p.add_argument("--workers", type=int, default=1, help="API processes (default 1; more need REDIS_URL)")
    p = command("worker", cmd_worker, "Dramatiq worker processes (needs REDIS_URL)")
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    p.add_argument("--threads", type=int, default=8)
    command("dashboard", cmd_dashboard, "the Streamlit staff dashboard")
    command("migrate", cmd_migrate, "create or upgrade the database schema")
    p = command("sandbox", cmd_sandbox, "the sandbox Graph API on its own")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--webhook-url", default=None, help="where the sandbox posts webhooks")

    user = sub.add_parser("user", help="staff users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="add a staff user (password from a prompt or stdin)")
    p.add_argument("email")
    p.add_argument("--role", choices=("admin", "agent"), default="agent")
    p.add_argument("--name", default="")
    p.set_defaults(func=cmd_user_add)

    token = sub.add_parser("token", help="REST API tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("create", help="create an API token for a user (printed once)")
    p.add_argument("--user", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--expires-in-days", type=int, default=None, help="stop working after this many days")
    p.set_defaults(func=cmd_token_create)
    _token_commands(token)
    _unlock_command(user)

    channel = sub.add_parser("channel", help="connected pages").add_subparsers(dest="channel_command", required=True)
    p = channel.add_parser("connect", help="connect a Facebook Page (and its Instagram account) with a page token")
    p.add_argument("--page-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--instagram-id")
    p.add_argument("--instagram-username")
    p.set_defaults(func=cmd_channel_connect)
    return parser


def _boot(migrate: bool = True) -> Settings:
    from bot.platform import runtime

    return runtime.boot(_offline_settings(), migrate=migrate)


def _offline_settings() -> Settings:
    """Settings for commands that only touch the database (migrate, users, tokens): they never
    serve webhooks nor call Meta, so a missing Meta app is no reason to refuse them."""
    if os.environ.get("META_APP_SECRET"):
        return load_settings()
    return load_settings({**os.environ, "SOCIALDESK_SANDBOX": "1"})


def _serving_settings() -> Settings:
    """Settings for a process that serves or works (API, workers, dashboard): Meta's app must be
    configured, or the sandbox asked for explicitly (`SOCIALDESK_SANDBOX=1`). A missing app id
    only disables the token expiry check, loudly (here and in each channel's health)."""
    settings = load_settings()
    if not settings.sandbox and settings.meta_app_id is None:
        log.warning("META_APP_ID is not set: page tokens' expiry is not checked (the check asks Meta with "
                    "{META_APP_ID}|{META_APP_SECRET}); each channel's health says so")
    return settings


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot import migrations
    from bot.platform.db import open_database

    settings = _offline_settings()
    applied = migrations.upgrade(open_database(settings.database_url))
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The embedded default: one process with the API (and sandbox), worker threads and the clock;
    the dashboard in a child process."""
    from bot.platform import runtime

    _choose_sandbox(no_sandbox=args.no_sandbox)
    settings = runtime.boot(_serving_settings(), migrate=True)
    dashboard = None if args.no_dashboard else _spawn_dashboard(settings)
    try:
        _print_urls(settings, dashboard=dashboard is not None)
        _first_admin()
        _serve_with_workers(settings)
    finally:
        if dashboard is not None:
            _stop(dashboard)
    return 0


def _choose_sandbox(*, no_sandbox: bool) -> None:
    """`run` with no Meta app configured starts the demo sandbox, and says so; the choice is put
    in the environment so the dashboard child makes the same one."""
    if no_sandbox:
        os.environ.pop("SOCIALDESK_SANDBOX", None)
        return
    if os.environ.get("META_APP_SECRET") or os.environ.get("SOCIALDESK_SANDBOX", "").lower() in TRUTHY:
        return
    os.environ["SOCIALDESK_SANDBOX"] = "1"
    log.info("no Meta app configured (META_APP_SECRET is not set): starting the demo sandbox; "
             "set META_APP_SECRET and META_APP_ID to connect real pages")


def _serve_with_workers(settings: Settings) -> None:
    """The API, worker threads and the clock in this process, until Ctrl-C or SIGTERM."""
    import uvicorn

    from api.app import create_app
    from bot.clock import Clock
    from bot.demo import ensure_demo_channel
    from bot.platform import collector, queue

    worker = queue.start_inprocess_worker(settings.worker_threads)
    clock = Clock().start()
    try:
        app = create_app(settings)
        if settings.sandbox:
            app.on_startup.append(_later(ensure_demo_channel, settings))
        collector.settle()
        uvicorn.Server(_uvicorn_config(app, settings)).run()
    finally:
        clock.stop()
        worker.stop()


def _uvicorn_config(app: object, settings: Settings) -> object:
    import uvicorn

    # log_config=None: uvicorn's records go through our handler, in our one format.
    return uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning", log_config=None)


def _print_urls(settings: Settings, *, dashboard: bool) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    print(f"socialdesk API        {api}  (webhook: /webhooks/meta, health: /health, metrics: /metrics)")
    if dashboard:
        print(f"socialdesk dashboard  http://127.0.0.1:{settings.dashboard_port}")
    if settings.sandbox:
        print(f"sandbox Graph API     {api}/sandbox  (demo: no Meta app configured)")
    sys.stdout.flush()


def _first_admin() -> None:
    """Nobody can sign in before a staff user exists: ask for the first admin on a terminal,
    otherwise print the one command that creates it."""
    from bot.platform.db import connection
    from bot.platform.models import User
    from bot.staff import auth

    with connection():
        if User.select().exists():
            return
        if not sys.stdin.isatty():
            print("No staff user yet. Create the first admin (it asks for the password):\n"
                  "  socialdesk user add you@example.com --role admin", flush=True)
            return
        email = input("No staff user yet. E-mail of the first admin (empty: later): ").strip()
        if not email:
            return
        try:
            user = auth.add_user(email, getpass.getpass("Password: "), "admin", "")
        except SocialdeskError as exc:  # a short password must not stop the service from starting
            print(f"not added ({exc}); later: socialdesk user add {email} --role admin")
            return
        print(f"added admin {user.email}")


def cmd_api(args: argparse.Namespace) -> int:
    """With Redis: uvicorn's processes, jobs left to `socialdesk worker`. Without: one process that
    also runs the jobs (an in-process queue is not shared between processes)."""
    import uvicorn

    from bot.platform import runtime

    settings = runtime.boot(_serving_settings(), migrate=True)
    if not settings.redis_url:
        if args.workers != 1:
            raise ConfigError("REDIS_URL", "is not set: without Redis the API runs its jobs in its one process; "
                              "set REDIS_URL and run `socialdesk worker` to use --workers "
                              f"{args.workers}, or use `socialdesk run`")
        log.info("REDIS_URL is not set: jobs run in this process (in-process queue)")
        _serve_with_workers(settings)
        return 0
    os.environ.setdefault("SOCIALDESK_API_PORT", str(settings.api_port))
    uvicorn.run("api.app:serve_app", factory=True, host=settings.api_host, port=settings.api_port,
                workers=args.workers, log_level="warning", log_config=None)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Dramatiq's own process supervisor; each worker process boots itself (`bot.worker_boot`).
    Nothing is left open here before the fork."""
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from bot import migrations
    from bot.platform.db import open_database

    settings = _serving_settings()
    if not settings.redis_url:
        raise ConfigError("REDIS_URL", "separate workers need Redis; without it `socialdesk run` or "
                          "`socialdesk api` runs them in-process")
    database = open_database(settings.database_url)
    migrations.upgrade(database)
    database.close()
    _lower_priority(settings.worker_nice)  # inherited by Dramatiq's processes
    os.environ["SOCIALDESK_WORKER_THREADS"] = str(min(64, args.threads))  # its processes size their pools by it
    argv = ["bot.worker_boot", "--processes", str(args.processes), "--threads", str(args.threads),
            "--queues", "socialdesk"]
    return dramatiq_main(make_argument_parser().parse_args(argv)) or 0


def _lower_priority(nice: int) -> None:
    """Give the CPU to the API first when both want it: a burst of webhooks is acknowledged at the
    API's full rate (Meta retries, then disables, a slow endpoint) and the workers apply the backlog
    when the burst is over (issue 18: with equal priority a draining worker halved the rate the API
    could acknowledge on 2 cores). On an idle machine the niceness changes nothing. Raising one's
    own niceness needs no privilege; it is never lowered here."""
    if os.getpriority(os.PRIO_PROCESS, 0) < nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from bot.platform import runtime

    settings = runtime.boot(_serving_settings(), migrate=True)
    dashboard = _spawn_dashboard(settings)
    try:
        return dashboard.wait()
    finally:
        _stop(dashboard)


def cmd_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.platform import collector
    from sandbox.app import create_sandbox_app

    settings = load_settings({**os.environ, "SOCIALDESK_SANDBOX": "1"})  # this command is the sandbox
    webhook = args.webhook_url or f"http://127.0.0.1:{settings.api_port}/webhooks/meta"
    app = create_sandbox_app(settings.meta_app_secret, webhook)
    collector.settle()
    uvicorn.run(app, host="127.0.0.1", port=args.port,
                log_level="warning", log_config=None)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from bot.staff import auth

    _boot()
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    user = auth.add_user(args.email, password, args.role, args.name)
    print(f"added {user.role} {user.email}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from bot.staff import auth

    _boot()
    print(auth.create_api_token(args.user, args.name, args.expires_in_days))
    return 0


def _token_commands(token: argparse._SubParsersAction) -> None:
    p = token.add_parser("list", help="list API tokens (never the tokens themselves): status, expiry, last use")
    p.add_argument("--user", default=None, help="only this user's tokens (e-mail)")
    p.set_defaults(func=cmd_token_list)
    p = token.add_parser("revoke", help="revoke one API token by its id (from `token list`)")
    p.add_argument("token_id", type=int)
    p.set_defaults(func=cmd_token_revoke)


def _unlock_command(user: argparse._SubParsersAction) -> None:
    p = user.add_parser("unlock", help="let a user locked out by failed sign-ins sign in again at once")
    p.add_argument("email")
    p.set_defaults(func=cmd_user_unlock)


def cmd_token_list(args: argparse.Namespace) -> int:
    from bot.core.errors import NotFound
    from bot.platform.models import User
    from bot.staff import auth

    _boot()
    user = User.get_or_none(User.email == args.user.strip().lower()) if args.user else None
    if args.user and user is None:
        raise NotFound("user", args.user)
    print(f"{'id':>5}  {'status':<8} {'user':<30} {'name':<20} {'created':<16} {'expires':<16} last used")
    for row in auth.tokens(user.id if user else None):
        print(f"{row.id:>5}  {row.status:<8} {row.email[:30]:<30} {row.name[:20]:<20} {_day(row.created_at):<16} "
              f"{_day(row.expires_at):<16} {_day(row.last_used_at)}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from bot.staff import auth

    _boot()
    row = auth.revoke_token(args.token_id)
    print(f"revoked token {row.id} ({row.name or 'unnamed'}) of {row.email}")
    return 0


def cmd_user_unlock(args: argparse.Namespace) -> int:
    from bot.staff import signin

    _boot()
    had = signin.unlock(args.email)
    print(f"unlocked {args.email.strip().lower()}" if had else f"{args.email} had no failed sign-ins on record")
    return 0


def _day(ms: int | None) -> str:
    """A timestamp for the terminal (UTC), or '-'."""
    if ms is None:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def cmd_channel_connect(args: argparse.Namespace) -> int:
    from bot.platform import runtime

    runtime.boot(_serving_settings(), migrate=True)  # calls Meta: the app must be configured
    token = getpass.getpass("Page token: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    connected = commands.connect_page(args.page_id, args.name, token, instagram_id=args.instagram_id,
                                      instagram_username=args.instagram_username)
    for channel in connected:
        print(f"connected {channel.platform} {channel.account_id} ({channel.name})")
    return 0


def _later(coroutine_fn: Callable, *args: object) -> Callable:
    """A startup hook that runs `coroutine_fn(*args)` once the server is up (it may call the
    server itself, which only listens after startup)."""

    async def hook() -> None:
        import asyncio

        asyncio.get_running_loop().create_task(coroutine_fn(*args))

    return hook


def _spawn_dashboard(settings: Settings) -> subprocess.Popen:
    # `dashboard.serve` is `streamlit run dashboard/app.py` with the imports and the boot done
    # before the server starts, so the first visitor does not wait for them.
    command = [sys.executable, "-m", "dashboard.serve",
               "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={settings.dashboard_port}",
               f"--server.maxUploadSize={settings.upload_max_mib}",  # attachments: refused beyond, by Streamlit
               "--browser.gatherUsageStats=false", "--client.toolbarMode=minimal", "--logger.level=warning"]
    # stdout: Streamlit's own banner (the URL is printed by us); its warnings and errors come on stderr.
    return subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)  # noqa: PLW1509


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGTERM if we die without stopping it
    (SIGKILL, a crash), so no dashboard outlives its `socialdesk`."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the `finally` of the parent still stops it
        return


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    sys.exit(main())
