"""Conditions on custom attributes: typed comparisons (text, number, date, list), checked when a
campaign or flow is saved with errors naming the field, an action's "only if" skipped with its
reason (in the dry run and the campaign's ledger), and a flow transition branching on `when`."""

from __future__ import annotations

import pytest

from bot.automation import campaigns, conditions
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.automation.conditions import Condition
from bot.automation.context import attribute_kinds
from bot.automation.flows import runner, store
from bot.automation.flows.runner import Answer
from bot.automation.flows.spec import FlowSpec, StateSpec, Transition
from bot.core.compose import MessageContent
from bot.core.errors import Invalid
from bot.helpdesk import attributes
from bot.platform.db import now_ms
from bot.platform.models import Comment, Contact, Conversation, Identity
from tests.bot.helpdesk.factories import conversation

PERSON = {"plan": "Gold", "orders": "12", "since": "2024-03-01", "tier": "b", "city": "Berlin-Mitte",
          "code": "007"}
KINDS = {"plan": "text", "orders": "number", "since": "date", "tier": "list", "city": "text", "code": "text"}


@pytest.mark.parametrize(("condition", "holds"), [
    (Condition(key="plan", value="gold"), True),  # text: case and accents do not matter
    (Condition(key="plan", op="not_equals", value="gold"), False),
    (Condition(key="city", op="contains", value="berlin"), True),
    (Condition(key="orders", op="greater_than", value="9"), True),  # as numbers: "12" > "9"
    (Condition(key="orders", op="less_than", value="12"), False),
    (Condition(key="orders", value="12.0"), True),  # a number attribute: equal as numbers
    (Condition(key="code", value="7"), False),  # a text attribute: "007" is text, not the number 7
    (Condition(key="code", value="007"), True),
    (Condition(key="code", op="not_equals", value="7.0"), True),
    (Condition(key="since", value="2024-03-01"), True),
    (Condition(key="since", op="before", value="2024-12-31"), True),
    (Condition(key="since", op="after", value="2024-03-01"), False),
    (Condition(key="tier", op="one_of", values=["a", "b"]), True),
    (Condition(key="tier", op="one_of", values=["c"]), False),
    (Condition(key="vip", op="is_not_set"), True),
    (Condition(key="vip", value="yes"), False),  # not set: never equal
    (Condition(key="plan", op="is_set"), True),
])
def test_typed_comparisons(condition: Condition, holds: bool) -> None:
    assert conditions.holds([condition], PERSON, KINDS) is holds


def test_the_reason_names_the_value_and_what_was_wanted() -> None:
    assert conditions.miss([Condition(key="plan", value="silver")], PERSON, KINDS) == \
        "plan is Gold (wanted: plan is silver)"
    assert conditions.miss([Condition(key="vip", value="yes")], PERSON, KINDS) == "vip is not set (wanted: vip is yes)"
    assert conditions.miss([Condition(key="plan", value="gold")], PERSON, KINDS) is None


def test_equality_follows_the_declared_type_not_the_look_of_the_value() -> None:
    """The same stored "007" and wanted "7": equal only when the attribute is a number."""
    same = Condition(key="ref", value="7")
    assert not conditions.holds([same], {"ref": "007"}, {"ref": "text"})
    assert conditions.holds([same], {"ref": "007"}, {"ref": "number"})
    assert not conditions.holds([same], {"ref": "007"}, {})  # no longer defined: compared as text


@pytest.fixture
def defined(db) -> None:  # noqa: ANN001 - the migrated database
    attributes.define("plan", "Plan", "list", ["gold", "silver"])
    attributes.define("orders", "Orders", "number")
    attributes.define("since", "Customer since", "date")
    attributes.define("city", "City", "text")


@pytest.mark.parametrize(("condition", "field"), [
    (Condition(key="nope", value="1"), "trigger.attribute_conditions[0].key"),
    (Condition(key="orders", op="contains", value="1"), "trigger.attribute_conditions[0].op"),
    (Condition(key="orders", op="greater_than", value="many"), "trigger.attribute_conditions[0].value"),
    (Condition(key="since", op="before", value="31/12/2024"), "trigger.attribute_conditions[0].value"),
    (Condition(key="plan", value="platinum"), "trigger.attribute_conditions[0].value"),
    (Condition(key="plan", op="one_of", values=["gold", "bronze"]), "trigger.attribute_conditions[0].values[1]"),
    (Condition(key="city", value=""), "trigger.attribute_conditions[0].value"),
])
def test_campaign_conditions_are_checked_by_type_when_saved(defined, condition: Condition, field: str) -> None:
    spec = CampaignSpec(name="x", channel_id=Conversation.get_by_id(conversation()).channel_id,
                        trigger=TriggerSpec(attribute_conditions=[condition]),
                        actions=[ActionSpec(kind="add_tag", tag="t")])
    with pytest.raises(Invalid) as caught:
        campaigns.validate(spec)
    assert caught.value.field == field


