"""What the dashboard keeps between reruns, and what it holds once per process.

Streamlit reruns a page script on every click and every few seconds for live parts, in a fresh
thread each time. So this module owns four things the pages must not improvise:

- the process boot (settings, database, broker) done once per settings with `st.cache_resource`,
  with the queue detached so jobs the dashboard enqueues run here when there is no Redis;
- the session keys: the login token (only its hash is in the database), the open
  conversation, unsent reply drafts and one-shot notices;
- the login cookie: a browser reload starts a new Streamlit session with empty session state,
  so the opaque session token is also kept in a cookie (SameSite=Strict, living as long as the
  session, cleared on sign-out) and read back from the first request of the new session;
- a database scope per run, so pooled PostgreSQL connections go back to the pool when a
  script thread ends;
- speed: cached reads (`cached`), keyed on a data version that changes the moment this process
  writes anything and, for what other processes (API, workers) change, every `FRESH_SECONDS`;
  and the warm-up that imports the pages' modules in the background once per process.

Reads and writes go through `bot` services; the few read models `bot.queries` lacks are at the
bottom, marked for moving there.
"""

from __future__ import annotations

import ast
import importlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from bot.core.errors import NotFound
from bot.platform import queue, registry, runtime
from bot.platform.db import db
from bot.platform.models import Campaign, Channel, User
from bot.platform.settings import META_GRAPH_URL, Settings, load_settings
from bot.staff import auth, permissions, signin
from bot.staff.permissions import Action

if TYPE_CHECKING:
    import peewee

    from bot.automation.campaign_stats import Funnel
    from bot.automation.campaigns import CampaignSpec

TOKEN = "sd_session_token"
COOKIE = "socialdesk_session"  # the browser's copy of TOKEN; never in the URL
COOKIE_READ = "sd_cookie_read"  # this session has looked at the cookie its browser sent
COOKIE_SCRIPT = "sd_cookie_script"  # the script storing this session's token, drawn once signed in
OPEN_CONVERSATION = "sd_open_conversation"
DRAFTS = "sd_drafts"
NOTICE = "sd_notice"
LIVE_SECONDS = 3  # how often live parts (inbox, thread, bell) look for news

P = ParamSpec("P")
R = TypeVar("R")


# --- process ------------------------------------------------------------------------------------


def boot() -> Settings:
    """Configure this process from the environment, once per distinct settings."""
    return _boot_once(load_settings())


@st.cache_resource(show_spinner=False, hash_funcs={Settings: hash})
def _boot_once(settings: Settings) -> Settings:
    # The dashboard has no worker of its own: without Redis, jobs it enqueues (a staff reply's
    # send) run in a thread here instead of waiting in a queue nobody reads.
    runtime.boot(settings)
    queue.detach()
    watch_writes(db.obj)
    return settings


def settings() -> Settings:
    return runtime.settings()


def sandbox_url() -> str | None:
    """The sandbox's base URL when the Graph API in use is the built-in emulator, else None."""
    current = settings()
    if not current.sandbox and current.graph_api_url.startswith(META_GRAPH_URL):
        return None
    return current.graph_api_url.removesuffix("/graph")


@contextmanager
def db_scope() -> Iterator[None]:
    """Close this thread's connection when the run ends (each rerun is a new thread)."""
    try:
        yield
    finally:
        if not db.is_closed():
            db.close()


