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


def test_invalid_campaign_is_not_saved_and_names_the_field(desk, admin_app) -> None:
    from bot.platform.models import Campaign

    app = new_editor(admin_app)
    prefix = "cenew_"
    app.text_input(key=prefix + "name").input("Broken")
    app.button(key=prefix + "save").click().run()
    assert "Not saved: actions: add at least one action" in texts(app)
    message = add_action(app, prefix, "send_message")
    app.text_area(key=message + "text").input("Hi {{ frist_name }}").run()
    assert "unknown shortcode(s) frist_name" in texts(app)  # shown at once, in the preview
    app.button(key=prefix + "dry").click().run()
    assert "Fix this first: actions[0].message.text: unknown shortcode(s) frist_name" in texts(app)
    assert Campaign.select().count() == 0


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
    assert app.selectbox(key=prefix + "trigger_kind").options == ["someone comments on a post"]  # the page
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
