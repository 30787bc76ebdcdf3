"""Teams in the dashboard, in one run: an admin creates a team on the Teams page, gives a
conversation to it from the conversation's side panel, the inbox's "My teams" filter shows it to
a member only, a channel's round-robin names the team, and a saved reply is kept for the team."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import customer_writes, open_conversation, texts

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_team_is_created_given_a_conversation_and_filtered_on(desk, admin_app, agent_app) -> None:
    from bot.automation import assignment
    from bot.platform import registry as channels
    from bot.platform.models import CannedResponse, Conversation, Team, User

    agent = User.get(User.role == "agent")
    app = admin_app.switch_page("app_pages/teams.py").run()
    assert not app.exception, app.exception
    app.text_input(key="team_new_name").input("Sales")
    app.multiselect(key="team_new_members").select(agent.id)
    next(b for b in app.button if b.key and "team_new_form" in b.key).click().run()
    assert "Team Sales saved." in texts(app)
    team = Team.get(Team.name == "Sales")

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Where is my parcel?")
    customer_writes(desk, "Sid Other", "Hello")
    app = open_conversation(admin_app, conversation_id)
    app.selectbox(key=f"team_of{conversation_id}").set_value(team.id).run()
    assert not app.exception, app.exception
    assert Conversation.get_by_id(conversation_id).team_id == team.id

    inbox = agent_app.switch_page("app_pages/inbox.py").run()
    inbox.selectbox(key="inbox_team").set_value(-1).run()  # "My teams"
    assert "1 conversation ·" in texts(inbox) and "**Dana Buyer**" in texts(inbox)
    assert "**Sid Other**" not in texts(inbox)  # (the bell still names him)
    inbox = admin_app.switch_page("app_pages/inbox.py").run()
    inbox.selectbox(key="inbox_team").set_value(-1).run()  # the admin is in no team
    assert "No conversations match these filters." in texts(inbox)

    facebook = channels.channel_for("facebook", desk.page["page_id"])
    settings = admin_app.switch_page("app_pages/settings.py").run()
    key = f"assign_{facebook.id}_"
    settings.toggle(key=key + "enabled").set_value(True)
    settings.selectbox(key=key + "team").set_value(team.id)
    next(b for b in settings.button if b.key and key + "form" in b.key).click().run()
    assert assignment.rule_of(facebook.id).team_id == team.id

    replies = agent_app.switch_page("app_pages/canned.py").run()
    replies.text_input(key="canned_new_name").input("parcel")
    replies.text_area(key="canned_new_text").input("Your parcel is on its way")
    replies.selectbox(key="canned_new_scope").set_value(team.id)
    replies.button(key="canned_new_save").click().run()
    assert "Saved /parcel." in texts(replies)
    assert CannedResponse.get(CannedResponse.name == "parcel").scope == f"team:{team.id}"