def with_db(fn: Callable[P, R]) -> Callable[P, R]:
    """For callbacks and fragments, which run outside the page script's own scope."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with db_scope():
            return fn(*args, **kwargs)

    return wrapper


# --- login --------------------------------------------------------------------------------------


def current_user() -> User | None:
    """The staff user of this browser session, re-checked on every run so an expired or
    deactivated session stops at once."""
    token = st.session_state.get(TOKEN) or _token_from_cookie()
    user = auth.session_user(token)
    if user is None and token:
        st.session_state.pop(TOKEN, None)
        notice("Your session has expired. Please sign in again.", "warning")
    return user


def _token_from_cookie() -> str | None:
    """After a browser reload: the token the browser sent with the session's first request.
    Looked at once per session, because Streamlit keeps that request's cookies for the whole
    session, so after signing out they still hold the old token."""
    if st.session_state.get(COOKIE_READ):
        return None
    st.session_state[COOKIE_READ] = True
    token = st.context.cookies.get(COOKIE)
    if not isinstance(token, str) or not token:  # (AppTest's stand-in client has no real cookies)
        return None
    st.session_state[TOKEN] = token
    return token


def user_or_stop() -> User:
    """For page bodies and live fragments: the signed-in user, or a full rerun, which shows
    the sign-in form (a fragment refreshing on its own must not outlive its session)."""
    user = current_user()
    if user is None:
        st.rerun(scope="app")
    return user


def log_in(email: str, password: str) -> User | None:
    """Sign in through the throttle (`bot.staff.signin`): raises Throttled while the account or this
    browser's address must wait after failed sign-ins."""
    user = signin.sign_in(email, password, client_address())
    if user is not None:
        token = auth.start_session(user, auth.SESSION_TTL_MS)
        st.session_state[TOKEN] = token
        st.session_state[COOKIE_READ] = True
        st.session_state[COOKIE_SCRIPT] = _cookie_script(token, auth.SESSION_TTL_MS // 1000)
    return user


def client_address() -> str:
    """The browser's address as Streamlit's server saw it (behind a reverse proxy, the proxy's)."""
    return getattr(st.context, "ip_address", None) or "unknown"


def log_out() -> None:
    token = st.session_state.get(TOKEN)
    if token:
        auth.end_session(token)
    st.session_state.clear()
    st.session_state[COOKIE_READ] = True  # the cookie this session started with is stale now


def remember_login() -> None:
    """Store the token of a sign-in made in this session in the browser (drawn on every run with
    the same body, so the script runs once, when first shown)."""
    script = st.session_state.get(COOKIE_SCRIPT)
    if script:
        st.html(script, unsafe_allow_javascript=True)


def forget_login() -> None:
    """Remove the browser's copy of the token (the sign-in form draws this: whoever sees it has
    no live session, so whatever token the browser holds is useless)."""
    st.html(_cookie_script("", 0), unsafe_allow_javascript=True)


def _cookie_script(token: str, max_age: int) -> str:
    """A script setting (or, with max-age 0, deleting) the session cookie, then removing itself
    from the page. Set from JavaScript because Streamlit cannot send Set-Cookie headers, so the
    cookie cannot be HttpOnly; SameSite=Strict keeps other sites' requests from carrying it, and
    `Secure` (whenever PUBLIC_URL is https, or the page itself is) keeps it off plain http."""
    secure = "; Secure" if settings().public_url.lower().startswith("https://") else ""
    cookie = json.dumps(f"{COOKIE}={token}; Max-Age={max_age}; Path=/; SameSite=Strict{secure}")
    return (f"<script>document.cookie = {cookie} + (location.protocol === 'https:' ? '; Secure' : '');"
            "document.currentScript.remove();</script>")


def may(user: User, action: Action) -> bool:
    """The one permission table (`bot.staff.permissions`), as the REST API's guards consult it."""
    return permissions.allowed(user.role, action)


def require(user: User | None, action: Action) -> User:
    """Stop a page for anyone whose role may not do `action` (navigation hides it too; this is
    the second lock, for a page reached by its address)."""
    if user is None or not may(user, action):
        st.error("Your role may not open this page.")
        st.stop()
    return user


# --- conversation and drafts --------------------------------------------------------------------


def open_conversation_id() -> int | None:
    """The conversation to show: `?conversation=` in the URL (deep links) wins over the session."""
    raw = st.query_params.get("conversation") or st.session_state.get(OPEN_CONVERSATION)
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def remember_conversation(conversation_id: int) -> None:
    st.session_state[OPEN_CONVERSATION] = conversation_id


def drafts() -> dict[str, Any]:
    """Unsent reply parts by widget key. Widget values vanish when a widget is not drawn
    (another page, another conversation); this plain dict keeps them until sent."""
    return st.session_state.setdefault(DRAFTS, {})


def keep_draft(key: str, then: Callable[[], None] | None = None) -> None:
    """on_change callback: copy a composer widget's value into the drafts, then run `then`
    (e.g. saving the reply text in the database, which outlives this session)."""
    drafts()[key] = st.session_state.get(key)
    if then is not None:
        then()


def restore_draft(key: str, default: Any = None) -> None:
    """Before drawing a composer widget: put back what was typed earlier."""
    if key not in st.session_state:
        st.session_state[key] = drafts().get(key, default)


def clear_drafts(prefix: str, defaults: dict[str, Any]) -> None:
    """After sending: empty the composer (only from a callback, before widgets are drawn)."""
    for key in [k for k in drafts() if k.startswith(prefix)]:
        del drafts()[key]
    for key, value in defaults.items():
        st.session_state[key] = value


# --- notices and time ---------------------------------------------------------------------------


def notice(text: str, kind: str = "success") -> None:
    """A message shown once on the next run (callbacks cannot draw)."""
    st.session_state[NOTICE] = (kind, text)


def show_notice() -> None:
    kind, text = st.session_state.pop(NOTICE, (None, None))
    if text:
        {"success": st.success, "warning": st.warning, "error": st.error}.get(kind, st.info)(text)


def browser_zone() -> tzinfo:
    try:
        return ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def when(ms: int | None, *, with_date: bool = True) -> str:
    """A Meta/ms timestamp in the viewer's time zone."""
    if ms is None:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, browser_zone())
    return moment.strftime("%d %b %Y %H:%M" if with_date else "%H:%M")


