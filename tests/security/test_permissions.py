# ruff: noqa: F811 - pytest fixtures are imported by name and named again as arguments
"""One permission table (`bot.staff.permissions`) decides what a role may do, and both doors ask it:
every REST route is guarded by an action of the table, and the dashboard shows an agent only
the pages of actions the agent is allowed (agents once ran campaigns and edited flows there)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from streamlit.testing.v1 import AppTest

from bot.platform.settings import Settings
from bot.staff import permissions
from bot.staff.permissions import Action
from tests.api.conftest import Api, api  # noqa: F401 - the `api` fixture
from tests.dashboard.conftest import APP, admin_app, agent_app, desk  # noqa: F401 - fixtures

AGENT_PAGES_REFUSED = ("app_pages/campaigns.py", "app_pages/flows.py", "app_pages/stats.py",
                       "app_pages/settings.py", "app_pages/sandbox.py")


def test_the_table() -> None:
    assert all(permissions.allowed("admin", action) for action in Action)
    assert {a for a in Action if permissions.allowed("agent", a)} == {
        Action.WORK_INBOX, Action.VIEW_CHANNELS, Action.OWN_TOKENS}
    assert not any(permissions.allowed("intern", action) for action in Action)


def _rest_routes(settings: Settings) -> list[tuple[str, str, list[str]]]:
    """(method, path, guard names) of every REST route."""
    from api.app import create_app

    app: Litestar = create_app(settings, mount_sandbox=False)
    found = []
    for route in app.routes:
        if not route.path.startswith("/api/v1"):
            continue
        for handler in getattr(route, "route_handlers", []):
            guards = [g.__name__ for layer in handler.ownership_layers for g in (layer.guards or [])]
            for method in handler.http_methods:
                found.append((method, route.path, guards))
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_rest_route_asks_the_table(stack) -> None:  # noqa: ANN001 - the stack boots settings
    routes = _rest_routes(stack.settings)
    assert len(routes) > 40
    unguarded = [(m, p) for m, p, guards in routes if not any(g.startswith("requires_") for g in guards)]
    assert unguarded == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_agent_over_rest_gets_exactly_what_the_table_allows(api: Api) -> None:  # noqa: F811
    probes = {Action.WORK_INBOX: ("GET", "/conversations"), Action.VIEW_CHANNELS: ("GET", "/channels"),
              Action.MANAGE_CAMPAIGNS: ("GET", "/campaigns"), Action.MANAGE_FLOWS: ("GET", "/flows"),
              Action.MANAGE_USERS: ("GET", "/users"), Action.MANAGE_WEBHOOKS: ("GET", "/webhooks"),
              Action.OWN_TOKENS: ("GET", "/tokens"), Action.MANAGE_CHANNELS: ("POST", "/channels/1/backfill")}
    for action, (method, path) in probes.items():
        status = api.call(method, path, as_="agent", json={"since": 0}).status_code
        assert (status != 403) == permissions.allowed("agent", action), (action, status)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_agents_dashboard_has_no_campaigns_flows_or_settings(agent_app: AppTest) -> None:  # noqa: F811
    for page in AGENT_PAGES_REFUSED:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            agent_app.switch_page(page)
    agent_app.switch_page("app_pages/tokens.py").run()
    assert not agent_app.exception
    assert "API tokens" in [t.value for t in agent_app.title]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("page", ["campaigns.py", "flows.py", "stats.py", "settings.py"])
def test_a_page_refuses_a_role_the_table_does_not_allow(agent_app: AppTest, page: str) -> None:  # noqa: F811
    """The second lock: the page script itself asks the table, should it be reached without the
    navigation (run here on its own with the agent's session)."""
    script = AppTest.from_file(str(APP.parent / "app_pages" / page), default_timeout=30)
    script.session_state["sd_session_token"] = agent_app.session_state["sd_session_token"]
    script.run()
    assert [e.value for e in script.error] == ["Your role may not open this page."]
    assert not script.title
