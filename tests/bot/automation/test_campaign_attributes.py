"""Custom attributes deciding live, through the sandbox: a campaign's audience filter (only the
commenter whose contact has the value gets the private reply; the other's run is recorded as
"attribute_mismatch"), and a bot flow's transition `when` (each person gets their branch)."""

from __future__ import annotations

from bot.automation.campaigns import AttributeCondition
from bot.automation.conditions import Condition
from bot.automation.flows import store
from bot.automation.flows.spec import EntrySpec, FlowSpec, StateSpec, Transition
from bot.core.compose import Button, MessageContent
from bot.helpdesk import attributes
from bot.platform.db import connection
from bot.platform.models import CampaignRun, Identity
from tests.bot.automation.test_campaigns import (
    comment,
    commenter,
    make_campaign,
    new_post,
    private_replies,
    settled,
)
from tests.bot.automation.test_flows import bot_sent, person, texts
from tests.servers import Stack


def test_attributes_decide_live_who_gets_a_campaign_and_which_flow_branch(stack: Stack) -> None:
    """One stack for both (the suite stays fast): a campaign's audience, then a flow's `when`."""
    only_commenters_with_the_attribute_value_get_the_campaign(stack)
    a_flow_transitions_when_sends_each_person_their_branch(stack)


def only_commenters_with_the_attribute_value_get_the_campaign(stack: Stack) -> None:
    with connection():
        attributes.define("vip_level", "VIP level", "list", ["silver", "gold"])
    gold, other = commenter(stack, "Gina Gold"), commenter(stack, "Otto Other")
    for user in (gold, other):  # both wrote before, so socialdesk knows them as contacts
        stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="hello")
    identity = stack.wait(lambda: Identity.get_or_none(Identity.scoped_id == gold), what="the contact")
    stack.wait(lambda: Identity.get_or_none(Identity.scoped_id == other), what="the other contact")
    with connection():
        attributes.set_values(identity.contact_id, {"vip_level": "gold"})
    post = new_post(stack)
    make_campaign(stack, post, attribute_conditions=[AttributeCondition(key="vip_level", value="gold")])
    answered = comment(stack, post, gold, "nice")
    skipped = comment(stack, post, other, "nice")
    settled(stack)
    with connection():  # the two people's comments (the page's own public reply may have a run too)
        reasons = sorted(r.reason for r in CampaignRun.select().where(CampaignRun.comment_id.in_([answered, skipped])))
    assert reasons == ["attribute_mismatch", "matched"]
    assert [s["comment_id"] for s in private_replies(stack)] == [answered]


def a_flow_transitions_when_sends_each_person_their_branch(stack: Stack) -> None:
    """Two people press the same button of a live flow; the transition's `when` on their custom
    attributes sends each their own next step. The second's code "007" is text: it is not "7"."""
    with connection():
        attributes.define("plan", "Plan", "list", ["gold", "silver"])
        attributes.define("code", "Code", "text")
        store.save(FlowSpec(name="prices", start="ask", entry=EntrySpec(payloads=["GET_STARTED"]), states={
            "ask": StateSpec(message=MessageContent(text="Pricing?", buttons=(Button(title="Prices",
                                                                                      payload="PRICES"),)),
                             transitions=[Transition(postback="PRICES", when=[Condition(key="plan", value="gold")],
                                                     to="gold"),
                                          Transition(postback="PRICES", when=[Condition(key="code", value="7")],
                                                     to="seven"),
                                          Transition(postback="PRICES", to="regular")]),
            "gold": StateSpec(message=MessageContent(text="Your gold prices")),
            "seven": StateSpec(message=MessageContent(text="Agent 7 prices")),
            "regular": StateSpec(message=MessageContent(text="Our prices"))}))
    page = stack.page["page_id"]
    people = {"gold": (person(stack, "Paula Premium"), {"plan": "gold"}),
              "other": (person(stack, "Sam Seven"), {"plan": "silver", "code": "007"})}
    for user, values in people.values():
        stack.control("postback", account_id=page, user_id=user, payload="GET_STARTED", title="Get Started")
        stack.wait(lambda user=user: len(bot_sent(stack, user)) == 1, what="the question")
        with connection():
            attributes.set_values(Identity.get(Identity.scoped_id == user).contact_id, values)
    for user, _ in people.values():
        asked = bot_sent(stack, user)[0]
        stack.control("postback", account_id=page, user_id=user, mid=asked["message_id"], button_index=0)
    for user, _ in people.values():
        stack.wait(lambda user=user: len(bot_sent(stack, user)) == 2, what="the branch")
    settled(stack)
    assert {name: texts(bot_sent(stack, user)) for name, (user, _) in people.items()} == {
        "gold": ["Pricing?", "Your gold prices"], "other": ["Pricing?", "Our prices"]}
