"""Custom attributes and reports over REST on the live stack: admins define attributes, staff set
values (a bad one is a 422 naming `attributes.<key>`), the contact view shows them; the report
counts a real conversation (customer DM through the sandbox, a staff reply, a close) and the CSV
exports download."""

from __future__ import annotations

import csv
import io

from bot.platform.db import connection, now_ms
from bot.platform.models import Message, StatusChange
from tests.api.conftest import Api, error_of


def test_attributes_defined_by_admins_set_by_staff_and_shown_on_the_contact(api: Api) -> None:
    body = {"key": "vip_level", "label": "VIP level", "kind": "list", "choices": ["silver", "gold"]}
    assert api.call("POST", "/attributes", json=body, as_="agent").status_code == 403
    assert api.ok("POST", "/attributes", 201, json=body)["choices"] == ["silver", "gold"]
    api.ok("POST", "/attributes", 201, json={"key": "lifetime_value", "kind": "number"})
    assert [a["key"] for a in api.ok("GET", "/attributes", as_="agent")] == ["lifetime_value", "vip_level"]
    contact = api.conversation(api.dm()).contact_id
    values = api.ok("PUT", f"/contacts/{contact}/attributes", as_="agent",
                    json={"values": {"vip_level": "gold", "lifetime_value": 99.5}})
    assert values == {"vip_level": "gold", "lifetime_value": "99.5"}
    bad = api.call("PUT", f"/contacts/{contact}/attributes", json={"values": {"lifetime_value": "lots"}})
    assert bad.status_code == 422 and error_of(bad)["field"] == "attributes.lifetime_value"
    unknown = api.call("PUT", f"/contacts/{contact}/attributes", json={"values": {"x": "1"}, "extra": 1})
    assert unknown.status_code in (400, 422)
    assert api.ok("DELETE", f"/contacts/{contact}/attributes/vip_level") == {"lifetime_value": "99.5"}
    assert api.ok("GET", f"/contacts/{contact}")["attributes"] == {"lifetime_value": "99.5"}
    api.ok("DELETE", "/attributes/lifetime_value", 204)
    assert api.ok("GET", f"/contacts/{contact}")["attributes"] == {}


def test_the_report_counts_a_reply_and_a_close(api: Api) -> None:
    start = now_ms()
    talk = api.dm("Do you ship to Berlin?")
    api.ok("POST", f"/conversations/{talk}/messages", 201, json={"message": {"text": "Yes, in 2 days."}},
           as_="agent")
    api.stack.wait(lambda: Message.select().where((Message.direction == "out")
                                                  & (Message.status == "sent")).exists(), what="the reply sent")
    api.ok("POST", f"/conversations/{talk}/close", as_="agent")
    with connection():
        asked = Message.get((Message.conversation == talk) & (Message.direction == "in")).occurred_at
        answered = Message.get((Message.conversation == talk) & (Message.direction == "out")).occurred_at
        closed = StatusChange.get(StatusChange.conversation == talk)
    assert closed.user_id == api.user_ids["agent"] and closed.status == "closed"
    assert api.call("GET", "/reports", as_="agent").status_code == 403
    report = api.ok("GET", "/reports", params={"since": start - 60_000, "until": now_ms() + 1})
    assert report["first_response"]["count"] == 1
    assert report["first_response"]["average_seconds"] == round((answered - asked) / 1000, 3)
    assert report["resolution"]["count"] == 1
    assert report["resolution"]["median_seconds"] == round((closed.at - asked) / 1000, 3)
    assert [(r["messages_in"], r["messages_out"], r["conversations"]) for r in report["per_channel_day"]] == [
        (1, 1, 1)]
    assert [(a["user_id"], a["replies"], a["conversations_closed"]) for a in report["per_agent"]] == [
        (api.user_ids["agent"], 1, 1)]
    backwards = api.call("GET", "/reports", params={"since": 10, "until": 5})
    assert backwards.status_code == 422 and error_of(backwards)["field"] == "until"


def test_csv_exports_download(api: Api) -> None:
    talk = api.dm()
    response = api.call("GET", "/reports/conversations.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="conversations.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["id"]) for r in rows] == [talk] and rows[0]["messages_in"] == "1"
    contacts = list(csv.DictReader(io.StringIO(api.call("GET", "/reports/contacts.csv").text)))
    assert [r["id"] for r in contacts] == [str(api.conversation(talk).contact_id)]
    assert api.call("GET", "/reports/contacts.csv", as_="agent").status_code == 403
