"""Comment campaigns end to end: the sandbox plays commenters, signed webhooks reach the API, the
worker matches campaigns and sends through the sandbox; the ledger and funnel are checked
against what the sandbox recorded."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest

from bot import commands, jobs, queries
from bot.automation import campaign_stats, campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.automation.router import FollowUps
from bot.core.compose import Button, Card, MediaAttachment, MessageContent
from bot.core.errors import Invalid
from bot.inbound import pauses
from bot.platform.db import connection
from bot.platform.models import CampaignRun, Channel, Comment, InboundEvent, Message
from tests.servers import Stack


def page_channel(stack: Stack, instagram: bool = False) -> int:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    with connection():
        return Channel.get(Channel.account_id == account).id


def coupon_message() -> MessageContent:
    return MessageContent(
        text="Hi {{ first_name }}! Your code: SHOES10 for {{ post_url }}",
        buttons=(Button(title="Shop now", url="https://shop.example/sale"), Button(title="Talk to us", payload="TALK")),
        attachments=(MediaAttachment(type="image", url="https://cdn.example/coupon.png"),),
    )


def make_campaign(stack: Stack, post_id: str | None = None, *, instagram: bool = False, **trigger: object) -> int:
    spec = CampaignSpec(
        name="Summer coupon", channel_id=page_channel(stack, instagram), is_active=True,
        trigger=TriggerSpec(all_posts=post_id is None, post_ids=[post_id] if post_id else [], **trigger),
        actions=[ActionSpec(kind="send_message", message=coupon_message()),
                 ActionSpec(kind="reply_comment", text="Check your inbox, {{ first_name }}!",
                            variations=["Sent you a DM, {{ first_name }}!"]),
                 ActionSpec(kind="add_tag", tag="coupon-sent")])
    with connection():
        return campaigns.save(spec).id


def new_post(stack: Stack, instagram: bool = False) -> str:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    return stack.control("posts", account_id=account, message="Summer sale!")["post_id"]


def commenter(stack: Stack, name: str = "Cole Commenter", instagram: bool = False) -> str:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    return stack.control("customers", account_id=account, name=name, username="cole.c")["user_id"]


def comment(stack: Stack, post: str, user: str, text: str = "I want it", instagram: bool = False,
            **extra: object) -> str:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    return stack.control("comment", account_id=account, post_id=post, user_id=user, text=text, **extra)["comment_id"]


def settled(stack: Stack) -> None:
    """Every webhook the sandbox delivered is processed, every event applied, and no outgoing
    message is still on its way (checked twice: sends make new webhooks, e.g. echoes)."""
    from bot.platform.models import Delivery

    def quiet() -> bool:
        delivered = sum(1 for d in stack.sandbox_get("deliveries")["deliveries"] if d.get("status") == 200)
        return (Delivery.select().where(Delivery.status == "processed").count() >= delivered
                and not InboundEvent.select().where(InboundEvent.status == "pending").exists()
                and not Message.select().where(Message.status.in_(["pending", "sending", "queued"])).exists())

    for _ in range(2):
        stack.wait(quiet, timeout=30, what="pipeline settled")


def private_replies(stack: Stack) -> list[dict]:
    return [s for s in stack.sandbox_get("sent")["sent"] if s["private_reply"]]


def public_replies(stack: Stack) -> list[dict]:
    return [s for s in stack.sandbox_get("sent")["sent"] if s.get("reply_comment_id")]


@pytest.mark.parametrize("instagram", [False, True], ids=["facebook", "instagram"])
def test_comment_gets_one_private_reply_then_held_media_after_answer(stack: Stack, instagram: bool) -> None:
    post = new_post(stack, instagram)
    campaign_id = make_campaign(stack, post, instagram=instagram)
    user = commenter(stack, instagram=instagram)
    comment_id = comment(stack, post, user, instagram=instagram)
    stack.wait(lambda: len(private_replies(stack)) == 1 and len(public_replies(stack)) == 1, what="replies")
    settled(stack)
    [reply] = private_replies(stack)
    assert reply["body"]["recipient"] == {"comment_id": comment_id}
    template = reply["body"]["message"]["attachment"]["payload"]
    with connection():  # Instagram's comment webhook carries no permalink (meta-platform.md §4)
        permalink = Comment.get(Comment.comment_id == comment_id).post_permalink or ""
    assert permalink or instagram
    greeting = "cole.c" if instagram else "Cole"  # Instagram tells only the commenter's username
    assert template["text"] == f"Hi {greeting}! Your code: SHOES10 for {permalink}"
    link, payload = template["buttons"]
    assert link["type"] == "web_url" and link["url"].startswith(f"{stack.settings.public_url}/r/")
    assert payload["type"] == "postback" and payload["payload"].endswith(":TALK")
    assert public_replies(stack)[0]["body"]["message"] in (f"Check your inbox, {greeting}!",
                                                           f"Sent you a DM, {greeting}!")
    with connection():
        held = Message.get(Message.status == "held")
        assert held.attachments == [{"type": "image", "url": "https://cdn.example/coupon.png"}]
        assert "Facebook Comments" in queries.contact(Message.get(Message.status == "held").conversation.contact_id
                                                      ).tags or instagram
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    stack.control("dm", account_id=account, user_id=user, text="Thanks! What about shipping?")
    stack.wait(lambda: Message.get_by_id(held.id).status == "sent", what="held image sent")
    media = [s for s in stack.sandbox_get("sent")["sent"] if not s["private_reply"] and s.get("recipient_id") == user
             and "attachment" in s["body"].get("message", {})]
    assert [m["body"]["message"]["attachment"]["type"] for m in media] == ["image"]
    with connection():
        funnel = campaign_stats.funnel(campaign_id)
    assert (funnel.received, funnel.matched, funnel.sent) == (1, 1, 1)
    assert funnel.replied == 1


def test_held_media_is_refused_when_a_person_has_taken_the_dm_thread(stack: Stack) -> None:
    post = new_post(stack)
    make_campaign(stack, post)
    user = commenter(stack)
    comment(stack, post, user)
    stack.wait(lambda: len(private_replies(stack)) == 1, what="private reply")
    settled(stack)
    with connection():
        held = Message.get(Message.status == "held")
        commands.pause_bot(held.conversation_id, minutes=60)  # staff took the person's DM thread
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="Thanks, got it")
    stack.wait(lambda: Message.get_by_id(held.id).status == "refused", what="held image refused")
    settled(stack)
    with connection():
        assert Message.get_by_id(held.id).status_reason == pauses.PAUSED_REASON
    media = [s for s in stack.sandbox_get("sent")["sent"] if "attachment" in s["body"].get("message", {})
             and not s["private_reply"]]
    assert media == []  # the campaign's image did not land in a conversation a person is having


def test_replies_keywords_own_and_edited_comments(stack: Stack) -> None:
    post = new_post(stack)
    make_campaign(stack, post, keywords_any=["coupon", "café"], keywords_none=["refund"])
    user = commenter(stack)
    top = comment(stack, post, user, "Coupon please")  # matches
    comment(stack, post, user, "Need a refund, coupon too")  # excluded word
    comment(stack, post, user, "nice shoes")  # no keyword
    comment(stack, post, user, "CAFE coupon?", parent_id=top)  # a reply: flag off
    stack.control("comment", account_id=stack.page["page_id"], post_id=post, as_account=True, text="coupon inside")
    stack.control("comment/edit", comment_id=top, text="Coupon please!! edited")
    settled(stack)
    with connection():
        reasons = sorted(r.reason for r in CampaignRun.select())
    assert reasons == ["keyword_excluded", "keyword_missing", "matched", "own_comment", "reply_excluded"]
    assert len(private_replies(stack)) == 1


def test_replies_to_comments_trigger_with_flag_and_accents_fold(stack: Stack) -> None:
    post = new_post(stack)
    make_campaign(stack, post, include_replies=True, keywords_any=["cafe"])
    user = commenter(stack)
    top = comment(stack, post, user, "hello")
    reply = comment(stack, post, user, "Un CAFÉ, s'il vous plaît", parent_id=top)
    stack.wait(lambda: len(private_replies(stack)) == 1, what="private reply")
    assert private_replies(stack)[0]["body"]["recipient"] == {"comment_id": reply}


def test_unwatched_post_and_inactive_campaign(stack: Stack) -> None:
    watched, other = new_post(stack), new_post(stack)
    campaign_id = make_campaign(stack, watched)
    user = commenter(stack)
    comment(stack, other, user, "hi")
    settled(stack)
    with connection():
        campaigns.set_active(campaign_id, False)
    comment(stack, watched, user, "hi again")
    settled(stack)
    with connection():
        assert sorted(r.reason for r in CampaignRun.select()) == ["inactive", "post_not_watched"]
    assert private_replies(stack) == []


def test_redelivered_webhook_sends_nothing_twice(stack: Stack) -> None:
    post = new_post(stack)
    make_campaign(stack, post)
    comment(stack, post, commenter(stack))
    stack.wait(lambda: len(private_replies(stack)) == 1, what="private reply")
    deliveries = stack.sandbox_get("deliveries")["deliveries"]
    index = next(i for i, d in enumerate(deliveries) if '"comment"' in d["body"] and '"add"' in d["body"])
    for _ in range(3):
        stack.control("deliveries/redeliver", index=index)
    stack.wait(lambda: InboundEvent.select().count() >= 1)
    settled(stack)
    assert len(private_replies(stack)) == 1 and len(public_replies(stack)) == 1


def test_link_click_is_counted_and_forwarded(stack: Stack) -> None:
    post = new_post(stack)
    campaign_id = make_campaign(stack, post)
    comment(stack, post, commenter(stack))
    stack.wait(lambda: len(private_replies(stack)) == 1, what="private reply")
    link = private_replies(stack)[0]["body"]["message"]["attachment"]["payload"]["buttons"][0]["url"]
    local = f"{stack.api.url}{urlparse(link).path}"
    response = stack.http.get(local, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "https://shop.example/sale"
    assert stack.http.get(f"{stack.api.url}/r/nope", follow_redirects=False).status_code == 404
    with connection():
        assert campaign_stats.funnel(campaign_id).clicked == 1


TALK_FLOW = """\
name: talk
start: hello
entry:
  payloads: [TALK]
