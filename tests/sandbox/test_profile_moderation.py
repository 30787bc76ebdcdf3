"""The sandbox's Messenger Profile API and comment likes over real HTTP (meta-platform.md §12):
Meta's limits as error 100, one Instagram profile whichever node it is reached on, and likes on
Facebook comments only."""

from __future__ import annotations

from tests.sandbox import harness
from tests.sandbox.harness import Sandbox, World, comment, error_of

receiver = harness.receiver
sandbox = harness.sandbox
world = harness.world

MENU = [{"locale": "default", "call_to_actions": [{"type": "postback", "title": "Shop", "payload": "SHOP"}]}]


def test_profile_limits_and_instagram_variant(sandbox: Sandbox, world: World) -> None:
    path = f"{world.page_id}/messenger_profile"
    refused = sandbox.graph("POST", path, world.token, json={"persistent_menu": MENU})
    assert refused.status_code == 400 and "Get Started" in error_of(refused)["message"]
    long = sandbox.graph("POST", path, world.token, json={"greeting": [{"locale": "default", "text": "x" * 161}]})
    assert error_of(long)["code"] == 100
    nested = [{"locale": "default", "call_to_actions": [{"type": "nested", "title": "More", "call_to_actions": []}]}]
    assert error_of(sandbox.graph("POST", path, world.token, json={"get_started": {"payload": "GO"},
                                                                    "persistent_menu": nested}))["code"] == 100
    ok = sandbox.graph("POST", path, world.token, json={"get_started": {"payload": "GO"}, "persistent_menu": MENU})
    assert ok.json() == {"result": "success"}
    assert sandbox.graph("GET", path, world.token, fields="get_started").json() == {
        "data": [{"get_started": {"payload": "GO"}}]}
    blocked = sandbox.graph("DELETE", path, world.token, json={"fields": ["get_started"]})
    assert error_of(blocked)["code"] == 100  # the menu needs it
    greeting = {"greeting": [{"locale": "default", "text": "Hi"}]}
    assert error_of(sandbox.graph("POST", path, world.token, platform="instagram", json=greeting))["code"] == 100
    breakers = {"ice_breakers": [{"locale": "default", "call_to_actions": [{"question": "Hours?", "payload": "H"}]}]}
    assert sandbox.graph("POST", path, world.token, platform="instagram", json=breakers).status_code == 200
    on_ig = sandbox.graph("GET", f"{world.ig_id}/messenger_profile", world.token, fields="ice_breakers").json()
    assert on_ig["data"][0]["ice_breakers"][0]["call_to_actions"][0]["payload"] == "H"  # one Instagram profile
    assert sandbox.graph("GET", path, world.token, fields="ice_breakers").json() == {"data": []}  # Messenger's


def test_likes_on_facebook_comments_only(sandbox: Sandbox, world: World) -> None:
    facebook = comment(sandbox, world.page_id, world.post_id, world.psid)
    assert sandbox.graph("POST", f"{facebook}/likes", world.token).json() == {"success": True}
    assert sandbox.graph("GET", facebook, world.token, fields="user_likes,like_count").json()["user_likes"] is True
    instagram = comment(sandbox, world.ig_id, world.media_id, world.igsid)
    refused = sandbox.graph("POST", f"{instagram}/likes", world.token)
    assert refused.status_code == 400 and error_of(refused)["code"] == 100
    wrong = sandbox.graph("POST", instagram, world.token, json={"is_hidden": True})
    assert "hide" in error_of(wrong)["message"]
