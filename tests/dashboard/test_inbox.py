"""The inbox page: newest first, unread counts, filters by channel kind, connected page or
account, status, assignee, tag and search, pagination, and opening a conversation."""

from __future__ import annotations

import pytest

from bot import commands
from bot.platform.models import Conversation
from tests.dashboard.conftest import customer_writes, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def names(app) -> list[str]:
    """Contact names of the listed conversations, top to bottom."""
    return [m.value.split("**")[1].replace("\\", "") for m in app.main.markdown
            if str(m.value).startswith("**")]


def test_newest_first_with_unread_counts(desk, admin_app) -> None:
    customer_writes(desk, "First Person", "one")
    customer_writes(desk, "Second Person", "two")
    admin_app.run()
    assert names(admin_app) == ["Second Person", "First Person"]
    assert "2 conversations · 2 with unread messages" in texts(admin_app)
    assert ":red-badge[1 new]" in texts(admin_app)


def test_filters_by_channel_status_assignee_tag_and_search(desk, admin_app) -> None:
    from bot import queries

    messenger, _ = customer_writes(desk, "Mia Messenger", "price of the red shoes?")
    instagram, _ = customer_writes(desk, "Ian Insta", "hello", account=desk.page["instagram_id"])
    admin_app.run()
    admin_app.selectbox(key="inbox_kind").select("instagram").run()
    assert names(admin_app) == ["Ian Insta"]
    admin_app.selectbox(key="inbox_kind").select("Any").run()
    admin_app.text_input(key="inbox_search").input("red shoes").run()
    assert names(admin_app) == ["Mia Messenger"]
    admin_app.text_input(key="inbox_search").input("ian").run()
    assert names(admin_app) == ["Ian Insta"]  # contact names too
    admin_app.text_input(key="inbox_search").input("").run()

    commands.add_tag(Conversation.get_by_id(messenger).contact_id, "vip")
    admin_app.run()
    admin_app.selectbox(key="inbox_tag").select("vip").run()
    assert names(admin_app) == ["Mia Messenger"]
    admin_app.selectbox(key="inbox_tag").select("Any").run()

    admin = next(u for u in queries.staff_users() if u.role == "admin")
    commands.assign(instagram, admin.id)
    admin_app.selectbox(key="inbox_assignee").select("mine").run()
    assert names(admin_app) == ["Ian Insta"]
    admin_app.selectbox(key="inbox_assignee").select("unassigned").run()
    assert names(admin_app) == ["Mia Messenger"]
    admin_app.selectbox(key="inbox_assignee").select("Any").run()

    commands.set_status(messenger, "closed")
    admin_app.run()
    assert names(admin_app) == ["Ian Insta"]
    admin_app.selectbox(key="inbox_status").select("closed").run()
    assert names(admin_app) == ["Mia Messenger"]


def test_filter_by_connected_page_or_account(desk, admin_app) -> None:
    from bot.platform import registry as channels

    second = desk.control("pages", name="Second Shop")
    commands.connect_page(second["page_id"], "Second Shop", second["page_token"])
    customer_writes(desk, "Mia Messenger", "hi from the first page")
    customer_writes(desk, "Ian Insta", "hello", account=desk.page["instagram_id"])
    customer_writes(desk, "Sue Second", "hi from the second page", account=second["page_id"])
    first = channels.channel_for("facebook", desk.page["page_id"])
    instagram = channels.channel_for("instagram", desk.page["instagram_id"])
    other = channels.channel_for("facebook", second["page_id"])
    admin_app.run()
    assert names(admin_app) == ["Sue Second", "Ian Insta", "Mia Messenger"]
    picker = admin_app.multiselect(key="inbox_channels")
    assert "Second Shop (Facebook Page)" in picker.options and "Acme Shoes (Facebook Page)" in picker.options
    picker.set_value([other.id]).run()
    assert names(admin_app) == ["Sue Second"]  # the same kind (Messenger) as the first page, another page
    admin_app.multiselect(key="inbox_channels").set_value([first.id, instagram.id]).run()
    assert names(admin_app) == ["Ian Insta", "Mia Messenger"]
    admin_app.selectbox(key="inbox_kind").select("messenger").run()  # with the kind filter: both apply
    assert names(admin_app) == ["Mia Messenger"]
    admin_app.multiselect(key="inbox_channels").set_value([]).run()
    assert names(admin_app) == ["Sue Second", "Mia Messenger"]


def test_pages_of_25(desk, admin_app) -> None:
    for index in range(26):
        customer_writes(desk, f"Person {index:02d}", "hi")
    admin_app.run()
    assert len(names(admin_app)) == 25 and names(admin_app)[0] == "Person 25"
    assert "Page 1 of 2" in texts(admin_app)
    admin_app.button(key="inbox_next").click().run()
    assert names(admin_app) == ["Person 00"]
    admin_app.selectbox(key="inbox_status").select("Any").run()  # a filter change goes back to page 1
    assert "Page 1 of 2" in texts(admin_app)


def test_open_goes_to_the_conversation(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "hi")
    admin_app.run()
    admin_app.button(key=f"open_{conversation_id}").click().run()
    assert not admin_app.exception
    assert "Dana Buyer" in [t.value for t in admin_app.title]
    assert admin_app.query_params["conversation"] == str(conversation_id)
