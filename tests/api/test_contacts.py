"""`/api/v1/contacts`: list, search by name or username, one contact with identities and
conversations, tags."""

from __future__ import annotations

from tests.api.conftest import Api, error_of


def test_list_search_and_get(api: Api) -> None:
    jane = api.conversation(api.dm("Hi", user_id=api.customer("Jane Doe"))).contact_id
    bob_user = api.customer("Bob Stone", instagram=True)
    bob = api.conversation(api.dm("Yo", user_id=bob_user, instagram=True)).contact_id
    page = api.ok("GET", "/contacts", as_="agent")
    assert {c["id"] for c in page["items"]} == {jane, bob} and page["page"] == 1
    assert [c["name"] for c in api.ok("GET", "/contacts", params={"search": "jane"})["items"]] == ["Jane Doe"]
    by_username = api.ok("GET", "/contacts", params={"search": "bob_st"})["items"]
    assert [c["id"] for c in by_username] == [bob]
    assert api.ok("GET", "/contacts", params={"search": "nobody"})["items"] == []
    assert len(api.ok("GET", "/contacts", params={"page_size": 1, "page": 2})["items"]) == 1
    contact = api.ok("GET", f"/contacts/{bob}", as_="agent")
    assert contact["name"] == "Bob Stone" and contact["tags"] == ["Instagram Direct"]
    assert [(i["platform"], i["username"]) for i in contact["identities"]] == [("instagram", "bob_stone")]
    assert [c["kind"] for c in contact["conversations"]] == ["instagram"]


def test_list_validation_and_not_found(api: Api) -> None:
    for params, field in [({"page": 0}, "page"), ({"page_size": 0}, "page_size"),
                          ({"search": "x" * 500}, "search")]:
        response = api.get("/contacts", params=params)
        assert response.status_code == 422 and error_of(response)["field"] == field, params
    missing = api.get("/contacts/4242")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_tags(api: Api) -> None:
    contact_id = api.conversation(api.dm()).contact_id
    assert api.ok("POST", f"/contacts/{contact_id}/tags", as_="agent", json={"tag": "Wholesale"}) == {
        "tags": ["Facebook Messenger", "Wholesale"]}
    again = api.ok("POST", f"/contacts/{contact_id}/tags", json={"tag": "Wholesale"})
    assert again["tags"].count("Wholesale") == 1
    assert api.ok("DELETE", f"/contacts/{contact_id}/tags/Wholesale") == {"tags": ["Facebook Messenger"]}
    assert api.ok("DELETE", f"/contacts/{contact_id}/tags/Unknown") == {"tags": ["Facebook Messenger"]}
    for body, field in [({"tag": " "}, "tag"), ({"tag": None}, "tag"), ({}, "tag"), ({"label": "x"}, "label")]:
        response = api.post(f"/contacts/{contact_id}/tags", json=body)
        assert response.status_code == 422 and error_of(response)["field"] == field, body
    assert api.post("/contacts/4242/tags", json={"tag": "VIP"}).status_code == 404
    assert api.call("DELETE", "/contacts/4242/tags/VIP").status_code == 404
