"""The campaigns page: the list with numbers, and the editor -- trigger with the post picker,
actions with the live preview, validation, dry run before activation, and sending a live
campaign to the eligible comments stored before it went live."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.bot.automation.test_campaigns import comment, private_replies, settled
from tests.dashboard.conftest import open_conversation, texts
from tests.servers import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def new_editor(app: AppTest) -> AppTest:
    app.switch_page("app_pages/campaigns.py").run()
    app.button(key="campaign_new").click().run()
    assert not app.exception, app.exception
    return app


def add_action(app: AppTest, prefix: str, kind: str) -> str:
    """Add an action; returns its field prefix."""
    app.selectbox(key=prefix + "new_kind").select(kind).run()
    app.button(key=prefix + "add").click().run()
    uid = app.session_state["sd_drafts"][prefix + "actions"][-1]["uid"]
    return f"{prefix}{uid}_"


def test_create_dry_run_and_activate(desk, admin_app) -> None:
    from bot.platform.models import Campaign, CampaignAction

    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Spring coupon")
    app.text_input(key=prefix + "kw_any").input("coupon, discount")
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Hi {{ first_name }}! Code: SPRING").run()
    assert "Hi Ana! Code: SPRING" in str([h.proto.body for h in app.get("html")])  # the live preview
    tag = add_action(app, prefix, "add_tag")
    app.text_input(key=tag + "tag").input("spring")
    assert app.button(key=prefix + "activate").disabled  # no dry run yet
    app.button(key=prefix + "dry").click().run()
    assert "Dry run: the last 7 days of comments" in texts(app)
    assert not app.button(key=prefix + "activate").disabled
    app.button(key=prefix + "activate").click().run()
    assert not app.exception
    campaign = Campaign.get(Campaign.name == "Spring coupon")
    assert campaign.is_active and campaign.keywords_any == ["coupon", "discount"]
    kinds = [a.kind for a in CampaignAction.select().where(CampaignAction.campaign == campaign)
             .order_by(CampaignAction.position)]
    assert kinds == ["send_message", "add_tag"]
    assert "Saved and activated" in texts(app)
    assert app.button(key=f"ce{campaign.id}_deactivate")


def test_changing_after_the_dry_run_needs_a_new_one(desk, admin_app) -> None:
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Promo")
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Hello")
    app.button(key=prefix + "dry").click().run()
    assert not app.button(key=prefix + "activate").disabled
    app.text_area(key=message + "text").input("Hello again").run()
    assert app.button(key=prefix + "activate").disabled
    assert "The settings changed since this dry run" in texts(app)


def previews(app: AppTest) -> str:
    return str([h.proto.body for h in app.get("html")])


def shown(app: AppTest) -> str:
    """The page's words as people read them (markdown escapes such as `\\:` removed)."""
    return texts(app).replace("\\", "").replace("\u2060", "")


def errors(app: AppTest) -> list[str]:
    return [e.value.replace("\\", "") for e in app.error]


def test_every_problem_next_to_its_field_and_the_preview_refuses_them(desk, admin_app) -> None:
    from bot.platform.models import Campaign

    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Broken")
    app.button(key=prefix + "save").click().run()
    assert "Not saved: 1 problem, shown next to the fields." in shown(app)
    assert "- Actions: add at least one action" in errors(app)  # under the actions
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Hi {{ frist_name }}")
    app.text_input(key=message + "btn0_title").input("A thirty character long title!")
    app.text_input(key=message + "btn0_value").input("https://shop.example")
    app.text_input(key=message + "att0_url").input("not a url").run()
    page = shown(app)
    assert "Not previewed until this is fixed" in page  # the preview refuses what Save refuses
    assert "button 1: title is longer than 20 characters" in page
    assert "attachment 1: URL must be an http:// or https:// url with a host" in page
    assert "not a url" not in previews(app) and "A thirty character" not in previews(app)
    app.button(key=prefix + "dry").click().run()
    page = shown(app)
    assert "Fix this first: 3 problems, shown next to the fields." in page  # all at once, 1-based
    assert "Action 1: text: unknown shortcode(s) frist_name" in page
    assert "Action 1, attachment 1: URL must be an http:// or https:// url with a host" in page
    assert "Action 1, button 1: title is longer than 20 characters" in page
    beside = [e for e in errors(app) if e.startswith("- Action 1")]
    assert len(beside) == 1 and beside[0].count("\n- ") == 2  # the three, in the action's own box
    assert "actions[0]" not in page
    assert Campaign.select().count() == 0


