"""The campaign editor's growth fields (issue 22): A/B variants of the private message, the
"next post" scope, a ref source condition and the audience rules are edited, dry-run (with
the audience reasons) and saved; the stats page compares the variants."""

from __future__ import annotations

import pytest

from tests.bot.automation.test_campaigns import comment, commenter, new_post, private_replies, settled
from tests.dashboard.conftest import texts
from tests.dashboard.test_campaigns import add_action, new_editor

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_variants_scope_source_and_audience_are_edited_saved_and_compared(desk, admin_app) -> None:
    from bot.automation import campaigns
    from bot.platform.models import Campaign, CampaignAction, Tag

    post = new_post(desk)
    user = commenter(desk, "Vera Voter")
    comment(desk, post, user, "first")
    comment(desk, post, user, "second")  # the same person twice: once per person counts it
    settled(desk)
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("A/B coupon")
    message = add_action(app, prefix, "send_message")
    app.toggle(key=message + "ab").set_value(True).run()
    app.text_area(key=message + "v0_text").input("A: 10% off")
    app.text_area(key=message + "v1_text").input("B: free shipping")
    app.number_input(key=message + "v0_weight").set_value(3)
    app.toggle(key=prefix + "aud_once").set_value(True)
    app.text_input(key=prefix + "aud_tags").input("competitor, staff")
    app.toggle(key=prefix + "aud_hours").set_value(True).run()
    app.text_input(key=prefix + "aud_zone").input("Mars/Olympus").run()
    app.button(key=prefix + "dry").click().run()
    assert r"Audience, active hours\: time zone is not a known time zone" in texts(app)
    app.text_input(key=prefix + "aud_zone").input("Europe/Paris")
    app.toggle(key=prefix + "aud_hours").set_value(False).run()
    app.button(key=prefix + "dry").click().run()
    assert "1 skipped: This campaign already answered this person (once per person)." in texts(app)
    assert not app.exception
    app.button(key=prefix + "activate").click().run()
    assert not app.exception, app.exception
    campaign = Campaign.get(Campaign.name == "A/B coupon")
    assert campaign.audience["once_per_person"] and campaign.audience["exclude_tags"] == ["competitor", "staff"]
    config = CampaignAction.get(CampaignAction.campaign == campaign).config
    assert [(v["message"]["text"], v["weight"]) for v in config["variants"]] == [("A: 10% off", 3),
                                                                                 ("B: free shipping", 1)]
    assert not Tag.select().where(Tag.name == "staff").exists()  # excluding a tag creates nothing

    editor = f"ce{campaign.id}_"  # the saved campaign reopens with its variants, then moves to the next post
    assert app.toggle(key=f"{editor}{_uid(app, editor)}_ab").value
    app.radio(key=editor + "watch").set_value("next").run()
    assert "Waiting: the first post the page publishes" in texts(app)
    app.selectbox(key=editor + "src_kind").select("ref")
    app.text_input(key=editor + "src_value").input("summer")
    app.button(key=editor + "save").click().run()
    assert not app.exception, app.exception
    spec = campaigns.spec_of(Campaign.get_by_id(campaign.id))
    assert spec.trigger.next_post and [c.value for c in spec.trigger.source_conditions] == ["summer"]

    campaigns.set_active(campaign.id, False)
    campaigns.save(campaigns.CampaignSpec(**{**_fields(spec), "trigger": campaigns.TriggerSpec()}), campaign.id)
    campaigns.set_active(campaign.id, True)
    comment(desk, post, commenter(desk, "Walt Winner"), "me")
    desk.wait(lambda: len(private_replies(desk)) == 1, what="a variant sent")
    settled(desk)
    app.switch_page("app_pages/stats.py").run()
    assert not app.exception, app.exception
    assert "A/B variants" in texts(app)
    [table] = [t for t in app.dataframe if "Variant" in t.value.columns]
    assert list(table.value["Variant"]) == ["A", "B"] and table.value["Sent"].sum() == 1


def _uid(app, prefix: str) -> str:
    return app.session_state["sd_drafts"][prefix + "actions"][0]["uid"]


def _fields(spec) -> dict:
    return {f: getattr(spec, f) for f in spec.__struct_fields__}
