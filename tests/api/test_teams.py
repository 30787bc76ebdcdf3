"""Teams over REST on the live stack, in one run: admins create and change teams (agents read
them), a conversation is given to a team and the inbox filters by it (`team_id`, `my_teams`),
the helpdesk's outgoing-webhook events reach a subscribed receiver (team changed, snoozed,
unsnoozed by a reopen, attribute changed), and the CSV exports are streamed (chunked, no length known up front)."""

from __future__ import annotations

import csv
import io

from tests.api.conftest import Api, error_of
from tests.api.test_outhooks import Receiver, receiver, stack  # noqa: F401, F811 - loopback receivers allowed

EVENTS = ["conversation.team_changed", "conversation.snoozed", "conversation.unsnoozed", "contact.attributes_changed"]


def test_teams_inbox_filters_events_and_streamed_exports(api: Api, receiver: tuple[Receiver, str]) -> None:  # noqa: F811
    app, url = receiver
    api.ok("POST", "/webhooks", 201, json={"url": url, "events": EVENTS})
    agent = api.user_ids["agent"]
    team = api.ok("POST", "/teams", 201, json={"name": "Sales", "members": [agent]})
    assert (team["name"], team["channel_id"], team["members"]) == ("Sales", None, [agent])
    assert api.call("POST", "/teams", as_="agent", json={"name": "Mine"}).status_code == 403
    assert error_of(api.call("POST", "/teams", json={"name": "Sales"}))["field"] == "name"
    assert error_of(api.call("POST", "/teams", json={"name": "X", "membres": []}))["field"] == "membres"
    assert api.ok("PATCH", f"/teams/{team['id']}", json={"name": "Sales EU"})["members"] == [agent]
    assert [t["name"] for t in api.ok("GET", "/teams", as_="agent")] == ["Sales EU"]

    talk, other = api.dm("Where is my order?"), api.dm("Hello")
    view = api.ok("PUT", f"/conversations/{talk}/team", as_="agent", json={"team_id": team["id"]})
    assert view["team_id"] == team["id"]
    assert error_of(api.call("PUT", f"/conversations/{talk}/team", json={"team_id": 999_999}))["field"] == "team_id"
    assert [i["id"] for i in api.ok("GET", "/conversations?my_teams=true", as_="agent")["items"]] == [talk]
    assert api.ok("GET", "/conversations?my_teams=true")["total"] == 0  # the admin is in no team
    assert [i["id"] for i in api.ok("GET", f"/conversations?team_id={team['id']}")["items"]] == [talk]
    assert other not in [i["id"] for i in api.ok("GET", f"/conversations?team_id={team['id']}")["items"]]

    api.ok("POST", f"/conversations/{talk}/snooze", json={"until": None})
    api.ok("POST", f"/conversations/{talk}/reopen")
    api.ok("POST", "/attributes", 201, json={"key": "plan", "label": "Plan", "kind": "text"})
    contact_id = api.ok("GET", f"/conversations/{talk}")["contact_id"]
    api.ok("PUT", f"/contacts/{contact_id}/attributes", json={"values": {"plan": "gold"}})
    got = {name: api.stack.wait(lambda name=name: app.events(name), what=f"{name} delivered")[0].event["data"]
           for name in EVENTS}
    assert got["conversation.team_changed"]["team_id"] == team["id"]
    assert got["conversation.team_changed"]["by_user_id"] == agent
    assert got["conversation.snoozed"]["until"] is None
    assert got["conversation.snoozed"]["conversation"]["id"] == talk
    assert (got["conversation.unsnoozed"]["reason"], got["conversation.unsnoozed"]["conversation"]["status"]) == (
        "reopened", "open")
    assert got["contact.attributes_changed"]["changed"] == {"plan": {"before": None, "after": "gold"}}

    with api.stack.http.stream("GET", f"{api.url}/api/v1/reports/conversations.csv",
                               headers={"Authorization": f"Bearer {api.tokens['admin']}"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.headers
        text = b"".join(response.iter_bytes()).decode()
    assert {int(r["id"]) for r in csv.DictReader(io.StringIO(text))} == {talk, other}
    api.ok("DELETE", f"/teams/{team['id']}", 204)
    assert api.ok("GET", f"/conversations/{talk}")["team_id"] is None
