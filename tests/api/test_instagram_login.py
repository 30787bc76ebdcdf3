"""Instagram Login (issue 22) end to end over real HTTP: connecting an Instagram account with no
Facebook Page through the REST API (token checked against the account, webhooks subscribed,
nothing stored on a refusal, Meta's reason shown), then its DMs and comments arriving, a staff
reply, a campaign's private reply and a story campaign's DM sent through the Instagram host
(the sandbox accepts an Instagram User token there only)."""

from __future__ import annotations

from bot.channels import health
from bot.platform.db import connection, now_ms
from bot.platform.models import CampaignRun, Channel, ChannelCheck, Message
from bot.platform.registry import INSTAGRAM_FIELDS, page_token
from tests.api.conftest import Api, error_of

VERSION = "v21.0"


def channels_of(account_id: str) -> list[Channel]:
    with connection():
        return list(Channel.select().where(Channel.account_id == account_id))


def sent(api: Api, **filters: str) -> list[dict]:
    return api.stack.sandbox_get("sent", **filters)["sent"]


def test_connect_receive_and_send_through_the_instagram_host(api: Api) -> None:
    stack = api.stack
    account = stack.control("instagram-accounts", username="solo.shop", name="Solo Shop", followers_count=321,
                            subscribed=False, token_age_days=2)
    ig_id, token = account["instagram_id"], account["token"]
    refusals = [({"token": "IGAA-wrong"}, None), ({"token": stack.page["page_token"]}, None),  # a page token
                ({"token": token, "instagram_id": stack.page["instagram_id"]}, "token")]
    for body, field in refusals:
        response = api.post("/channels/instagram-login", json=body)
        assert response.status_code == 422, response.text
        error = error_of(response)
        assert error.get("field") == field and (field or "190" in error["message"])  # Meta's reason
    assert channels_of(ig_id) == []
    [state] = [a for a in stack.sandbox_get("state")["accounts"] if a["id"] == ig_id]
    assert state["subscribed_fields"] == []  # nothing subscribed either

    [view] = api.ok("POST", "/channels/instagram-login", 201, json={"token": token, "instagram_id": ig_id})
    assert (view["platform"], view["login"], view["account_id"], view["username"]) == (
        "instagram", "instagram", ig_id, "solo.shop")
    assert view["health_status"] == "healthy" and view["followers_count"] == 321
    [state] = [a for a in stack.sandbox_get("state")["accounts"] if a["id"] == ig_id]
    assert state["subscribed_fields"] == list(INSTAGRAM_FIELDS)

    person = stack.control("customers", account_id=ig_id, name="Ana Lima")["user_id"]
    mid = stack.control("dm", account_id=ig_id, user_id=person, text="Do you ship to Lisbon?")["mid"]
    message = stack.wait(lambda: Message.get_or_none(Message.mid == mid), what="the DM")
    api.settled()
    [reply] = api.ok("POST", f"/conversations/{message.conversation_id}/messages", 201,
                     json={"message": {"text": "Yes, in two days"}})
    stack.wait(lambda: Message.get_by_id(reply["id"]).status == "sent", what="reply sent")
    [out] = sent(api, recipient_id=person)
    assert out["path"] == f"/{VERSION}/{ig_id}/messages" and out["body"]["messaging_type"] == "RESPONSE"

    campaign = api.ok("POST", "/campaigns", 201, json={
        "name": "Price", "channel_id": view["id"], "is_active": True, "trigger": {"keywords_any": ["price"]},
        "actions": [{"kind": "send_message", "message": {"text": "It is 49 EUR"}}]})
    media = stack.control("posts", account_id=ig_id, message="New drop")["post_id"]
    commenter = stack.control("customers", account_id=ig_id, name="Bo Berg")["user_id"]
    comment_id = stack.control("comment", account_id=ig_id, post_id=media, user_id=commenter,
                               text="price?")["comment_id"]
    stack.wait(lambda: [s for s in sent(api) if s.get("comment_id") == comment_id], what="private reply")
    with connection():
        [run] = CampaignRun.select().where(CampaignRun.campaign == campaign["id"])
    assert (run.comment_id, run.reason) == (comment_id, "matched")

    with connection():  # health asks the Instagram host, renews the token, and catches a revoked one
        assert health.check_channel(view["id"]).status == health.HEALTHY
        fresh = page_token(Channel.get_by_id(view["id"]))
        expires = ChannelCheck.get(ChannelCheck.channel == view["id"]).token_expires_at
        assert fresh != token and expires > now_ms() + 59 * 86_400_000
        stack.control("tokens/revoke", token=fresh)
        assert health.check_channel(view["id"]).status == health.NEEDS_RECONNECTING