def test_an_action_only_if_is_skipped_with_its_reason_in_the_dry_run(defined) -> None:
    talk = Conversation.get_by_id(conversation())
    gold, silver = talk.contact_id, Contact.create(name="Sid", created_at=0, updated_at=0).id
    attributes.set_values(gold, {"plan": "gold", "orders": "12"})
    attributes.set_values(silver, {"plan": "silver", "orders": "2"})
    for user, contact in (("u-gold", gold), ("u-silver", silver)):
        Identity.create(contact=contact, channel=talk.channel_id, platform="facebook", scoped_id=user, created_at=0)
        Comment.create(comment_id=f"c-{user}", channel=talk.channel_id, post_id="1_9", from_id=user, text="hi",
                       created_at=now_ms())
    thanks = ActionSpec(kind="send_message", message=MessageContent(text="Thanks!"))
    gift = ActionSpec(kind="send_message", message=MessageContent(text="A gift for you"),
                      only_if=[Condition(key="plan", value="gold")])
    spec = CampaignSpec(name="Loyal", channel_id=talk.channel_id, actions=[thanks, gift],
                        trigger=TriggerSpec(attribute_conditions=[Condition(key="orders", op="greater_than",
                                                                            value="1")]))
    report = campaigns.dry_run(spec)
    assert sorted(report.matched_comment_ids) == ["c-u-gold", "c-u-silver"]
    by_comment = {s.comment_id: s for s in report.samples}
    assert by_comment["c-u-gold"].messages == ["Thanks!", "A gift for you"]
    assert by_comment["c-u-silver"].messages == ["Thanks!"]
    assert by_comment["c-u-silver"].skipped_actions == [
        "actions[1] (send_message): only if plan is silver (wanted: plan is gold)"]
    stricter = CampaignSpec(name="Big", channel_id=talk.channel_id, actions=[thanks],
                            trigger=TriggerSpec(attribute_conditions=[Condition(key="orders", op="greater_than",
                                                                                value="5")]))
    report = campaigns.dry_run(stricter)
    assert report.skipped == {"attribute_mismatch": 1}
    assert report.condition_misses == {"orders is 2 (wanted: orders is greater than 5)": 1}
    bad = CampaignSpec(name="x", channel_id=talk.channel_id,
                       actions=[thanks, ActionSpec(kind="add_tag", tag="t", only_if=[Condition(key="plan",
                                                                                               value="x")])])
    with pytest.raises(Invalid) as caught:
        campaigns.validate(bad)
    assert caught.value.field == "actions[1].only_if[0].value"


def branching_flow(when: list[Condition]) -> FlowSpec:
    ask = StateSpec(message=MessageContent(text="Pricing?"), transitions=[
        Transition(postback="PRICES", when=when, to="gold"), Transition(postback="PRICES", to="regular")])
    return FlowSpec(name="prices", start="ask", states={
        "ask": ask, "gold": StateSpec(message=MessageContent(text="Your gold prices")),
        "regular": StateSpec(message=MessageContent(text="Our prices"))})


def test_a_flow_transition_branches_on_attributes_and_is_checked_when_saved(defined) -> None:
    flow = branching_flow([Condition(key="plan", value="gold")])
    kinds = attribute_kinds()  # what the engine hands the runner
    assert kinds == {"plan": "list", "orders": "number", "since": "date", "city": "text"}
    said = {plan: runner.advance(flow, "ask", Answer("postback", payload="PRICES", attributes=values,
                                                     kinds=kinds)).says[0]
            for plan, values in (("gold", {"plan": "gold"}), ("silver", {"plan": "silver"}), ("none", {}))}
    assert {k: v.content.text for k, v in said.items()} == {
        "gold": "Your gold prices", "silver": "Our prices", "none": "Our prices"}
    store.save(flow)  # same answer, another `when`: a branch, not a duplicate
    with pytest.raises(Invalid) as caught:
        store.save(branching_flow([Condition(key="orders", op="after", value="2024-01-01")]))
    assert caught.value.field == "states.ask.transitions[0].when[0].op"
    assert caught.value.words.startswith("State ask, transition 1, condition 1: comparison: a number attribute")
