"""The stats page: a campaign's funnel numbers, charts and reasons, from campaign_stats."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import texts
from tests.servers import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_funnel_of_a_campaign(desk, admin_app) -> None:
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
    from bot.core.compose import MessageContent
    from bot.platform import registry as channels

    account = desk.page["page_id"]
    channel = channels.channel_for("facebook", account)
    campaign = campaigns.save(CampaignSpec(
        name="Coupon", channel_id=channel.id, is_active=True, trigger=TriggerSpec(keywords_any=["coupon"]),
        actions=[ActionSpec(kind="send_message", message=MessageContent(text="Here: C10"))]))
    post = desk.control("posts", account_id=account, message="Sale")["post_id"]
    for name, text in (("Ann", "coupon please"), ("Bob", "nice"), ("Cid", "coupon!")):
        user_id = desk.control("customers", account_id=account, name=name)["user_id"]
        desk.control("comment", account_id=account, post_id=post, user_id=user_id, text=text)
    wait_until(lambda: len(desk.sandbox_get("sent", account_id=account)["sent"]) == 2, 20, what="two replies")

    admin_app.switch_page("app_pages/stats.py").run()
    assert not admin_app.exception
    metrics = {m.label: m.value for m in admin_app.metric}
    assert metrics["Matched"] == "2"
    assert admin_app.query_params["campaign"] == str(campaign.id)
    assert "The comment contains none of the required words." in str(admin_app.dataframe[0].value)
    assert len(admin_app.get("vega_lite_chart")) == 2  # the funnel and the per-day series
    assert "No failures." in texts(admin_app)
    page = texts(admin_app)  # one unit per chart, said on it
    assert "Funnel: people" in page and "Per day: people" in page and "By action: message parts" in page
    charts = [str(c.proto.spec) for c in admin_app.get("vega_lite_chart")]
    assert all('"title": "People"' in chart or '"title":"People"' in chart for chart in charts), charts
    by_action = admin_app.dataframe[-1].value
    assert list(by_action.columns)[2:4] == ["Parts queued", "Parts sent"]
    assert by_action.columns[-1] == "People who clicked"
