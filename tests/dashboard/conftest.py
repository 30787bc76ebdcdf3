"""Dashboard fixtures: the real stack (API, sandbox, worker, database) plus the environment the
dashboard boots from, and AppTest sessions signed in through the login form."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_SECRET, SECRET_KEY, VERIFY_TOKEN
from tests.servers import Stack

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
ADMIN = ("admin@example.com", "admin-password")
AGENT = ("agent@example.com", "agent-password")


def dashboard_env(stack: Stack) -> dict[str, str]:
    """The environment a dashboard process needs to join `stack` (same database, keys, Graph API)."""
    settings = stack.settings
    return {"DATABASE_URL": settings.database_url, "SOCIALDESK_SECRET_KEY": SECRET_KEY,
            "META_APP_SECRET": APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN,
            "SOCIALDESK_EMAIL_COALESCE_SECONDS": "1", "GRAPH_API_URL": settings.graph_api_url,
            "SOCIALDESK_API_PORT": str(settings.api_port)}


@pytest.fixture
def desk(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The stack, with staff users and this process's environment set as the dashboard reads it."""
    from bot.platform.db import connection
    from bot.platform.settings import load_settings
    from bot.staff import auth
    from dashboard import state

    for name, value in dashboard_env(stack).items():
        monkeypatch.setenv(name, value)
    assert load_settings() == stack.settings  # the dashboard's boot is then the stack's own
    state._boot_once.clear()
    with connection():
        auth.add_user(ADMIN[0], ADMIN[1], "admin", "Ada Admin")
        auth.add_user(AGENT[0], AGENT[1], "agent", "Alex Agent")
    with connection():
        yield stack


def sign_in(email: str, password: str) -> AppTest:
    """A dashboard session signed in through the login form."""
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    app.text_input(key="login_email").input(email)
    app.text_input(key="login_password").input(password)
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def admin_app(desk: Stack) -> AppTest:
    return sign_in(*ADMIN)


@pytest.fixture
def agent_app(desk: Stack) -> AppTest:
    return sign_in(*AGENT)


def texts(app: AppTest) -> str:
    """Everything written on the page (markdown, captions, titles, alerts), for assertions."""
    parts: list[str] = []
    kinds = ("markdown", "caption", "title", "header", "subheader", "success", "error", "warning", "info")
    for kind in kinds:
        parts += [str(element.value) for element in getattr(app, kind)]
    return "\n".join(parts)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20) -> object:
    return Stack.wait(condition, timeout=timeout, what=what)


def customer_writes(desk: Stack, name: str, text: str, *, account: str | None = None,
                    **extra: object) -> tuple[int, str]:
    """A new sandbox customer sends a DM (a signed webhook); returns (conversation id, user id)."""
    from bot.platform.models import Conversation, Identity

    account = account or desk.page["page_id"]
    user_id = desk.control("customers", account_id=account, name=name)["user_id"]
    desk.control("dm", account_id=account, user_id=user_id, text=text, **extra)
    conversation = desk.wait(lambda: Conversation.select()
                             .join(Identity, on=Conversation.identity == Identity.id)
                             .where(Identity.scoped_id == user_id).first(), what=f"{name}'s conversation")
    return conversation.id, user_id


def open_conversation(app: AppTest, conversation_id: int) -> AppTest:
    app.session_state["sd_open_conversation"] = conversation_id
    app.switch_page("app_pages/conversation.py").run()
    assert not app.exception, app.exception
    return app