def test_card_preview_and_dry_run_say_what_goes_now_and_what_waits(desk, admin_app) -> None:
    from bot.platform.models import Campaign, Comment

    account = desk.page["page_id"]
    post = desk.control("posts", account_id=account, message="Boots")["post_id"]
    comment(desk, post, desk.control("customers", account_id=account, name="Ann Early")["user_id"], "price?")
    wait_until(lambda: Comment.select().count() == 1, 20, what="the comment stored")
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Card")
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Hi {{ first_name }}! Code: SPRING").run()
    assert "Private reply: sent now, as one message" in shown(app)
    assert "Waiting" not in shown(app)
    app.text_input(key=message + "att0_url").input("https://cdn.example/shoe.png").run()
    assert "Waiting: 1 more message go" in shown(app)  # the picture cannot ride in the private reply
    app.toggle(key=message + "card_on").set_value(True).run()
    app.text_input(key=message + "card_title").input("Spring sale, {{ first_name }}")
    app.text_input(key=message + "card_image").input("https://cdn.example/card.png")
    app.text_input(key=message + "cbtn0_title").input("Shop")
    app.text_input(key=message + "cbtn0_value").input("https://shop.example").run()
    assert "Spring sale, Ana" in previews(app) and "https://cdn.example/card.png" in previews(app)
    assert "Waiting: 2 more messages go out when the person answers" in shown(app)
    app.button(key=prefix + "dry").click().run()
    page = shown(app)
    assert "Card: Spring sale, Ann (image https://cdn.example/card.png) [buttons: Shop]" in page
    assert "Waiting until the person answers" in page
    assert "Hi Ann! Code: SPRING" in page and "Image: https://cdn.example/shoe.png" in page
    app.button(key=prefix + "save").click().run()
    assert not app.exception, app.exception
    from bot.automation import campaigns
    [action] = campaigns.spec_of(Campaign.get(Campaign.name == "Card")).actions
    assert action.message.card.title == "Spring sale, {{ first_name }}"


def test_post_picker_lists_the_page_posts(desk, admin_app) -> None:
    from bot.platform.models import Campaign

    account = desk.page["page_id"]
    wanted = desk.control("posts", account_id=account, message="Red sneakers are back",
                          picture_url="https://cdn.example/red.jpg")["post_id"]
    desk.control("posts", account_id=account, message="Opening hours")
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Sneakers only")
    app.radio(key=prefix + "watch").set_value("chosen").run()
    page = texts(app)
    assert "Red sneakers are back" in page and "Opening hours" in page
    assert ["https://cdn.example/red.jpg"] in [image.value for image in app.get("image")]
    app.checkbox(key=f"{prefix}post_{wanted}").check().run()
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Hi")
    app.button(key=prefix + "save").click().run()
    campaign = Campaign.get(Campaign.name == "Sneakers only")
    assert not campaign.all_posts and campaign.post_ids == [wanted] and not campaign.is_active


def test_list_shows_numbers_and_edits_keep_the_actions(desk, admin_app) -> None:
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec
    from bot.core.compose import Button, MessageContent
    from bot.platform import registry as channels
    from bot.platform.models import Campaign

    channel = channels.channel_for("facebook", desk.page["page_id"])
    saved = campaigns.save(CampaignSpec(name="Existing", channel_id=channel.id, actions=[
        ActionSpec(kind="send_message", message=MessageContent(text="Hi", buttons=(Button(title="Shop", url="https://s.example"),))),
        ActionSpec(kind="reply_comment", text="Check your inbox", variations=["Sent you a DM"]),
        ActionSpec(kind="wait", seconds=7200)]))
    app = admin_app.switch_page("app_pages/campaigns.py").run()
    assert {m.label for m in app.metric} >= {"Comments", "Matched", "Sent", "Clicked"}
    app.button(key=f"campaign_edit_{saved.id}").click().run()
    prefix = f"ce{saved.id}_"
    assert app.text_input(key=prefix + "a0_btn0_title").value == "Shop"
    assert app.text_area(key=prefix + "a1_variations").value == "Sent you a DM"
    assert app.number_input(key=prefix + "a2_amount").value == 2
    assert app.selectbox(key=prefix + "a2_unit").value == "hours"
    assert prefix + "past" not in [b.key for b in app.button]  # only a live campaign goes to past comments
    app.button(key=prefix + "a2_up").click().run()  # the wait before the public reply
    app.button(key=prefix + "save").click().run()
    spec = campaigns.spec_of(Campaign.get_by_id(saved.id))
    assert [a.kind for a in spec.actions] == ["send_message", "wait", "reply_comment"]
    assert spec.actions[0].message.buttons[0].url == "https://s.example" and spec.actions[1].seconds == 7200


def test_post_picker_pages_through_older_posts(desk, admin_app) -> None:
    account = desk.page["page_id"]
    oldest = desk.control("posts", account_id=account, message="The very first post")["post_id"]
    for n in range(30):
        desk.control("posts", account_id=account, message=f"Post number {n}")
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.radio(key=prefix + "watch").set_value("chosen").run()
    assert "The very first post" not in texts(app)  # the Graph API answers 25 posts a page
    app.button(key=prefix + "more_posts").click().run()
    assert not app.exception
    assert "The very first post" in texts(app)
    assert app.checkbox(key=f"{prefix}post_{oldest}") is not None


