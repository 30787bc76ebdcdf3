"""Issue 22 over REST: staff like or hide a comment (`.../comments/{id}/moderation`), and admins
edit a channel's Messenger profile (`/channels/{id}/messenger-profile`), both through the sandbox."""

from __future__ import annotations

import pytest

from bot.platform.models import Channel, CommentModeration, MessengerProfile
from tests.api.conftest import Api, error_of

# The REST doors add nothing database-specific (the services' tests run on both databases).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_staff_moderation_and_messenger_profile(api: Api) -> None:
    conversation, comment_id = api.comment("Buy cheaper at rival.shop")
    path = f"/conversations/{conversation}/comments/{comment_id}/moderation"
    liked = api.ok("POST", path, json={"action": "like"}, as_="agent")
    assert (liked["action"], liked["status"], liked["by"]) == ("like", "pending", "staff")
    hidden = api.ok("POST", path, json={"action": "hide"}, as_="agent")
    api.stack.wait(lambda: not CommentModeration.select().where(CommentModeration.status != "done").exists(),
                   what="moderated")
    again = api.ok("POST", path, json={"action": "hide"}, as_="agent")
    assert again["id"] == hidden["id"] and again["status"] == "done"  # once per comment
    assert [r["action"] for r in api.ok("GET", path)] == ["like", "hide"]
    [on_meta_comment] = [c for c in api.stack.sandbox_get("state")["comments"] if c["id"] == comment_id]
    assert on_meta_comment["liked"] and on_meta_comment["hidden"]
    bad = api.call("POST", path, json={"action": "delete"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "action"
    other = api.call("POST", f"/conversations/{conversation}/comments/123_456/moderation", json={"action": "like"})
    assert other.status_code == 422 and error_of(other)["field"] == "comment_id"

    channel = api.stack.wait(lambda: Channel.get(Channel.account_id == api.stack.page["page_id"]).id, what="page")
    profile_path = f"/channels/{channel}/messenger-profile"
    assert api.ok("GET", profile_path)["status"] == "not_set"
    too_long = api.call("PUT", profile_path, json={"greeting": [{"locale": "default", "text": "x" * 200}]})
    assert too_long.status_code == 422 and error_of(too_long)["field"] == "greeting[0].text"
    assert "160" in error_of(too_long)["message"]
    assert api.call("PUT", profile_path, json={}, as_="agent").status_code == 403
    body = {"get_started_payload": "GO", "greeting": [{"locale": "default", "text": "Welcome!"}],
            "ice_breakers": [{"questions": [{"question": "Opening hours?", "payload": "HOURS"}]}]}
    saved = api.ok("PUT", profile_path, json=body)
    assert saved["status"] == "pending" and saved["starts"] == {"GO": None, "HOURS": None}
    api.stack.wait(lambda: MessengerProfile.get(MessengerProfile.channel == channel).status == "pushed",
                   what="pushed")
    on_meta = api.ok("GET", f"{profile_path}/meta")
    assert on_meta["get_started_payload"] == "GO" and on_meta["ice_breakers"][0]["questions"][0]["payload"] == "HOURS"