def value(key: str, default: Any = None) -> Any:
    """A field's current value: the widget's if drawn this session, else its draft."""
    if key in st.session_state:
        return st.session_state[key]
    return drafts().get(key, default)


# --- campaigns --------------------------------------------------------------------------------------


def campaign_list() -> list[Campaign]:
    """Every campaign, newest first (cached: see `cached`)."""
    return cached(_campaign_list)


def _campaign_list() -> list[Campaign]:
    from bot.automation import campaigns

    return campaigns.list_campaigns()


def campaign_spec(campaign_id: int) -> tuple[Campaign, CampaignSpec] | None:
    """A saved campaign and its spec, or None when it no longer exists."""
    from bot.automation import campaigns

    try:
        return campaigns.load(campaign_id)
    except NotFound:
        return None


def funnel(campaign_id: int) -> Funnel:
    """A campaign's numbers (`campaign_stats.funnel`, a dozen queries and a walk over its ledger),
    cached: the campaign list and the stats page redraw them on every click."""
    return cached(_funnel, campaign_id)


def _funnel(campaign_id: int) -> Funnel:
    from bot.automation import campaign_stats

    return campaign_stats.funnel(campaign_id)


# --- cached reads -----------------------------------------------------------------------------------
# Streamlit reruns the whole page on every click, so what a page reads but rarely changes is
# read once and kept (`st.cache_data`, copied out on each use), keyed on a data version: the count
# of writes this process has made (`watch_writes`: a command run from any page, a callback,
# another session) and a time slot of FRESH_SECONDS. So a change made here shows on the very
# next rerun, and one made by another process (the REST API, workers applying webhooks) within
# FRESH_SECONDS. Live views (the inbox list, a thread, the bell) are never cached.

FRESH_SECONDS = 30
_writes = {"count": 0}
_writes_lock = threading.Lock()