def test_send_a_live_campaign_to_eligible_past_comments(desk, admin_app) -> None:
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
    from bot.core.compose import MessageContent
    from bot.platform import registry as channels
    from bot.platform.models import CampaignRun, Message

    account = desk.page["page_id"]
    post = desk.control("posts", account_id=account, message="Boots on sale")["post_id"]
    people = {name: desk.control("customers", account_id=account, name=name)["user_id"]
              for name in ("Ann Early", "Ben Early", "Cy Other")}
    asked = [comment(desk, post, people["Ann Early"], "price please?"),
             comment(desk, post, people["Ben Early"], "What's the price")]
    comment(desk, post, people["Cy Other"], "Nice boots")
    settled(desk)  # stored and processed while no campaign existed
    saved = campaigns.save(CampaignSpec(
        name="Price list", channel_id=channels.channel_for("facebook", account).id, is_active=True,
        trigger=TriggerSpec(keywords_any=["price"]),
        actions=[ActionSpec(kind="send_message", message=MessageContent(text="Prices are in the shop"))]))
    app = admin_app.switch_page("app_pages/campaigns.py").run()
    app.button(key=f"campaign_edit_{saved.id}").click().run()
    prefix = f"ce{saved.id}_"

    app.text_input(key=prefix + "name").input("Price list, edited").run()
    assert app.button(key=prefix + "past").disabled  # what is sent is the saved campaign: save first
    app.text_input(key=prefix + "name").input("Price list").run()
    app.button(key=prefix + "past").click().run()
    assert "2 stored comments from the last 7 days match this campaign" in texts(app)
    assert CampaignRun.select().count() == 0  # nothing happens before the confirmation
    app.button(key=prefix + "past_yes").click().run()
    assert not app.exception, app.exception
    assert "Sent to 2 past comments: 2 messages queued." in texts(app)

    runs = CampaignRun.select().where(CampaignRun.campaign == saved.id)
    assert sorted(r.comment_id for r in runs) == sorted(asked) and all(r.matched for r in runs)
    replies = wait_until(lambda: len(private_replies(desk)) == 2 and private_replies(desk), 20,
                         what="the private replies")
    assert all("Prices are in the shop" in str(r["body"]) for r in replies)
    sent = Message.select().where(Message.private_reply_to.in_(asked))
    assert sorted(m.private_reply_to for m in sent) == sorted(asked)

    ann = Message.get(Message.comment_id == asked[0]).conversation_id
    ledger = texts(open_conversation(admin_app, ann))
    assert "**Price list**: Matched: the campaign's actions ran. (sent to a past comment)" in ledger

    app.switch_page("app_pages/campaigns.py").run()
    app.button(key=prefix + "past").click().run()  # each comment gets it once
    assert "No stored comment is waiting for this campaign" in texts(app)
    assert prefix + "past_yes" not in [b.key for b in app.button]


def test_story_mention_campaign_on_an_instagram_channel(desk, admin_app) -> None:
    """Issue 22: an Instagram channel offers the story triggers; the post fields give way to the
    word filters, and the saved campaign has the trigger kind."""
    from bot.platform import registry as channels
    from bot.platform.models import Campaign

    instagram = channels.channel_for("instagram", desk.page["instagram_id"])
    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Mentions")
    assert app.selectbox(key=prefix + "trigger_kind").options == [  # the page: no story triggers
        "someone comments on a post", "someone arrives from a ref link, Get Started with a ref, or an ad"]
    app.selectbox(key=prefix + "channel").select(instagram.id).run()
    app.selectbox(key=prefix + "trigger_kind").select("story_mention").run()
    assert not app.get("radio")  # no post choice for a story trigger
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Thanks for the mention!").run()
    app.button(key=prefix + "dry").click().run()
    assert not app.exception, app.exception
    app.button(key=prefix + "activate").click().run()
    assert not app.exception, app.exception
    assert Campaign.get(Campaign.name == "Mentions").trigger_kind == "story_mention"


def test_referral_campaign_on_a_page(desk, admin_app) -> None:
    """Issue 22: the referral trigger on a Facebook page: the post fields give way to the refs and
    ad ids, a bad ad id is refused next to its field, and the saved campaign keeps the filters."""
    from bot.platform.models import Campaign

    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("From the summer link")
    app.selectbox(key=prefix + "trigger_kind").select("referral").run()
    assert not app.get("radio")  # no post choice for a referral trigger
    app.text_input(key=prefix + "refs").input("summer, spring")
    app.text_input(key=prefix + "ad_ids").input("6001, my ad").run()
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Welcome!").run()
    app.button(key=prefix + "dry").click().run()
    assert "an ad id is digits" in texts(app)
    app.text_input(key=prefix + "ad_ids").input("6001").run()
    app.button(key=prefix + "dry").click().run()
    assert not app.exception, app.exception
    app.button(key=prefix + "activate").click().run()
    assert not app.exception, app.exception
    saved = Campaign.get(Campaign.name == "From the summer link")
    assert (saved.trigger_kind, saved.refs, saved.ad_ids, saved.is_active) == (
        "referral", ["summer", "spring"], ["6001"], True)
