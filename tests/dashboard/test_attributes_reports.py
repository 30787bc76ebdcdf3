"""Custom attributes on the contacts page (admins define them, staff set values, a bad value is
refused naming the field) and the Reports page (figures from stored facts, charts, CSV exports)."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import customer_writes, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def channel_of(conversation_id: int) -> int:
    from bot.platform.models import Conversation

    return Conversation.get_by_id(conversation_id).channel_id


def button(app, label: str):  # noqa: ANN001, ANN201 - AppTest elements
    return next(b for b in app.button if b.label == label)


def test_admin_defines_an_attribute_and_staff_set_it_on_a_contact(desk, admin_app) -> None:
    from bot.automation.context import attribute_values
    from bot.platform.models import Conversation

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "hi")
    contact_id = Conversation.get_by_id(conversation_id).contact_id
    admin_app.switch_page("app_pages/contacts.py").run()
    form = admin_app.get("form")[-1]
    form.text_input[0].input("lifetime_value")
    form.text_input[1].input("Lifetime value")
    form.selectbox[0].select("number")
    button(admin_app, "Add attribute").click().run()
    assert not admin_app.exception and "Attribute lifetime_value added." in texts(admin_app)
    admin_app.button(key=f"contact_{contact_id}").click().run()
    field = admin_app.text_input(key=f"attr_{contact_id}_lifetime_value")
    field.input("lots")
    button(admin_app, "Save attributes").click().run()
    assert "Attributes not saved: attributes.lifetime_value: must be a number" in texts(admin_app)
    assert attribute_values(contact_id) == {}
    admin_app.text_input(key=f"attr_{contact_id}_lifetime_value").input("120.50")
    button(admin_app, "Save attributes").click().run()
    assert attribute_values(contact_id) == {"lifetime_value": "120.5"}
    assert admin_app.text_input(key=f"attr_{contact_id}_lifetime_value").value == "120.5"


def test_the_reports_page_shows_the_figures_and_exports(desk, admin_app) -> None:
    from bot import commands
    from bot.platform.models import Message, User

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "hi")
    customer_writes(desk, "Ian Insta", "hello", account=desk.page["instagram_id"])
    ada = User.get(User.email == "admin@example.com")
    asked = Message.get(Message.conversation == conversation_id).occurred_at - 600_000  # ten minutes ago
    Message.update(occurred_at=asked).where(Message.conversation == conversation_id).execute()
    Message.create(channel=channel_of(conversation_id), conversation=conversation_id, direction="out",
                   author="staff", author_user=ada.id, text="hello!", occurred_at=asked + 90_000,
                   created_at=asked + 90_000, status="sent")
    commands.set_status(conversation_id, "closed", by=ada.id)
    admin_app.switch_page("app_pages/reports.py").run()
    assert not admin_app.exception
    metrics = {m.label: m.value for m in admin_app.metric}
    assert metrics["First response (median)"] == "1m 30s"
    assert metrics["Staff replies"] == "1" and metrics["Conversations closed"] == "1"
    assert len(admin_app.get("vega_lite_chart")) + len(admin_app.get("arrow_vega_lite_chart")) >= 2
    assert "Ada Admin" in str(admin_app.dataframe[-1].value)
    volumes = admin_app.dataframe[0].value
    assert sorted(zip(volumes["channel"], volumes["messages in"], volumes["messages out"], strict=True)) == [
        ("Acme Shoes", 1, 1), ("acme.shoes", 1, 0)]
    assert {b.label for b in admin_app.get("download_button")} == {"Contacts (CSV)", "Conversations (CSV)"}


def test_agents_do_not_get_the_reports_page(desk, agent_app) -> None:
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not among the agent's pages
        agent_app.switch_page("app_pages/reports.py")


def test_a_campaigns_audience_filter_is_edited_and_explained_by_the_dry_run(desk, admin_app) -> None:
    from bot.helpdesk import attributes
    from bot.platform.models import Campaign
    from tests.bot.automation.test_campaigns import comment, new_post, settled
    from tests.dashboard.test_campaigns import add_action, new_editor

    attributes.define("vip_level", "VIP level", "list", ["silver", "gold"])
    _, user = customer_writes(desk, "Otto Other", "hello")  # known, but not gold
    comment(desk, new_post(desk), user, "nice")
    settled(desk)
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("VIP offer")
    app.button(key=prefix + "aud_if_add").click().run()
    app.selectbox(key=prefix + "aud_if_0_key").select("vip_level").run()
    app.selectbox(key=prefix + "aud_if_0_value_list_equals").select("gold")
    tag = add_action(app, prefix, "add_tag")
    app.text_input(key=tag + "tag").input("vip")
    app.button(key=prefix + "dry").click().run()
    assert "1 skipped: The commenter's custom attributes do not meet the campaign's conditions." in texts(app)
    app.button(key=prefix + "save").click().run()
    assert not app.exception
    saved = Campaign.get(Campaign.name == "VIP offer")
    assert saved.attribute_conditions == [{"key": "vip_level", "value": "gold"}]  # "equals" is the default


def test_an_actions_only_if_offers_the_comparisons_of_the_attributes_type(desk, admin_app) -> None:
    """Per attribute type its own comparisons and value input ("is one of" takes several
    choices, a date a calendar); a bad number is refused in words in the action's box; Save
    keeps every condition, and a saved campaign opens with them."""
    import datetime

    from bot.automation import campaigns
    from bot.automation.conditions import Condition
    from bot.helpdesk import attributes
    from bot.platform.models import Campaign
    from tests.dashboard.test_campaigns import add_action, new_editor

    attributes.define("plan", "Plan", "list", ["free", "pro", "team"])
    attributes.define("orders", "Orders", "number")
    attributes.define("code", "Code", "text")
    attributes.define("since", "Customer since", "date")
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Upsell")
    tag = add_action(app, prefix, "add_tag")
    app.text_input(key=tag + "tag").input("upsell")
    rows = tag + "if_"
    for _ in range(4):
        app.button(key=rows + "add").click().run()
    for row, key in enumerate(("plan", "orders", "code", "since")):
        app.selectbox(key=f"{rows}{row}_key").select(key).run()
    assert app.selectbox(key=rows + "0_op_list").options == ["is", "is not", "is one of", "is set", "is not set"]
    assert app.selectbox(key=rows + "2_op_text").options == ["is", "is not", "contains", "is set", "is not set"]
    assert "is less than" in app.selectbox(key=rows + "1_op_number").options
    app.selectbox(key=rows + "0_op_list").select("one_of").run()
    app.multiselect(key=rows + "0_value_list_one_of").select("pro").select("team")
    app.selectbox(key=rows + "1_op_number").select("greater_than").run()
    app.text_input(key=rows + "1_value_number_greater_than").input("lots")
    app.text_input(key=rows + "2_value_text_equals").input("007")
    app.selectbox(key=rows + "3_op_date").select("before").run()
    app.date_input(key=rows + "3_value_date_before").set_value(datetime.date(2025, 1, 31))
    app.button(key=prefix + "save").click().run()
    assert not app.exception, app.exception
    shown = texts(app).replace("\\", "")  # markdown escapes
    assert shown.count("Action 1, condition 2: value must be a number (like 42 or -3.5)") == 2  # box + summary
    assert not Campaign.select().where(Campaign.name == "Upsell").exists()
    app.text_input(key=rows + "1_value_number_greater_than").input("3")
    app.button(key=prefix + "save").click().run()
    assert not app.exception, app.exception
    saved = campaigns.spec_of(Campaign.get(Campaign.name == "Upsell"))
    assert saved.actions[0].only_if == [
        Condition(key="plan", op="one_of", values=["pro", "team"]),
        Condition(key="orders", op="greater_than", value="3"),
        Condition(key="code", value="007"),
        Condition(key="since", op="before", value="2025-01-31")]
    reopened = f"ce{Campaign.get(Campaign.name == 'Upsell').id}_"
    uid = app.session_state["sd_drafts"][reopened + "actions"][0]["uid"]
    assert app.multiselect(key=f"{reopened}{uid}_if_0_value_list_one_of").value == ["pro", "team"]
    assert app.date_input(key=f"{reopened}{uid}_if_3_value_date_before").value == datetime.date(2025, 1, 31)
