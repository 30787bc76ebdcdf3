"""A campaign's audience filter on custom attributes, live: through the sandbox, only the
commenter whose contact has the value gets the private reply; the other's run is recorded as
"attribute_mismatch"."""

from __future__ import annotations

from bot.automation.campaigns import AttributeCondition
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
from tests.servers import Stack


def test_only_commenters_with_the_attribute_value_get_the_campaign(stack: Stack) -> None:
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
    comment(stack, post, other, "nice")
    settled(stack)
    with connection():
        reasons = sorted(r.reason for r in CampaignRun.select())
    assert reasons == ["attribute_mismatch", "matched"]
    assert [s["comment_id"] for s in private_replies(stack)] == [answered]
