"""Comment moderation (issue 22): campaigns like comments and hide spam through the sandbox over
real HTTP, once per comment, refused with the reason where Meta does not allow it; the dry run
and the stats count it."""

from __future__ import annotations

import pytest

from bot import commands, jobs
from bot.automation import campaign_stats, campaigns
from bot.automation import moderation as campaign_moderation
from bot.automation.campaigns import ActionSpec, CampaignSpec
from bot.core.errors import Invalid
from bot.outbound import moderation
from bot.platform.db import connection
from bot.platform.models import CampaignRun, CampaignStep, Comment, CommentModeration, Message
from bot.staff.auth import add_user
from tests.bot.automation.test_campaigns import comment, commenter, new_post, page_channel, settled
from tests.servers import Stack


def sandbox_comment(stack: Stack, comment_id: str) -> dict:
    return next(c for c in stack.sandbox_get("state")["comments"] if c["id"] == comment_id)


def graph_writes(stack: Stack, edge: str) -> list[dict]:
    return [a for a in stack.sandbox_get("attempts")["attempts"] if a["path"].endswith(edge) and a["method"] == "POST"]


def moderation_done(*comment_ids: str) -> bool:
    return not CommentModeration.select().where(
        CommentModeration.comment_id.in_(comment_ids) & CommentModeration.status.in_(["pending", "sending"])).exists()


def moderating_campaign(stack: Stack, *, instagram: bool = False, name: str = "Moderate") -> int:
    actions = [ActionSpec(kind="hide_comment", words=["rival.shop", "free money"], any_link=False)]
    if not instagram:
        actions.insert(0, ActionSpec(kind="like_comment"))
    spec = CampaignSpec(name=name, channel_id=page_channel(stack, instagram), is_active=True, actions=actions)
    with connection():
        return campaigns.save(spec).id


