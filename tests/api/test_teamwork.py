"""Contact merges and assignment rules over REST on the live stack: a Messenger and an Instagram
contact of one person are suggested, merged (new messages land on the survivor, `contact.merged`
is delivered) and un-merged exactly; round-robin assigns new conversations to available staff up
to the cap and notifies them; going unavailable hands conversations on."""

from __future__ import annotations

from bot.platform.db import connection
from bot.platform.models import Conversation, Notification
from tests.api.conftest import Api, error_of
from tests.api.test_outhooks import Receiver, receiver, stack  # noqa: F401, F811 - fixtures (loopback receivers allowed)


def contact_of(api: Api, conversation_id: int) -> int:
    return api.conversation(conversation_id).contact_id


def test_two_channels_of_one_person_are_suggested_merged_and_unmerged(
        api: Api, receiver: tuple[Receiver, str]) -> None:  # noqa: F811
    app, url = receiver
    api.ok("POST", "/webhooks", 201, json={"url": url, "events": ["contact.merged"]})
    ig_user = api.customer("Rita Merge", instagram=True)
    fb_talk = api.dm("Hi on Messenger", user_id=api.customer("Rita Merge"))
    ig_talk = api.dm("Hi on Instagram", user_id=ig_user, instagram=True)
    fb, ig = contact_of(api, fb_talk), contact_of(api, ig_talk)
    # the names come with the profiles, fetched after each first message is applied
    pairs = api.stack.wait(lambda: api.ok("GET", "/contact-merges/suggestions"), what="the merge suggestion")
    assert [(p["contact_id"], p["other_id"], p["reasons"]) for p in pairs] == [(fb, ig, ["same name"])]

    done = api.ok("POST", f"/contacts/{fb}/merge", 201, json={"merged_id": ig}, as_="agent")
    assert (done["survivor_id"], done["merged_id"], done["moved"]["identity"]) == (fb, ig, 1)
    survivor = api.ok("GET", f"/contacts/{fb}")
    assert {c["id"] for c in survivor["conversations"]} == {fb_talk, ig_talk}
    assert len(survivor["identities"]) == 2
    assert api.call("GET", f"/contacts/{ig}").status_code == 404
    later = api.dm("Still me", user_id=ig_user, instagram=True)
    assert later == ig_talk and contact_of(api, later) == fb
    hook = api.stack.wait(lambda: app.events("contact.merged"), what="contact.merged delivered")
    assert (hook[0].event["data"]["survivor_id"], hook[0].event["data"]["merged_id"]) == (fb, ig)
    assert api.ok("GET", "/contact-merges/suggestions") == []

    undone = api.ok("POST", f"/contact-merges/{done['id']}/undo")
    assert undone["unmerged_at"] is not None
    assert contact_of(api, ig_talk) == ig and contact_of(api, fb_talk) == fb
    assert [m["id"] for m in api.ok("GET", f"/contacts/{fb}/merges")] == [done["id"]]
    again = api.post(f"/contact-merges/{done['id']}/undo")
    assert again.status_code == 409, again.text
    assert api.ok("GET", "/contact-merges/suggestions") == []  # split by staff: not suggested again


def test_bad_merges_name_the_field(api: Api) -> None:
    fb = contact_of(api, api.dm())
    for body, field in (({"merged_id": 0}, "merged_id"), ({"merged_id": fb}, "merged_id"),
                        ({"merged_id": 999_999}, "merged_id"), ({"merged_id": 2, "why": 1}, "why"), ({}, "merged_id")):
        response = api.post(f"/contacts/{fb}/merge", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in (error_of(response)["field"] or "") + error_of(response)["message"], response.text
    assert api.post(f"/contacts/{fb}/merge", json={"merged_id": 1}).status_code in (404, 422)
    assert api.post("/contact-merges/999999/undo").status_code == 404


def test_round_robin_assigns_notifies_caps_and_hands_on(api: Api) -> None:
    first = api.dm("First!")
    channel = api.conversation(first).channel_id
    agent, admin = api.user_ids["agent"], api.user_ids["admin"]
    refused = api.call("PUT", f"/channels/{channel}/assignment", json={"enabled": True, "cap": 1}, as_="agent")
    assert refused.status_code == 403
    bad = api.call("PUT", f"/channels/{channel}/assignment", json={"enabled": True, "cap": 0})
    assert bad.status_code == 422 and "cap" in error_of(bad)["field"]
    rule = api.ok("PUT", f"/channels/{channel}/assignment", json={"enabled": True, "cap": 1})
    assert (rule["enabled"], rule["cap"], rule["members"]) == (True, 1, [])
    assert api.ok("GET", f"/channels/{channel}/assignment", as_="agent") == rule
    joined = api.ok("PUT", "/me/availability", json={"available": True}, as_="agent")
    assert joined["available"] is True and joined["handed_on"] == [[first, agent]]  # it was waiting
    api.ok("POST", f"/conversations/{first}/close", as_="agent")
    assert api.ok("GET", "/me/availability", as_="agent")["available"] is True

    talk = api.dm("Second person")
    assert api.conversation(talk).assignee_id == agent
    with connection():
        told = list(Notification.select().where(Notification.kind == "assigned"))
    assert [(n.user_id, n.conversation_id) for n in told] == [(agent, first), (agent, talk)]
    full = api.dm("Third person")  # the agent is at the cap; the admin is not available
    assert api.conversation(full).assignee_id is None

    picked = api.ok("PUT", "/me/availability", json={"available": True})
    assert picked["handed_on"] == [[full, admin]]  # the waiting conversation goes to the admin
    api.ok("PUT", f"/channels/{channel}/assignment", json={"enabled": True, "cap": 2})
    handed = api.ok("PUT", f"/users/{agent}/availability", json={"available": False})
    assert handed["handed_on"] == [[talk, admin]]
    with connection():
        assert Conversation.get_by_id(talk).assignee_id == admin
    handed = api.ok("PUT", "/me/availability", json={"available": False})
    assert handed["handed_on"] == [[talk, None], [full, None]]  # nobody available: left unassigned
    assert api.call("PUT", f"/users/{agent}/availability", json={"available": True}, as_="agent").status_code == 403
