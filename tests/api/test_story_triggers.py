"""Instagram story mention and story reply campaigns (issue 22) over real HTTP: saved through the
REST API with field-named refusals, fired once per story event (redeliveries included) as a DM
the send policy allows because the story event opened the 24-hour window, keyword filters with
reasons in the ledger, the dry run and the stats."""

from __future__ import annotations

from bot.platform.db import connection
from bot.platform.models import CampaignRun, Channel, ContactTag, Identity, Message, Tag
from tests.api.conftest import Api, error_of

STORY_URL = "https://cdn.example/story/1.mp4"


def channel_id(api: Api, account_id: str) -> int:
    with connection():
        return Channel.get(Channel.account_id == account_id).id


def ledger(campaign_id: int) -> list[tuple[str, str]]:
    with connection():
        return [(r.comment_id.split(":")[0], r.reason) for r in
                CampaignRun.select().where(CampaignRun.campaign == campaign_id).order_by(CampaignRun.id)]


def dms_to(api: Api, person: str) -> list[dict]:
    return [s for s in api.stack.sandbox_get("sent", recipient_id=person)["sent"] if not s.get("comment_id")]


def story_campaign(kind: str, channel: int, text: str, **trigger: object) -> dict:
    return {"name": f"On {kind}", "channel_id": channel, "is_active": True, "trigger": {"kind": kind, **trigger},
            "actions": [{"kind": "send_message", "message": {"text": text}}, {"kind": "add_tag", "tag": kind}]}


def test_story_mentions_and_replies_trigger_campaigns_once(api: Api) -> None:
    stack = api.stack
    ig_id, page_id = stack.page["instagram_id"], stack.page["page_id"]
    instagram, facebook = channel_id(api, ig_id), channel_id(api, page_id)
    refused = [(story_campaign("story_mention", facebook, "hi"), "trigger.kind"),
               (story_campaign("story_ping", instagram, "hi"), "trigger.kind"),
               (story_campaign("story_reply", instagram, "hi", post_ids=["17900000000000001"]), "trigger.post_ids"),
               ({**story_campaign("story_reply", instagram, "hi"), "actions": [{"kind": "reply_comment", "text": "x"}]},
                "actions[0].kind")]
    for body, field in refused:
        response = api.post("/campaigns", json=body)
        assert (response.status_code, error_of(response)["field"]) == (422, field), response.text
    mention = api.ok("POST", "/campaigns", 201, json=story_campaign(
        "story_mention", instagram, "Thanks for the mention!"))
    reply = api.ok("POST", "/campaigns", 201, json=story_campaign(
        "story_reply", instagram, "It is 49 EUR", keywords_any=["price"]))
    assert reply["trigger"]["kind"] == "story_reply"

    fan = stack.control("customers", account_id=ig_id, name="Fia Fan", first_name="Fia")["user_id"]
    stack.control("dm", account_id=ig_id, user_id=fan, attachments=[{"type": "story_mention", "url": STORY_URL}])
    [dm] = stack.wait(lambda: dms_to(api, fan), what="the mention's DM")
    assert dm["body"]["message"]["text"] == "Thanks for the mention!"
    assert dm["body"]["messaging_type"] == "RESPONSE"  # the mention opened the window: no tag needed
    deliveries = stack.sandbox_get("deliveries")["deliveries"]
    index = next(i for i, d in enumerate(deliveries) if "story_mention" in d["body"])
    for _ in range(2):
        stack.control("deliveries/redeliver", index=index)

    shopper = stack.control("customers", account_id=ig_id, name="Sam Shopper")["user_id"]
    for text in ("love it", "what is the price?"):
        stack.control("dm", account_id=ig_id, user_id=shopper, text=text, story_reply_url=STORY_URL)
    [answer] = stack.wait(lambda: dms_to(api, shopper), what="the story reply's DM")
    assert answer["body"]["message"]["text"] == "It is 49 EUR"
    api.settled()
    stack.wait(lambda: Message.select().where((Message.direction == "out") & (Message.status == "sent")).count() == 2,
               what="both DMs recorded as sent")
    assert len(dms_to(api, fan)) == 1  # redeliveries fired nothing again
    assert ledger(mention["id"]) == [("story", "matched")]
    assert ledger(reply["id"]) == [("story", "keyword_missing"), ("story", "matched")]
    with connection():
        fan_contact = Identity.get(Identity.scoped_id == fan).contact_id
        assert ContactTag.select().join(Tag).where(
            (ContactTag.contact == fan_contact) & (Tag.name == "story_mention")).exists()

    unsaved = story_campaign("story_reply", instagram, "Hi {{ first_name }}", keywords_any=["price"])
    report = api.ok("POST", "/campaigns/dry-run", 200, json=unsaved)
    assert (report["comments"], report["matched"], report["skipped"]) == (2, 1, {"keyword_missing": 1})
    assert report["eligible_for_private_reply"] == 1 and report["samples"][0]["messages"] == ["Hi Sam"]
    saved = api.ok("POST", f"/campaigns/{reply['id']}/dry-run", 200)
    assert saved["skipped"] == {"already_handled": 2}
    stats = api.ok("GET", f"/campaigns/{mention['id']}/stats")
    assert (stats["received"], stats["matched"], stats["sent"]) == (1, 1, 1)
    past = api.post(f"/campaigns/{mention['id']}/send-to-past-comments")
    assert past.status_code == 409
