"""Growth triggers and A/B variants end to end (issue 22), on SQLite and PostgreSQL: the sandbox
plays a page publishing a post and people arriving from a ref link, an ad and Get Started, and
commenting; signed webhooks reach the API, the worker binds the "next post" campaign, checks the
source condition and once-per-person, sends one variant as the private reply through the sandbox,
and the variant funnel counts what the sandbox recorded."""

from __future__ import annotations

from bot.automation import campaign_stats, campaigns
from bot.automation.audience import AudienceSpec
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.automation.triggers import SourceCondition
from bot.automation.variants import MessageVariant
from bot.core.compose import Button, MessageContent
from bot.core.errors import Invalid
from bot.platform.db import connection
from bot.platform.models import Campaign, CampaignRun, CampaignStep, ContactSource, Identity
from tests.bot.automation.test_campaigns import comment, commenter, page_channel, private_replies, settled
from tests.servers import Stack

VARIANTS = [MessageVariant(message=MessageContent(text="A: 10% off with SUMMER10"), weight=3),
            MessageVariant(message=MessageContent(text="B: free shipping",
                                                  buttons=(Button(title="More", payload="MORE"),)), weight=1)]


def _campaign(stack: Stack) -> int:
    spec = CampaignSpec(
        name="Next post, from the summer link", channel_id=page_channel(stack), is_active=True,
        trigger=TriggerSpec(all_posts=False, next_post=True,
                            source_conditions=[SourceCondition(kind="ref", value="summer")]),
        audience=AudienceSpec(once_per_person=True),
        actions=[ActionSpec(kind="send_message", variants=VARIANTS)])
    with connection():
        return campaigns.save(spec).id


def _source(stack: Stack, user: str) -> ContactSource:
    def recorded() -> ContactSource | None:
        identity = Identity.get_or_none(Identity.scoped_id == user)
        return identity and ContactSource.get_or_none(ContactSource.contact == identity.contact_id)
    return stack.wait(recorded, what=f"the source of {user}")


def test_each_run_records_the_variant_that_went_once(stack: Stack) -> None:
    """A run that starts at once with a private reply is stored with its first step (one statement
    on PostgreSQL, the variant picked before the run exists): the step names the variant that was
    sent, and every action has its one step."""
    spec = CampaignSpec(name="A/B at once", channel_id=page_channel(stack), is_active=True,
                        actions=[ActionSpec(kind="send_message", variants=VARIANTS), ActionSpec(kind="add_tag",
                                                                                             tag="Asked")])
    with connection():
        campaign_id = campaigns.save(spec).id
    post = stack.control("posts", account_id=stack.page["page_id"], message="Drop")["post_id"]
    people = [commenter(stack, f"Person {i}") for i in range(6)]
    comments = [comment(stack, post, person, "me") for person in people]
    stack.wait(lambda: len(private_replies(stack)) == len(comments), what="a private reply per comment")
    settled(stack)
    with connection():
        runs = list(CampaignRun.select().where(CampaignRun.campaign == campaign_id))
        steps = [(s.run.comment_id, s.position, s.status, s.detail, s.variant)
                 for s in CampaignStep.select().join(CampaignRun).order_by(CampaignStep.id)]
    assert sorted(r.comment_id for r in runs) == sorted(comments) and all(r.matched for r in runs)
    assert sorted((c, p) for c, p, *_ in steps) == sorted([(c, p) for c in comments for p in (0, 1)])
    sent = {s["comment_id"]: s["body"]["message"] for s in private_replies(stack)}
    for comment_id, position, status, detail, variant in steps:
        if position == 1:
            assert status == "done" and detail == "tag Asked"
            continue
        text = sent[comment_id].get("text") or sent[comment_id]["attachment"]["payload"]["text"]
        assert text.startswith(f"{'AB'[variant]}:") and status == "queued"
        assert detail == f"private reply to the comment (variant {'AB'[variant]})"


