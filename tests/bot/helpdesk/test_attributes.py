"""Custom contact attributes: typed definitions, values checked by type (errors name the field,
one bad value stores nothing), shortcodes and campaign audience conditions (with the dry run's
reason)."""

from __future__ import annotations

import pytest

from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, AttributeCondition, CampaignSpec, CommentFacts, TriggerSpec
from bot.automation.context import person_context
from bot.core.compose import check_template, render
from bot.core.errors import Invalid
from bot.helpdesk import attributes
from bot.platform.db import now_ms
from bot.platform.models import Comment, Contact, ContactAttribute, Conversation, Identity
from tests.bot.helpdesk.factories import conversation


def invalid(call, *args) -> Invalid:  # noqa: ANN001 - any service call
    with pytest.raises(Invalid) as error:
        call(*args)
    return error.value


@pytest.fixture
def defined(db) -> None:
    attributes.define("vip_level", "VIP level", "list", ["silver", "gold"])
    attributes.define("lifetime_value", "Lifetime value", "number")
    attributes.define("birthday", "", "date")
    attributes.define("notes_ref", "Order ref", "text")


def test_definitions_are_checked(defined) -> None:
    assert [(d.key, d.label, d.kind, d.choices) for d in attributes.definitions()] == [
        ("birthday", "birthday", "date", []), ("lifetime_value", "Lifetime value", "number", []),
        ("notes_ref", "Order ref", "text", []), ("vip_level", "VIP level", "list", ["silver", "gold"])]
    assert invalid(attributes.define, "Bad Key", "x", "text").field == "key"
    assert invalid(attributes.define, "items", "x", "text").field == "key"  # names a dict method in templates
    assert invalid(attributes.define, "vip_level", "x", "text").field == "key"  # exists
    assert invalid(attributes.define, "size", "x", "colour").field == "kind"
    assert invalid(attributes.define, "size", "x", "list", []).field == "choices"
    assert invalid(attributes.define, "size", "x", "list", ["s", "s"]).field == "choices"
    assert invalid(attributes.define, "size", "x", "text", ["s"]).field == "choices"


def test_values_are_checked_by_type_and_stored_canonically(defined) -> None:
    person = Conversation.get_by_id(conversation()).contact_id
    values = attributes.set_values(person, {"vip_level": "gold", "lifetime_value": "0012.50",
                                            "birthday": " 1990-07-01 ", "notes_ref": " A-17 "})
    assert values == {"vip_level": "gold", "lifetime_value": "12.5", "birthday": "1990-07-01", "notes_ref": "A-17"}
    for key, bad in [("vip_level", "platinum"), ("lifetime_value", "12 euros"), ("lifetime_value", "nan"),
                     ("lifetime_value", "1e400"), ("birthday", "01/07/1990"), ("birthday", "1990-02-30"),
                     ("notes_ref", "x" * 501)]:
        error = invalid(attributes.set_values, person, {"vip_level": "silver", key: bad})
        assert error.field == f"attributes.{key}", (key, bad)
    assert attributes.set_values(person, {})["vip_level"] == "gold"  # nothing of a refused batch was stored
    assert invalid(attributes.set_values, person, {"shoe_size": "42"}).field == "attributes.shoe_size"
    assert invalid(attributes.set_values, person, {"shoe_size": None}).field == "attributes.shoe_size"
    assert attributes.set_values(person, {"lifetime_value": None, "notes_ref": ""}) == {
        "vip_level": "gold", "birthday": "1990-07-01"}
    assert attributes.clear(person, "birthday") == {"vip_level": "gold"}


def test_deleting_a_definition_deletes_its_values(defined) -> None:
    person = Conversation.get_by_id(conversation()).contact_id
    attributes.set_values(person, {"vip_level": "gold"})
    attributes.remove("vip_level")
    assert ContactAttribute.select().count() == 0


def test_shortcodes_render_a_contacts_attributes(defined) -> None:
    talk = Conversation.get_by_id(conversation())
    attributes.set_values(talk.contact_id, {"vip_level": "gold"})
    text = "Hi {{ first_name }}, {{ attributes.vip_level }} member{{ attributes.birthday }}!"
    check_template(text, "text")  # `attributes.<anything>` is a known shortcode
    assert render(text, person_context(talk, talk.channel)) == "Hi Dana, gold member!"
    assert render("{{ attributes.vip_level or 'new' }}", {}) == "new"  # a person without values
    with pytest.raises(Invalid):
        check_template("{{ atributes.vip_level }}", "text")


def test_a_campaign_condition_matches_on_attributes() -> None:
    trigger = TriggerSpec(attribute_conditions=[AttributeCondition(key="vip_level", value="Gold"),
                                                AttributeCondition(key="city", op="contains", value="berlin")])
    facts = CommentFacts(post_id="p", parent_id=None, text="hi", by_account=False, from_id="u",
                         attributes={"vip_level": "gold", "city": "Berlin-Mitte"})
    assert campaigns.match(trigger, True, facts) == "matched"
    for changed in ({"vip_level": "silver", "city": "Berlin"}, {"vip_level": "gold"}, {}):
        facts = CommentFacts(post_id="p", parent_id=None, text="hi", by_account=False, from_id="u",
                             attributes=changed)
        assert campaigns.match(trigger, True, facts) == "attribute_mismatch"


def test_the_dry_run_gives_the_attribute_reason_and_conditions_are_saved(defined) -> None:
    talk = Conversation.get_by_id(conversation())
    gold, other = talk.contact_id, Contact.create(name="Sid", created_at=0, updated_at=0).id
    attributes.set_values(gold, {"vip_level": "gold"})
    for user, contact in (("u-gold", gold), ("u-other", other)):
        Identity.create(contact=contact, channel=talk.channel_id, platform="facebook", scoped_id=user, created_at=0)
        Comment.create(comment_id=f"c-{user}", channel=talk.channel_id, post_id="1_9", from_id=user, text="hi",
                       created_at=now_ms())
    spec = CampaignSpec(name="VIPs", channel_id=talk.channel_id, actions=[ActionSpec(kind="add_tag", tag="vip")],
                        trigger=TriggerSpec(attribute_conditions=[AttributeCondition(key="vip_level", value="gold")]))
    report = campaigns.dry_run(spec)
    assert report.matched_comment_ids == ["c-u-gold"] and report.skipped == {"attribute_mismatch": 1}
    assert "attribute_mismatch" in campaigns.REASONS
    saved = campaigns.save(spec)
    assert campaigns.spec_of(saved).trigger.attribute_conditions == spec.trigger.attribute_conditions
    wrong = CampaignSpec(name="x", channel_id=talk.channel_id, actions=spec.actions,
                         trigger=TriggerSpec(attribute_conditions=[AttributeCondition(key="nope", value="1")]))
    assert invalid(campaigns.validate, wrong).field == "trigger.attribute_conditions[0].key"