states:
  hello:
    message: {text: "A person from our team will answer shortly."}
"""


def test_card_private_reply_then_held_parts_go_before_the_flow_its_tap_starts(stack: Stack) -> None:
    """A card is the one private reply (the sandbox validates the generic template over HTTP); the
    text and image wait; the person taps the card's button: the held parts go first, and the bot
    flow the tap starts speaks after them (its message waits, parked, until they are done)."""
    from bot.automation.flows import store as flow_store
    from bot.inbound import ingest

    with connection():
        flow_store.import_text(TALK_FLOW, "yaml")
    post = new_post(stack)
    spec = CampaignSpec(name="Card", channel_id=page_channel(stack), is_active=True, actions=[ActionSpec(
        kind="send_message", message=MessageContent(
            card=Card(title="Summer sale, {{ first_name }}", subtitle="10% off", image_url="https://cdn.example/c.png",
                      buttons=(Button(title="Shop now", url="https://shop.example/sale"),
                               Button(title="Talk to us", payload="TALK"))),
            text="Your code: SHOES10", attachments=(MediaAttachment(type="image", url="https://cdn.example/s.png"),)))])
    with connection():
        campaign_id = campaigns.save(spec).id
    user = commenter(stack)
    comment(stack, post, user)
    stack.wait(lambda: len(private_replies(stack)) == 1, what="private reply")
    settled(stack)
    payload = private_replies(stack)[0]["body"]["message"]["attachment"]["payload"]
    assert payload["template_type"] == "generic"
    [card] = payload["elements"]
    assert (card["title"], card["subtitle"], card["image_url"]) == ("Summer sale, Cole", "10% off",
                                                                    "https://cdn.example/c.png")
    tap = card["buttons"][1]["payload"]
    assert tap.endswith(":TALK")
    with connection():
        held = [m.id for m in Message.select().where(Message.status == "held").order_by(Message.id)]
    assert len(held) == 2  # the text, then the image
    stack.stop_workers()  # apply the tap here, to see what it makes sendable at once
    stack.control("postback", account_id=stack.page["page_id"], user_id=user, payload=tap, title="Talk to us")
    stack.wait(lambda: ingest.unprocessed_deliveries(older_than_ms=0, limit=1) or InboundEvent.select().where(
        InboundEvent.status == "pending").exists(), what="the tap stored")  # (PostgreSQL: expanded at commit)
    with connection():
        ingest.expand_next()
        follow = FollowUps()
        for row in InboundEvent.select().where(InboundEvent.status == "pending").order_by(InboundEvent.id):
            follow.extend(jobs.apply_event(row))
        bot_said = Message.get(Message.author == "bot")
        assert follow.send == [held[0]] and bot_said.status == "queued"  # the bot waits behind the held parts
    stack.restart_workers()
    jobs.dispatch(follow)
    stack.wait(lambda: Message.get_by_id(bot_said.id).status == "sent", what="the flow's first message")
    order = [s["message_id"] for s in stack.sandbox_get("sent")["sent"] if not s["private_reply"]]
    with connection():
        mids = [Message.get_by_id(i).mid for i in [*held, bot_said.id]]
        funnel = campaign_stats.funnel(campaign_id)
    assert [order.index(mid) for mid in mids] == sorted(order.index(mid) for mid in mids)
    assert bot_said.text == "A person from our team will answer shortly."
    assert funnel.clicked == 1 and funnel.actions[0].clicked == 1


def test_wait_survives_a_worker_restart(stack: Stack) -> None:
    from bot.platform.models import ScheduledJob

    post = new_post(stack)
    spec = CampaignSpec(name="Later", channel_id=page_channel(stack), is_active=True,
                        trigger=TriggerSpec(all_posts=False, post_ids=[post]),
                        actions=[ActionSpec(kind="reply_comment", text="First!"), ActionSpec(kind="wait", seconds=2),
                                 ActionSpec(kind="reply_comment", text="Later!")])
    with connection():
        campaigns.save(spec)
    comment(stack, post, commenter(stack))
    stack.wait(lambda: len(public_replies(stack)) == 1, what="first reply")
    stack.stop_workers()  # the wait lives in the database, not in a sleeping worker
    with connection():
        assert ScheduledJob.select().where(ScheduledJob.status == "scheduled").count() == 1
    stack.restart_workers()
    stack.wait(lambda: len(public_replies(stack)) == 2, timeout=30, what="reply after the wait")
    assert [r["body"]["message"] for r in public_replies(stack)] == ["First!", "Later!"]


def test_funnel_matches_sandbox_and_failures_by_reason(stack: Stack) -> None:
    post = new_post(stack)
    campaign_id = make_campaign(stack, post)
    users = [commenter(stack, f"Person {i}") for i in range(4)]
    for user in users[:3]:
        comment(stack, post, user, "me!")
    comment(stack, post, users[3], "old one", created_time=int(time.time()) - 8 * 86400)  # too old to reply
    settled(stack)
    stack.control("read", account_id=stack.page["page_id"], user_id=users[0])
    stack.wait(lambda: Message.select().where(Message.status == "read").count() == 1, what="read")
    with connection():
        funnel = campaign_stats.funnel(campaign_id)
    assert funnel.received == 4 and funnel.matched == 4
    assert funnel.sent == len(private_replies(stack)) == 3
    assert funnel.read == 1
    assert funnel.failures == {"The comment is more than 7 days old.": 1}  # public replies have no age limit
    assert sum(d["matched"] for d in funnel.per_day) == 4


def test_dry_run_reports_what_the_live_engine_does(stack: Stack) -> None:
    post, other = new_post(stack), new_post(stack)
    users = [commenter(stack, f"P{i}") for i in range(3)]
    texts = ["coupon please", "no thanks", "COUPON!!"]
    for user, text in zip(users, texts, strict=True):
        comment(stack, post, user, text)
    comment(stack, other, users[0], "coupon")
    settled(stack)
    spec = CampaignSpec(name="Dry", channel_id=page_channel(stack), is_active=False,
                        trigger=TriggerSpec(all_posts=False, post_ids=[post], keywords_any=["coupon"]),
                        actions=[ActionSpec(kind="send_message", message=MessageContent(text="Hi {{ full_name }}"))])
    with connection():
        report = campaigns.dry_run(spec)
        saved = campaigns.save(spec)
        campaigns.set_active(saved.id, True)
    assert (report.comments, report.matched, report.eligible_for_private_reply) == (4, 2, 2)
    assert report.skipped == {"keyword_missing": 1, "post_not_watched": 1}
    assert sorted(s.messages[0] for s in report.samples) == ["Hi P0", "Hi P2"]
    for user, text in zip(users, texts, strict=True):  # the same comments, live this time
        comment(stack, post, user, text)
    comment(stack, other, users[0], "coupon")
    settled(stack)
    with connection():
        live = sorted(r.reason for r in CampaignRun.select().where(CampaignRun.campaign == saved.id))
    assert live.count("matched") == report.matched
    assert live.count("keyword_missing") == report.skipped["keyword_missing"]
    with connection():  # the comments stored before the campaign existed can still be answered
        done = campaigns.send_to_past_comments(saved.id)
        jobs.dispatch(FollowUps(send=done.messages))
    assert done.comments == len(done.messages) == report.eligible_for_private_reply
    stack.wait(lambda: len(private_replies(stack)) == 4, what="replies to past comments")
    with connection():
        assert campaigns.send_to_past_comments(saved.id) == campaigns.PastComments(0, [])  # each comment once


def test_validation_names_the_field(stack: Stack) -> None:
    channel = page_channel(stack)
    cases = [
        (CampaignSpec(name="x", channel_id=channel, trigger=TriggerSpec(all_posts=False),
                      actions=[ActionSpec(kind="reply_comment", text="hi")]), "trigger.post_ids"),
        (CampaignSpec(name="x", channel_id=channel, actions=[ActionSpec(kind="send_message", message=MessageContent(
            text="Hi {{ frist_name }}"))]), "actions[0].message.text"),
        (CampaignSpec(name="x", channel_id=channel, actions=[ActionSpec(kind="send_message", message=MessageContent(
            text="hi", buttons=(Button(title="a", payload="1"),) * 3))]), "actions[0].message.buttons"),
        (CampaignSpec(name="x", channel_id=channel, actions=[ActionSpec(kind="send_message", message=MessageContent(
            text="hi", attachments=(MediaAttachment(type="image", url="https://x/a.png"),) * 4))]),
         "actions[0].message.attachments"),
        (CampaignSpec(name="x", channel_id=channel, actions=[ActionSpec(kind="send_message", message=MessageContent(
            text=""))]), "actions[0].message"),
        (CampaignSpec(name="x", channel_id=channel, actions=[ActionSpec(kind="send_message", message=MessageContent(
            text="hi", buttons=(Button(title="go", url="javascript:alert(1)"),)))]),
         "actions[0].message.buttons[0].url"),
        (CampaignSpec(name="x", channel_id=channel, actions=[ActionSpec(kind="reply_comment", text="ok",
                                                                        variations=[" "])]),
         "actions[0].variations[0]"),
    ]
    for spec, field in cases:
        with connection(), pytest.raises(Invalid) as error:
            campaigns.save(spec)
        assert error.value.field.startswith(field), (field, error.value.field)