def test_ref_sources_next_post_once_per_person_and_variant_funnel(stack: Stack) -> None:
    page = stack.page["page_id"]
    ann, bob, cid = commenter(stack, "Ann Link"), commenter(stack, "Bob Plain"), commenter(stack, "Cid Ad")
    stack.control("referral", account_id=page, user_id=ann, ref="summer")  # m.me/page?ref=summer
    stack.control("postback", account_id=page, user_id=ann, payload="GET_STARTED", title="Get Started",
                  ref="winter")  # later: Get Started on another link
    stack.control("referral", account_id=page, user_id=cid, source="ADS", ad_id="6045", ref="summer")
    stack.control("dm", account_id=page, user_id=bob, text="hi")
    first = _source(stack, ann)
    stack.wait(lambda: ContactSource.get_by_id(first.id).last_ref == "winter", what="Ann's latest source")
    ad = _source(stack, cid)
    assert (ad.first_ad_id, ad.first_source, ad.first_ref) == ("6045", "ADS", "summer")

    campaign_id = _campaign(stack)
    old_post = stack.control("posts", account_id=page, message="Old news")["post_id"]  # seeded, no webhook
    comment(stack, old_post, ann, "earlier post")
    settled(stack)
    new_post = stack.control("posts", account_id=page, message="Summer drop", webhook=True)["post_id"]
    stack.wait(lambda: Campaign.get_by_id(campaign_id).bound_post_id == new_post, what="bound to the new post")
    answered = [comment(stack, new_post, ann, "me!")]
    # Each top-level comment is its own thread, applied beside the others: Ann's second one comes
    # once her first was answered, or either could be the one "once per person" lets through.
    stack.wait(lambda: len(private_replies(stack)) == 1, what="Ann's first comment answered")
    answered.append(comment(stack, new_post, cid, "me too"))
    comment(stack, new_post, ann, "me again")  # once per person
    comment(stack, new_post, bob, "and me")  # never came from the summer link
    stack.wait(lambda: len(private_replies(stack)) == 2, what="two private replies")
    settled(stack)
    with connection():
        reasons = sorted(r.reason for r in CampaignRun.select().where(CampaignRun.campaign == campaign_id))
        steps = {s.run.comment_id: s for s in CampaignStep.select().join(CampaignRun)}
    assert reasons == ["already_reached_person", "matched", "matched", "next_post_pending", "source_mismatch"]
    sent = {s["comment_id"]: s["body"]["message"] for s in private_replies(stack)}
    assert sorted(sent) == sorted(answered)
    for comment_id, message in sent.items():  # the ledger says which variant went, and that is what went
        text = message.get("text") or message["attachment"]["payload"]["text"]
        assert text.startswith(f"{'AB'[steps[comment_id].variant]}:")
        assert steps[comment_id].detail.endswith(f"(variant {'AB'[steps[comment_id].variant]})")

    stack.control("read", account_id=page, user_id=ann)
    stack.control("dm", account_id=page, user_id=ann, text="Thanks!")
    settled(stack)
    with connection():
        funnel = campaign_stats.funnel(campaign_id)
    by_letter = {v.variant: v for v in funnel.variants}
    ann_letter = "AB"[steps[answered[0]].variant]
    assert sum(v.sent for v in funnel.variants) == funnel.sent == 2
    assert (by_letter[ann_letter].read, by_letter[ann_letter].replied) >= (1, 1)
    assert by_letter[ann_letter].reply_rate == round(1 / by_letter[ann_letter].sent, 4)
    assert [v.weight for v in funnel.variants] == [3, 1]

    with connection():  # Instagram sends no webhook for a new post: the scope is refused there
        try:
            campaigns.validate(CampaignSpec(name="x", channel_id=page_channel(stack, instagram=True),
                                            trigger=TriggerSpec(all_posts=False, next_post=True),
                                            actions=[ActionSpec(kind="send_message", variants=VARIANTS)]))
        except Invalid as refused:
            assert refused.field == "trigger.next_post"
        else:
            raise AssertionError("next post accepted on Instagram")
