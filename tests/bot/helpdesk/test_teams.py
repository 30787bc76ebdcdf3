"""Teams: created and changed with errors naming the field; conversations given to a team (one that
works their channel) and the inbox's team filters; an assignment rule naming a team gives new
conversations to it, round-robin among its members only; canned responses kept for a team; and
the helpdesk's outgoing-webhook events recorded with their payloads."""

from __future__ import annotations

import json

import pytest

from bot import queries
from bot.automation import assignment
from bot.automation.router import route
from bot.core import events as ev
from bot.core.errors import Invalid, NotFound
from bot.helpdesk import canned, snooze, teams
from bot.inbound import inbox
from bot.outbound import outhooks
from bot.platform.db import transaction
from bot.platform.models import Channel, Conversation, HookDelivery, HookEndpoint
from tests.bot.helpdesk.factories import conversation, staff


def field_of(call, *args, **kwargs) -> str:  # noqa: ANN001 - any service call
    with pytest.raises(Invalid) as caught:
        call(*args, **kwargs)
    return caught.value.field


def other_channel() -> int:
    return Channel.create(platform="instagram", account_id="2", page_id="1", name="Acme IG", created_at=0).id


def test_teams_are_created_changed_and_removed_with_errors_naming_the_field(db) -> None:
    ann, bob = staff("ann@example.com"), staff("bob@example.com")
    talk = conversation()
    channel_id = Conversation.get_by_id(talk).channel_id
    sales = teams.create(" Sales ", channel_id, [bob, ann, ann])
    assert (sales.name, sales.channel_id, sales.members) == ("Sales", channel_id, [ann, bob])
    assert field_of(teams.create, "Sales", None, []) == "name"  # unique
    assert field_of(teams.create, "", None, []) == "name"
    assert field_of(teams.create, "X", 999_999, []) == "channel_id"
    assert field_of(teams.create, "X", None, [ann, 999_999]) == "members[1]"
    changed = teams.update(sales.id, name="Sales EU", members=[bob], channel_id=None)
    assert (changed.name, changed.channel_id, changed.members) == ("Sales EU", None, [bob])
    assert teams.update(sales.id, name="Sales").members == [bob]  # members kept when not given
    assert [t.name for t in queries.teams_list()] == ["Sales"]
    with transaction():
        teams.assign(talk, sales.id)
    teams.delete(sales.id)
    assert Conversation.get_by_id(talk).team_id is None  # the conversation stays, without a team
    with pytest.raises(NotFound):
        teams.team(sales.id)


def test_a_conversation_goes_to_a_team_of_its_channel_and_the_inbox_filters_by_team(db) -> None:
    ann, bob = staff("ann@example.com"), staff("bob@example.com")
    first, second, third = conversation("a"), conversation("b"), conversation("c")
    channel_id = Conversation.get_by_id(first).channel_id
    sales, support = teams.create("Sales", channel_id, [ann]), teams.create("Support", None, [bob])
    instagram_only = teams.create("Instagram", other_channel(), [ann])
    with transaction():
        assert teams.assign(first, sales.id) == (None, sales.id)
        teams.assign(second, support.id)
        teams.assign(third, sales.id)
    assert field_of(teams.assign, first, instagram_only.id) == "team_id"  # works another channel
    assert field_of(teams.assign, first, 999_999) == "team_id"
    snooze.snooze(third, None, ann)
    assert {i.id for i in queries.inbox(team_id=sales.id).items} == {first, third}
    assert [i.id for i in queries.inbox(teams_of=ann, status="open").items] == [first]
    assert [i.id for i in queries.inbox(teams_of=ann, status="snoozed").items] == [third]
    assert [i.id for i in queries.inbox(teams_of=bob).items] == [second]
    assert queries.inbox(teams_of=staff("cy@example.com")).total == 0  # in no team: nothing
    assert queries.inbox(team_id=sales.id).items[0].team_id == sales.id
    assert queries.conversation(first).team_id == sales.id


