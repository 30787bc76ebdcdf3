"""`/api/v1/campaigns` with the growth fields (issue 22): audience rules, A/B variants, the
"next post" scope and ref/ad source conditions round-trip, are validated naming the field, show
in the dry run, and the stats compare the variants after a real send through the sandbox. (The
database-specific parts run on both databases in tests/bot/automation/test_campaign_growth.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, error_of
from tests.api.test_campaigns import page_channel
from tests.servers import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

VARIANTS = [{"message": {"text": "A: 10% off"}, "weight": 2}, {"message": {"text": "B: free shipping"}}]


def body(channel_id: int, **overrides: Any) -> dict[str, Any]:
    spec = {"name": "A/B", "channel_id": channel_id, "trigger": {"all_posts": True},
            "audience": {"once_per_person": True, "exclude_tags": ["competitor"], "delay_min_seconds": 0},
            "actions": [{"kind": "send_message", "variants": VARIANTS}]}
    spec.update(overrides)
    return spec


def test_growth_fields_round_trip_validate_dry_run_and_compare_variants(api: Api) -> None:
    channel_id = page_channel(api)
    instagram = [c["id"] for c in api.ok("GET", "/channels") if c["platform"] == "instagram"][0]
    cases = [
        (body(channel_id, actions=[{"kind": "send_message", "variants": VARIANTS[:1]}]), "actions[0].variants"),
        (body(channel_id, actions=[{"kind": "send_message", "variants": VARIANTS,
                                    "message": {"text": "x"}}]), "actions[0].message"),
        (body(channel_id, actions=[{"kind": "send_message", "variants": [{**VARIANTS[0], "weight": 0},
                                                                          VARIANTS[1]]}]),
         "actions[0].variants[0].weight"),
        (body(channel_id, audience={"active_hours": {"time_zone": "Nowhere/Else"}}),
         "audience.active_hours.time_zone"),
        (body(channel_id, audience={"delay_min_seconds": 10, "delay_max_seconds": 5}), "audience.delay_max_seconds"),
        (body(channel_id, audience={"surprise": True}), "audience.surprise"),
        (body(channel_id, trigger={"source_conditions": [{"kind": "tv", "value": "x"}]}),
         "trigger.source_conditions[0].kind"),
        (body(instagram, trigger={"all_posts": False, "next_post": True}), "trigger.next_post"),
    ]
    hours = {"start": "22:00", "end": "06:00", "time_zone": "Europe/Paris", "days": [4, 5], "outside": "skip"}
    night = api.ok("POST", "/campaigns", 201, json=body(channel_id, audience={"active_hours": hours,
                                                                               "delay_max_seconds": 90}))
    assert night["audience"]["active_hours"] == hours and night["audience"]["delay_max_seconds"] == 90
    for spec, field in cases:
        response = api.call("POST", "/campaigns", json=spec)
        assert response.status_code == 422, (spec, response.text)
        assert error_of(response)["field"] == field, (field, error_of(response))

    user = api.customer("Rita Ref")
    api.stack.control("referral", account_id=api.stack.page["page_id"], user_id=user, ref="summer")
    api.comment("first", user_id=user)
    api.comment("second", user_id=user)
    report = api.ok("POST", "/campaigns/dry-run", json=body(channel_id, trigger={
        "source_conditions": [{"kind": "ref", "value": "summer", "touch": "first"}]}))
    assert (report["matched"], report["skipped"]) == (1, {"already_reached_person": 1})
    assert [m[:3] for m in report["samples"][0]["messages"]] == ["[A]", "[B]"]

    created = api.ok("POST", "/campaigns", 201, json=body(channel_id, is_active=True,
                                                          trigger={"all_posts": False, "next_post": True}))
    assert created["audience"]["once_per_person"] and created["audience"]["exclude_tags"] == ["competitor"]
    assert created["trigger"]["next_post"] and created["bound_post_id"] is None
    assert [v["weight"] for v in created["actions"][0]["variants"]] == [2, 1]
    post = api.stack.control("posts", account_id=api.stack.page["page_id"], message="Drop", webhook=True)
    wait_until(lambda: api.ok("GET", f"/campaigns/{created['id']}")["bound_post_id"] == post["post_id"],
               what="bound to the published post")
    api.stack.control("comment", account_id=api.stack.page["page_id"], post_id=post["post_id"],
                      user_id=api.customer("Nia New"), text="me")
    stats = wait_until(lambda: (s := api.ok("GET", f"/campaigns/{created['id']}/stats"))["sent"] == 1 and s,
                       what="the variant sent")
    assert [v["variant"] for v in stats["variants"]] == ["A", "B"]
    assert sum(v["sent"] for v in stats["variants"]) == 1
    assert {"read_rate", "click_rate", "reply_rate", "chosen"} <= set(stats["variants"][0])
