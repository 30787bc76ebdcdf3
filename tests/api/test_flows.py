"""`/api/v1/flows`: create, import, export, update, list and delete bot flows; validation errors
are 422 naming the field; agents may not change flows."""

from __future__ import annotations

from tests.api.conftest import Api, error_of
from tests.bot.automation.test_flows import SHOP


def test_import_export_update_delete(api: Api) -> None:
    imported = api.ok("POST", "/flows/import", json={"document": SHOP, "format": "yaml"})
    assert imported["name"] == "shop" and '"welcome" -> "size"' in imported["dot"]
    exported = api.call("GET", f"/flows/{imported['id']}/export", params={"format": "json"})
    assert exported.status_code == 200 and '"start": "welcome"' in exported.text
    definition = imported["definition"] | {"title": "Shop assistant"}
    assert api.ok("PUT", f"/flows/{imported['id']}", json=definition)["title"] == "Shop assistant"
    assert [f["name"] for f in api.ok("GET", "/flows")] == ["shop"]
    again = api.ok("POST", "/flows/import", json={"document": exported.text, "format": "json"})
    assert again["id"] == imported["id"]  # same name: replaced, not duplicated
    assert api.call("DELETE", f"/flows/{imported['id']}").status_code == 204
    assert api.call("GET", f"/flows/{imported['id']}").status_code == 404


def test_invalid_flows_name_the_field(api: Api) -> None:
    body = {"name": "f", "start": "a", "states": {"a": {"transitions": [{"any_text": True, "to": "b"}]}}}
    response = api.call("POST", "/flows", json=body)
    assert response.status_code == 422 and error_of(response)["field"] == "states.a.transitions[0].to"
    response = api.call("POST", "/flows/import", json={"document": "name: [", "format": "yaml"})
    assert response.status_code == 422 and error_of(response)["field"] == "document"
    assert api.call("POST", "/flows", json=body, as_="agent").status_code == 403
