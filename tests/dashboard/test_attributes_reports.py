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
    app.selectbox(key=prefix + "attr_key").select("vip_level")
    app.text_input(key=prefix + "attr_value").input("gold")
    tag = add_action(app, prefix, "add_tag")
    app.text_input(key=tag + "tag").input("vip")
    app.button(key=prefix + "dry").click().run()
    assert "1 skipped: The commenter's custom attributes do not meet the campaign's conditions." in texts(app)
    app.button(key=prefix + "save").click().run()
    assert not app.exception
    saved = Campaign.get(Campaign.name == "VIP offer")
    assert saved.attribute_conditions == [{"key": "vip_level", "value": "gold"}]  # "equals" is the default
