"""Referral campaigns (issue 22: m.me / ig.me `ref` links, Get Started with a ref, click-to-Messenger /
Instagram ads) over real HTTP: saved through the REST API with field-named refusals, fired once per
referral (redeliveries included) as a DM the send policy allows because the referral opened the
24-hour window, ref / ad filters with reasons in the ledger, the dry run and the stats."""

from __future__ import annotations

from bot.platform.db import connection
from bot.platform.models import CampaignRun, ContactTag, Identity, Message, Tag
from tests.api.conftest import Api, error_of
from tests.api.test_story_triggers import channel_id, dms_to


def ledger(campaign_id: int) -> list[tuple[str, str]]:
    """(ad id or ref, reason) of each ledger row, sorted: people's events run in parallel."""
    with connection():
        return sorted((r.post_id, r.reason) for r in CampaignRun.select().where(CampaignRun.campaign == campaign_id))


def referral_campaign(channel: int, text: str, **trigger: object) -> dict:
    return {"name": "Welcome", "channel_id": channel, "is_active": True, "trigger": {"kind": "referral", **trigger},
            "actions": [{"kind": "send_message", "message": {"text": text}}, {"kind": "add_tag", "tag": "from_link"}]}


def test_referrals_trigger_campaigns_once_on_both_platforms(api: Api) -> None:
    stack = api.stack
    page_id, ig_id = stack.page["page_id"], stack.page["instagram_id"]
    facebook, instagram = channel_id(api, page_id), channel_id(api, ig_id)
    refused = [({**referral_campaign(facebook, "hi"), "trigger": {"kind": "comment", "refs": ["x"]}}, "trigger.refs"),
               (referral_campaign(facebook, "hi", ad_ids=["summer"]), "trigger.ad_ids"),
               (referral_campaign(facebook, "hi", refs=["x"] * 21), "trigger.refs"),
               (referral_campaign(facebook, "hi", post_ids=[f"{page_id}_2"], all_posts=False), "trigger.post_ids"),
               ({**referral_campaign(facebook, "hi"), "actions": [{"kind": "reply_comment", "text": "x"}]},
                "actions[0].kind")]
    for body, field in refused:
        response = api.post("/campaigns", json=body)
        assert (response.status_code, error_of(response)["field"]) == (422, field), response.text
    summer = api.ok("POST", "/campaigns", 201, json={**referral_campaign(facebook, "Sunny welcome!", refs=["summer"]),
                                                     "audience": {"once_per_person": True}})
    assert (summer["trigger"]["kind"], summer["trigger"]["refs"]) == ("referral", ["summer"])
    ads = api.ok("POST", "/campaigns", 201, json=referral_campaign(instagram, "Thanks for clicking our ad",
                                                                    ad_ids=["6001"]))

    rita = stack.control("customers", account_id=page_id, name="Rita Ref", first_name="Rita")["user_id"]
    stack.control("postback", account_id=page_id, user_id=rita, payload="GET_STARTED", ref="summer")
    [dm] = stack.wait(lambda: dms_to(api, rita), what="the Get Started DM")
    assert dm["body"]["message"]["text"] == "Sunny welcome!"
    assert dm["body"]["messaging_type"] == "RESPONSE"  # the referral opened the window: no tag needed
    deliveries = stack.sandbox_get("deliveries")["deliveries"]
    index = next(i for i, d in enumerate(deliveries) if "GET_STARTED" in d["body"])
    stack.control("deliveries/redeliver", index=index)
    stack.control("referral", account_id=page_id, user_id=rita, ref="summer")  # the link again: once per person
    walt = stack.control("customers", account_id=page_id, name="Walt Winter")["user_id"]
    stack.control("referral", account_id=page_id, user_id=walt, ref="winter")
    ian = stack.control("customers", account_id=ig_id, name="Ian Ads")["user_id"]
    stack.control("referral", account_id=ig_id, user_id=ian, source="ADS", ad_id="6001")
    ava = stack.control("customers", account_id=ig_id, name="Ava Ads")["user_id"]
    stack.control("dm", account_id=ig_id, user_id=ava, text="Is it in stock?", ad_id="6001")  # an ad's first message
    [ad_dm] = stack.wait(lambda: dms_to(api, ian), what="the ad's DM")
    stack.wait(lambda: dms_to(api, ava), what="the DM to the ad's first message")
    assert (ad_dm["body"]["message"]["text"], ad_dm["body"]["messaging_type"]) == ("Thanks for clicking our ad",
                                                                                   "RESPONSE")
    api.settled()
    stack.wait(lambda: Message.select().where((Message.direction == "out") & (Message.status == "sent")).count() == 3,
               what="the three DMs recorded as sent")
    assert len(dms_to(api, rita)) == 1 and dms_to(api, walt) == []  # the redelivery fired nothing again
    assert ledger(summer["id"]) == [("summer", "already_reached_person"), ("summer", "matched"),
                                    ("winter", "referral_mismatch")]
    assert ledger(ads["id"]) == [("6001", "matched"), ("6001", "matched")]
    with connection():
        contact = Identity.get(Identity.scoped_id == ian).contact_id
        assert ContactTag.select().join(Tag).where((ContactTag.contact == contact) & (Tag.name == "from_link")).exists()

    unsaved = referral_campaign(facebook, "Hello {{ first_name }}", refs=["winter"])
    report = api.ok("POST", "/campaigns/dry-run", 200, json=unsaved)
    assert (report["comments"], report["matched"], report["skipped"]) == (3, 1, {"referral_mismatch": 2})
    assert report["eligible_for_private_reply"] == 1 and report["samples"][0]["messages"] == ["Hello Walt"]
    saved = api.ok("POST", f"/campaigns/{summer['id']}/dry-run", 200)
    assert saved["skipped"] == {"already_handled": 3}
    again = api.ok("POST", "/campaigns/dry-run", 200, json={**unsaved, "trigger": {"kind": "referral"},
                                                            "audience": {"once_per_person": True}})
    assert (again["matched"], again["skipped"]) == (2, {"already_reached_person": 1})  # Rita once, Walt once
    stats = api.ok("GET", f"/campaigns/{summer['id']}/stats")
    assert (stats["received"], stats["matched"], stats["sent"]) == (3, 1, 1)
    assert api.post(f"/campaigns/{summer['id']}/send-to-past-comments").status_code == 409
