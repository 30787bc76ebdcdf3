"""`socialdesk` command line: run everything embedded, or each part on its own for scaling out.

Every error is one clear line on stderr and a non-zero exit.
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
from pathlib import Path

from bot.errors import ConfigError, SocialdeskError
from bot.settings import Settings, load_settings

DASHBOARD_SCRIPT = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("SOCIALDESK_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"socialdesk: configuration error: {exc}", file=sys.stderr)
        return 2
    except SocialdeskError as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialdesk", description="Social inbox and automations for Meta channels.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int | None], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    command("run", cmd_run, "everything on one machine: API, workers, dashboard (and the sandbox)")
    p = command("api", cmd_api, "the webhook and REST API server")
    p.add_argument("--workers", type=int, default=1, help="API processes (default 1)")
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
    from bot import runtime

    return runtime.boot(load_settings(), migrate=migrate)


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot import migrations
    from bot.db import open_database

    settings = load_settings()
    applied = migrations.upgrade(open_database(settings.database_url))
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The embedded default: one process with the API (and sandbox), worker threads and the clock;
    the dashboard in a child process."""
    import uvicorn

    from api.app import create_app
    from bot import queue
    from bot.clock import Clock
    from bot.demo import ensure_demo_channel

    settings = _boot()
    worker = queue.start_inprocess_worker(settings.worker_threads)
    clock = Clock().start()
    dashboard = _spawn_dashboard(settings)
    app = create_app(settings)
    print(f"socialdesk API        http://{settings.api_host}:{settings.api_port}  (webhook: /webhooks/meta)")
    print(f"socialdesk dashboard  http://127.0.0.1:{settings.dashboard_port}")
    if settings.sandbox:
        print(f"sandbox Graph API     http://{settings.api_host}:{settings.api_port}/sandbox  (no Meta app configured)")
    server = uvicorn.Server(uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning"))
    if settings.sandbox:
        app.on_startup.append(_later(ensure_demo_channel, settings))
    try:
        server.run()
    finally:
        clock.stop()
        worker.stop()
        _stop(dashboard)
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _boot()
    os.environ.setdefault("SOCIALDESK_API_PORT", str(settings.api_port))
    uvicorn.run("api.app:create_app", factory=True, host=settings.api_host, port=settings.api_port,
                workers=args.workers, log_level="warning")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Dramatiq's own process supervisor; each worker process boots itself (`bot.worker_boot`).
    Nothing is left open here before the fork."""
    # An idle Redis consumer polls with a backoff up to this many ms (Dramatiq's default 1,000 adds up
    # to a second per hop: webhook -> expand -> apply -> send). Read when dramatiq is first imported.
    os.environ.setdefault("dramatiq_worker_timeout", "100")
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from bot import migrations
    from bot.db import open_database

    settings = load_settings()
    if not settings.redis_url:
        raise ConfigError("REDIS_URL", "separate workers need Redis; without it `socialdesk run` runs them in-process")
    database = open_database(settings.database_url)
    migrations.upgrade(database)
    database.close()
    argv = ["bot.worker_boot", "--processes", str(args.processes), "--threads", str(args.threads),
            "--queues", "socialdesk"]
    return dramatiq_main(make_argument_parser().parse_args(argv)) or 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = _boot()
    return _spawn_dashboard(settings).wait()


def cmd_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.sandbox.app import create_sandbox_app

    settings = load_settings()
    webhook = args.webhook_url or f"http://127.0.0.1:{settings.api_port}/webhooks/meta"
    uvicorn.run(create_sandbox_app(settings.meta_app_secret, webhook), host="127.0.0.1", port=args.port,
                log_level="warning")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from bot import auth

    _boot()
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    user = auth.add_user(args.email, password, args.role, args.name)
    print(f"added {user.role} {user.email}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from bot import auth

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
    from bot import auth
    from bot.errors import NotFound
    from bot.models import User

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
    from bot import auth

    _boot()
    row = auth.revoke_token(args.token_id)
    print(f"revoked token {row.id} ({row.name or 'unnamed'}) of {row.email}")
    return 0


def cmd_user_unlock(args: argparse.Namespace) -> int:
    from bot import signin

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
    from bot import channels

    _boot()
    token = getpass.getpass("Page token: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    connected = channels.connect_page(args.page_id, args.name, token, instagram_id=args.instagram_id,
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
    command = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_SCRIPT),
               "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={settings.dashboard_port}",
               "--browser.gatherUsageStats=false", "--client.toolbarMode=minimal"]
    return subprocess.Popen(command, env=os.environ.copy())


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    sys.exit(main())
