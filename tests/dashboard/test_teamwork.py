"""Contact merges and assignment in the dashboard: a suggested merge merged and undone from the
contacts page, "Merge with…" in a profile, the sidebar's availability switch, and a channel's
round-robin settings."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import customer_writes, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def contact_of(conversation_id: int) -> int:
    from bot.platform.models import Conversation

    return Conversation.get_by_id(conversation_id).contact_id


def test_a_suggested_merge_is_merged_then_undone(desk, agent_app) -> None:
    from bot.platform.models import Contact, Identity

    fb_talk, _ = customer_writes(desk, "Rita Twin", "hi on messenger")
    ig_talk, ig_user = customer_writes(desk, "Rita Twin", "hi on instagram", account=desk.page["instagram_id"])
    fb, ig = contact_of(fb_talk), contact_of(ig_talk)
    app = agent_app.switch_page("app_pages/contacts.py").run()
    assert "Suggested merges (1)" in [e.label for e in app.expander]
    assert "same name" in texts(app)
    app.button(key=f"suggest_merge_{fb}_{ig}").click().run()
    assert not app.exception, app.exception
    assert not Contact.select().where(Contact.id == ig).exists()
    assert contact_of(ig_talk) == fb and Identity.get(Identity.scoped_id == ig_user).contact_id == fb
    assert "Merged Rita Twin into this one" in texts(app)
    assert "Rita Twin" in [t.value for t in app.title]  # the survivor's profile is open

    undo = next(b for b in app.button if b.key and b.key.startswith("unmerge_"))
    undo.click().run()
    assert not app.exception, app.exception
    assert contact_of(ig_talk) == ig and contact_of(fb_talk) == fb
    assert "is a separate contact again" in texts(app) and "undone" in texts(app)


def test_merge_with_from_a_profile(desk, admin_app) -> None:
    dana, _ = customer_writes(desk, "Dana Buyer", "hello")
    other, _ = customer_writes(desk, "D. Buyer (Insta)", "hey", account=desk.page["instagram_id"])
    dana_id, other_id = contact_of(dana), contact_of(other)
    admin_app.session_state["sd_open_contact"] = dana_id
    app = admin_app.switch_page("app_pages/contacts.py").run()
    app.text_input(key=f"merge_search_{dana_id}").input("Insta").run()
    app.button(key=f"merge_{dana_id}_{other_id}").click().run()
    assert not app.exception, app.exception
    assert contact_of(other) == dana_id
    assert any(b.key and b.key.startswith("unmerge_") for b in app.button)


def test_the_sidebar_switch_sets_availability_and_hands_work_on(desk, agent_app) -> None:
    from bot.automation import assignment
    from bot.platform.models import Conversation, User

    agent = User.get(User.role == "agent")
    app = agent_app.run()
    assert app.toggle(key="sd_available").value is False
    app.toggle(key="sd_available").set_value(True).run()
    assert assignment.is_available(agent.id)
    talk, _ = customer_writes(desk, "Ola Open", "hi")
    Conversation.update(assignee=agent.id).where(Conversation.id == talk).execute()
    app.toggle(key="sd_available").set_value(False).run()
    assert not assignment.is_available(agent.id)
    assert Conversation.get_by_id(talk).assignee_id is None  # nobody available: left unassigned
    assert "1 open conversation(s) handed on, 1 left unassigned" in texts(app)


def test_round_robin_settings_per_channel(desk, admin_app) -> None:
    from bot.automation import assignment
    from bot.platform import registry as channels
    from bot.platform.models import User

    facebook = channels.channel_for("facebook", desk.page["page_id"])
    agent = User.get(User.role == "agent")
    app = admin_app.switch_page("app_pages/settings.py").run()
    key = f"assign_{facebook.id}_"
    app.toggle(key=key + "enabled").set_value(True)
    app.number_input(key=key + "cap").set_value(3)
    app.multiselect(key=key + "members").select(agent.id)
    next(b for b in app.button if b.key and key + "form" in b.key).click().run()
    assert not app.exception, app.exception
    assert "Assignment saved." in texts(app)
    rule = assignment.rule_of(facebook.id)
    assert (rule.enabled, rule.cap, rule.members) == (True, 3, [agent.id])