def watch_writes(database: peewee.Database) -> None:
    """Count this process's writes: after every statement that is not a plain read, and after
    every commit (a reader that ran between a transaction's write and its commit cannot keep
    what it read under the new version). Counts from now: what was written before is newer
    than anything cached under the old count."""
    wrote()
    if getattr(database, "_sd_watched", False):
        return
    database._sd_watched = True
    execute, commit = database.execute_sql, database.commit

    def execute_sql(sql: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return execute(sql, *args, **kwargs)
        finally:
            if not sql.lstrip()[:6].upper().startswith("SELECT"):
                wrote()

    def commit_and_count(*args: Any, **kwargs: Any) -> Any:
        try:
            return commit(*args, **kwargs)
        finally:
            wrote()

    database.execute_sql, database.commit = execute_sql, commit_and_count


def wrote() -> None:
    with _writes_lock:
        _writes["count"] += 1


def data_version() -> tuple[int, int, int]:
    """(the database, writes made by this process, the current FRESH_SECONDS slot): taken
    before the data is read."""
    return id(db.obj), _writes["count"], int(_now() // FRESH_SECONDS)


def _now() -> float:
    return time.time()


def cached(read: Callable[..., R], *args: Any) -> R:
    """`read(*args)`, from the cache while the data version has not changed. Entries are told
    apart by the function's module and name, and its arguments; those and the result must be
    picklable."""
    name = f"{read.__module__}.{read.__qualname__}"
    _reads[name] = read
    return _cached_read(name, args, data_version())


_reads: dict[str, Callable[..., Any]] = {}


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_read(name: str, args: tuple, version: tuple[int, int, int]) -> Any:
    return _reads[name](*args)


def staff_users() -> list[User]:
    """Every staff user, by e-mail (`queries.staff_users`: the inbox's assignee filter)."""
    from bot import queries

    return cached(queries.staff_users)


def channels() -> list[Channel]:
    """The connected pages and accounts (`registry.list_channels`)."""
    return cached(registry.list_channels)


def tag_names() -> list[str]:
    """Every tag's name (`queries.tag_names`: the inbox's tag filter, the tag editor)."""
    from bot import queries

    return cached(queries.tag_names)


# --- warm-up ------------------------------------------------------------------------------------------
# Streamlit's browser code loads each kind of widget the first time a page shows one and draws a
# grey placeholder until then (the inbox's filters, right after signing in). The sign-in form,
# where staff spend seconds typing, has the browser do that for the widgets the staff pages use:
# one of each, drawn out of sight. (Charts and tables are left to the pages that show them:
# fetching their megabyte of code here slowed the sign-in itself when it came at once.)
PRELOAD = "sd_preload"  # the hidden container's key (its CSS class is st-key-sd_preload)


def preload_widgets() -> None:
    """Draw one of each widget kind the staff pages use, out of sight."""
    st.html(f"<style>.st-key-{PRELOAD} {{display: none}}</style>")
    with st.container(key=PRELOAD):
        st.selectbox("preload", ["-"], key=f"{PRELOAD}_select", label_visibility="hidden")
        st.multiselect("preload", ["-"], key=f"{PRELOAD}_multi", label_visibility="hidden")
        st.toggle("preload", key=f"{PRELOAD}_toggle")
        st.checkbox("preload", key=f"{PRELOAD}_check")
        st.radio("preload", ["-"], key=f"{PRELOAD}_radio", label_visibility="hidden")
        st.text_area("preload", key=f"{PRELOAD}_text", label_visibility="hidden")
        st.number_input("preload", key=f"{PRELOAD}_number", label_visibility="hidden")
        st.button("preload", key=f"{PRELOAD}_button")
        st.metric("preload", 0)
        st.popover("preload")
        st.expander("preload")


_warm = threading.Event()  # the modules of every page are imported


def warm_up(dashboard: Path) -> None:
    """Once per process, in the background: import every module the entry script and the pages
    import (the first visit of Stats would otherwise spend a second importing pandas and Altair).
    `python -m dashboard.serve` has done it before serving."""
    if not _warm.is_set():
        _start_warm_up(dashboard)


@st.cache_resource(show_spinner=False)
def _start_warm_up(dashboard: Path) -> threading.Thread:
    thread = threading.Thread(target=warm_up_now, args=(dashboard,), name="dashboard-warm-up", daemon=True)
    thread.start()
    return thread


WARM_UP_PARSES = 3


def warm_up_now(dashboard: Path) -> None:
    """The warm-up's work, in its thread. CPython 3.11's parser may fail with "SystemError: AST
    constructor recursion depth mismatch" when another thread compiles at the same moment (seen
    once in CI while Streamlit compiled a page): that parse is tried again; if every try fails the
    pages import what they need on their first visit, only slower."""
    for _ in range(WARM_UP_PARSES):
        try:
            names = imported_by(dashboard)
        except SystemError:
            continue
        import_all(names)
        return


def imported_by(dashboard: Path) -> list[str]:
    """Modules imported anywhere in `app.py` and the page scripts; `from a import b` gives `a.b`
    (b may be a module) and `a`."""
    names: list[str] = []
    for script in [dashboard / "app.py", *sorted((dashboard / "app_pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names += [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
    return list(dict.fromkeys(n for n in names if n != "__future__"))


def import_all(names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # `a.b` where b is not a module, or a module that fails: its page will say
            continue
    _warm.set()
