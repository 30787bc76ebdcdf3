"""The contacts page: search, and a profile with identities, tags and conversations."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import customer_writes, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_search_and_open_a_profile(desk, admin_app) -> None:
    from bot.platform.models import Conversation

    conversation_id, user_id = customer_writes(desk, "Dana Buyer", "hi")
    customer_writes(desk, "Ian Insta", "hello", account=desk.page["instagram_id"])
    admin_app.switch_page("app_pages/contacts.py").run()
    assert "Dana Buyer" in texts(admin_app) and "Ian Insta" in texts(admin_app)
    contact_id = Conversation.get_by_id(conversation_id).contact_id
    admin_app.text_input(key="contacts_search").input("ian_insta").run()  # Instagram usernames too
    listed = {b.key for b in admin_app.button if (b.key or "").startswith("contact_")}
    # (the bell in the sidebar names Dana too: her notification is unread, so look at the list itself)
    assert "Ian Insta" in texts(admin_app) and f"contact_{contact_id}" not in listed and listed
    admin_app.text_input(key="contacts_search").input("dana").run()
    admin_app.button(key=f"contact_{contact_id}").click().run()
    page = texts(admin_app)
    assert "Dana Buyer" in [t.value for t in admin_app.title]
    assert "**Messenger** on Acme Shoes" in page and f"id {user_id}" in page
    assert "Facebook Messenger" in admin_app.multiselect(key=f"tags{contact_id}").value
    admin_app.button(key=f"contact_conv_{conversation_id}").click().run()
    assert not admin_app.exception
    assert admin_app.session_state["sd_open_conversation"] == conversation_id