def test_like_and_hide_spam_once_per_comment_with_dry_run_and_stats(stack: Stack) -> None:
    post = new_post(stack)
    campaign_id = moderating_campaign(stack)
    fan, spammer = commenter(stack, "Fay Fan"), commenter(stack, "Sam Spam")
    kind = comment(stack, post, fan, "Love these boots")
    spam = comment(stack, post, spammer, "Cheaper at Rival.shop, FREE money!")
    stack.wait(lambda: moderation_done(kind, spam) and CommentModeration.select().count() == 3, what="moderated")
    settled(stack)
    assert sandbox_comment(stack, kind)["liked"] and not sandbox_comment(stack, kind)["hidden"]
    assert sandbox_comment(stack, spam)["liked"] and sandbox_comment(stack, spam)["hidden"]
    hides = graph_writes(stack, spam)
    assert [h["body"] for h in hides] == [{"is_hidden": True}]  # Facebook's parameter, once
    assert len(graph_writes(stack, f"{kind}/likes")) == 1
    with connection():
        assert Comment.get(Comment.comment_id == spam).hidden
        steps = {s.detail for s in CampaignStep.select()}
        assert "The comment contains none of the chosen words." in steps
        # A second campaign, and staff, asking again: nothing new reaches Meta.
        second = moderating_campaign(stack, name="Again")
        report = campaigns.dry_run(campaigns.spec_of(campaigns.load(second)[0]))
        assert report.moderation == {"like_already_done": 2, "hide_already_done": 1, "hide_no_word": 1}
        staff = add_user("mod@example.com", "long enough", "agent").id
        thread = Message.get(Message.comment_id == spam).conversation_id
        again = commands.moderate_comment(staff, thread, spam, "hide")
        assert (again.status, again.by) == ("done", "campaign")
        funnel = campaign_stats.funnel(campaign_id)
        assert funnel.moderated == {"liked": 2, "hidden": 1}
        like, hide = funnel.actions
        assert (like.kind, like.queued, like.sent, hide.sent) == ("like_comment", 2, 2, 1)
    third = comment(stack, post, spammer, "free money here")
    stack.wait(lambda: moderation_done(third) and CommentModeration.select().where(
        CommentModeration.comment_id == third).count() == 2, what="third moderated")
    with connection():
        runs = CampaignRun.select().where(CampaignRun.comment_id == third)
        details = sorted(s.detail.split(" (")[0] for s in CampaignStep.select().where(CampaignStep.run.in_(runs)))
        # Whichever campaign ran first liked and hid it; the other found it done.
        assert details == ["Already hidden", "Already liked", "hide the comment", "like the comment"]
    assert len(graph_writes(stack, f"{third}/likes")) == 1 and len(graph_writes(stack, third)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the rules, not the database, are tested
def test_instagram_hides_with_its_parameter_and_refuses_likes(stack: Stack) -> None:
    with connection(), pytest.raises(Invalid) as refused:
        campaigns.save(CampaignSpec(name="Like IG", channel_id=page_channel(stack, True), is_active=True,
                                    actions=[ActionSpec(kind="like_comment")]))
    assert refused.value.field == "actions[0].kind" and "Instagram" in refused.value.problem
    moderating_campaign(stack, instagram=True)
    post = new_post(stack, instagram=True)
    spam = comment(stack, post, commenter(stack, instagram=True), "visit rival.shop", instagram=True)
    stack.wait(lambda: moderation_done(spam) and CommentModeration.select().count() == 1, what="hidden")
    assert sandbox_comment(stack, spam)["hidden"]
    assert [h["body"] for h in graph_writes(stack, spam)] == [{"hide": True}]
    with connection():
        staff = add_user("ig@example.com", "long enough", "agent").id
        thread = Message.get(Message.comment_id == spam).conversation_id
        liked = commands.moderate_comment(staff, thread, spam, "like")
    assert liked.status == "refused" and "Instagram" in (liked.reason or "")
    assert not graph_writes(stack, f"{spam}/likes")  # refused before any call


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the rules, not the database, are tested
def test_meta_refusal_is_recorded_not_retried(stack: Stack) -> None:
    """The sandbox refuses hiding the page's own comment (Meta's rule as we assume it): forcing the
    call past our policy shows the error is recorded on the row, once."""
    post = new_post(stack)
    own = stack.control("comment", account_id=stack.page["page_id"], post_id=post, text="Our reply",
                        as_account=True)["comment_id"]
    stack.wait(lambda: Comment.get_or_none(Comment.comment_id == own), what="own comment stored")
    with connection():
        Comment.update(by_account=False).where(Comment.comment_id == own).execute()  # fool our policy only
        row = moderation.request(page_channel(stack), own, "hide", "staff:1").row
        jobs.moderate_comment(row.id)
        row = CommentModeration.get_by_id(row.id)
    assert row.status == "failed" and row.error_code == 100 and "own comment" in (row.reason or "")


@pytest.mark.parametrize(("facts", "code"), [
    (moderation.Facts(action="like", platform="instagram"), "like_not_on_instagram"),
    (moderation.Facts(action="hide", platform="facebook", comment_deleted=True), "comment_deleted"),
    (moderation.Facts(action="hide", platform="instagram", comment_by_account=True), "own_comment"),
    (moderation.Facts(action="like", platform="facebook", comment_by_account=True), "own_comment"),
    (moderation.Facts(action="hide", platform="facebook", comment_hidden=True), "already_hidden"),
    (moderation.Facts(action="hide", platform="facebook", comment_known=False), "comment_unknown"),
    (moderation.Facts(action="like", platform="facebook"), None),
    (moderation.Facts(action="hide", platform="instagram"), None),
])
def test_policy(facts: moderation.Facts, code: str | None) -> None:
    decision = moderation.decide(facts)
    assert (decision.code if isinstance(decision, moderation.Refusal) else None) == code


@pytest.mark.parametrize(("words", "any_link", "text", "hides"), [
    (["rival.shop"], False, "Buy at RIVAL.SHOP now", True),
    (["rival"], False, "rivalry is fun", False),  # whole words only
    (["cafe"], False, "Café crème", True),  # accents folded
    ([], True, "see https://x.example/y", True),
    ([], True, "see www.spam.example", True),
    ([], True, "no links here", False),
    ([], False, "anything", True),  # no filter: every matched comment
])
def test_hide_word_filter(words: list[str], any_link: bool, text: str, hides: bool) -> None:
    assert (campaign_moderation.qualifies("hide_comment", words, any_link, text) is None) == hides