def test_a_rule_naming_a_team_gives_new_conversations_to_it_among_its_members(db) -> None:
    ann, bob, cy = (staff(f"{n}@example.com") for n in ("ann", "bob", "cy"))
    for user in (ann, bob, cy):
        assignment.set_available(user, True)
    channel_id = Conversation.get_by_id(conversation("seed")).channel_id
    team = teams.create("Night shift", channel_id, [bob, cy])
    assert field_of(assignment.set_rule, channel_id, enabled=True, cap=5, members=[],
                    team_id=teams.create("IG", other_channel(), []).id) == "team_id"
    rule = assignment.set_rule(channel_id, enabled=True, cap=5, members=[], team_id=team.id)
    assert rule.team_id == team.id and queries.assignment_rule(channel_id).team_id == team.id
    chosen = []
    for n in range(4):
        event = ev.MessageReceived(platform="facebook", account_id="1", user_id=f"psid-{n}", mid=f"m{n}",
                                   text="hi", timestamp=1_700_000_000_000 + n)
        with transaction():
            route(inbox.apply(event), emails_enabled=False, coalesce_ms=0)
        talk = Conversation.get(Conversation.thread_key == f"dm:facebook:1:psid-{n}")
        chosen.append(talk.assignee_id)
        assert talk.team_id == team.id
    assert chosen == [bob, cy, bob, cy]  # Ann is available but not in the team


def test_canned_responses_kept_for_a_team_are_its_members(db) -> None:
    ann, bob, admin = staff("ann@example.com"), staff("bob@example.com"), staff("root@example.com", role="admin")
    talk = conversation()
    team = teams.create("Sales", None, [ann])
    canned.create(admin, "hours", "We open at 9", shared=True)
    kept = canned.create(ann, "hours", "Sales opens at 8", shared=False, team_id=team.id)
    assert kept.team_id == team.id and not kept.shared
    assert [(v.name, v.text) for v in canned.visible(ann)] == [("hours", "Sales opens at 8")]  # team shadows shared
    assert [(v.name, v.text) for v in canned.visible(bob)] == [("hours", "We open at 9")]
    assert canned.expand(ann, talk, "/hours").text == "Sales opens at 8"
    with pytest.raises(NotFound):
        canned.get(bob, kept.id)
    assert field_of(canned.create, bob, "prices", "From 10 EUR", shared=False, team_id=team.id) == "team_id"
    assert canned.create(admin, "prices", "From 10 EUR", shared=False, team_id=team.id).team_id == team.id
    teams.delete(team.id)
    assert [v.text for v in canned.visible(ann)] == ["We open at 9"]  # the team's went with it


def test_helpdesk_events_are_recorded_with_their_payloads(db) -> None:
    HookEndpoint.create(url="https://hooks.example.com/in", events=list(outhooks.HELPDESK_EVENTS),
                        secret_encrypted="not used to record", created_at=0, updated_at=0)
    ann = staff("ann@example.com")
    talk = conversation()
    snooze.snooze(talk, None, ann)
    event = ev.MessageReceived(platform="facebook", account_id="1", user_id="42", mid="m-wake", text="still there?",
                               timestamp=1_700_000_000_000)
    with transaction():
        follow = route(inbox.apply(event), emails_enabled=False, coalesce_ms=0)
    [woken] = [body(i) for i in follow.hooks if body(i)["event"] == outhooks.CONVERSATION_UNSNOOZED]
    assert woken["data"]["reason"] == "customer_wrote" and woken["data"]["conversation"]["id"] == talk
    assert woken["data"]["conversation"]["status"] == "open"
    contact_id = Conversation.get_by_id(talk).contact_id
    [changed] = outhooks.attributes_changed(contact_id, {"plan": "silver", "city": "Rome"}, {"plan": "gold",
                                                                                            "city": "Rome"}, ann)
    assert body(changed)["data"] == {"contact_id": contact_id, "attributes": {"plan": "gold", "city": "Rome"},
                                     "changed": {"plan": {"before": "silver", "after": "gold"}}, "by_user_id": ann}
    assert outhooks.attributes_changed(contact_id, {"plan": "gold"}, {"plan": "gold"}, ann) == []  # no change


def body(delivery_id: int) -> dict:
    return json.loads(HookDelivery.get_by_id(delivery_id).body)
