"""A channel's Messenger profile (issue 22): Meta's limits checked before sending, pushed through
the sandbox's Messenger Profile API over real HTTP only when it changed, read back from Meta, and
its payloads (Get Started, menu, ice breakers) starting bot flows."""

from __future__ import annotations

import msgspec
import pytest

from bot import commands
from bot.automation.flows import store
from bot.automation.flows.spec import EntrySpec, FlowSpec
from bot.channels import profile
from bot.core.errors import GraphError, Invalid
from bot.core.profile import Greeting, IceBreaker, IceBreakers, Menu, MenuItem, ProfileSpec, validate
from bot.platform import runtime
from bot.platform.db import connection
from bot.platform.models import MessengerProfile
from bot.platform.registry import page_token
from tests.bot.automation.test_flows import bot_sent, channel_id, person, say, texts
from tests.servers import Stack

MENU = Menu(items=[MenuItem(title="Shop", flow="shop"), MenuItem(title="Our site", url="https://shop.example")])
FULL = ProfileSpec(
    get_started_flow="shop",
    greeting=[Greeting(text="Hi {{user_first_name}}, welcome!"), Greeting(locale="fr_FR", text="Bonjour !")],
    persistent_menu=[MENU],
    ice_breakers=[IceBreakers(questions=[IceBreaker(question="Do you ship?", payload="SHIPPING")])],
)


def profile_calls(stack: Stack) -> list[tuple[str, dict]]:
    return [(a["method"], a["body"]) for a in stack.sandbox_get("attempts")["attempts"]
            if a["path"].endswith("/messenger_profile")]


def pushed(channel: int) -> bool:
    return MessengerProfile.get(MessengerProfile.channel == channel).status in ("pushed", "failed")


def test_profile_pushed_when_changed_read_back_and_get_started_starts_the_flow(stack: Stack) -> None:
    page = channel_id(stack)
    with connection():
        store.save(FlowSpec(name="shop", start="hi", states={"hi": say("Welcome to the shop!")},
                            entry=EntrySpec(payloads=["START_SHOP"])))
        saved = commands.save_messenger_profile(page, FULL)
    assert saved.spec.get_started_payload == "START_SHOP" and saved.starts["START_SHOP"] == "shop"
    assert saved.starts["SHIPPING"] is None  # no flow answers it: shown, not refused
    assert saved.warnings  # ice breakers hide the Get Started button (Meta's precedence)
    stack.wait(lambda: pushed(page), what="profile pushed")
    with connection():
        assert profile.view(page).status == "pushed"
        on_meta = profile.read_from_meta(page)
    assert on_meta.get_started_payload == "START_SHOP"
    assert [(g.locale, g.text) for g in on_meta.greeting] == [("default", "Hi {{user_first_name}}, welcome!"),
                                                             ("fr_FR", "Bonjour !")]
    assert [(i.title, i.payload, i.url) for i in on_meta.persistent_menu[0].items] == [
        ("Shop", "START_SHOP", None), ("Our site", None, "https://shop.example")]
    assert [method for method, _ in profile_calls(stack)] == ["POST"]
    with connection():  # the same profile again: Meta's rate-limited API is not called
        commands.save_messenger_profile(page, FULL)
        assert profile.view(page).status == "pushed"
        smaller = msgspec.structs.replace(FULL, persistent_menu=[], ice_breakers=[])
        commands.save_messenger_profile(page, smaller)
    stack.wait(lambda: len(profile_calls(stack)) == 3 and pushed(page), what="second push")
    assert profile_calls(stack)[1] == ("DELETE", {"fields": ["persistent_menu", "ice_breakers"]})
    user = person(stack)  # a person taps Get Started as Meta holds it: the flow answers
    stack.control("postback", account_id=stack.page["page_id"], user_id=user, payload=on_meta.get_started_payload,
                  title="Get Started")
    stack.wait(lambda: bot_sent(stack, user), what="flow's first message")
    assert texts(bot_sent(stack, user)) == ["Welcome to the shop!"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the rules, not the database, are tested
def test_instagram_profile_and_metas_own_validation(stack: Stack) -> None:
    ig, page = channel_id(stack, instagram=True), channel_id(stack)
    breakers = [IceBreakers(questions=[IceBreaker(question="Sizes?", payload="SIZES")])]
    with connection():
        commands.save_messenger_profile(ig, ProfileSpec(ice_breakers=breakers, persistent_menu=[
            Menu(items=[MenuItem(title="Sizes", payload="SIZES")])]))
    stack.wait(lambda: pushed(ig), what="instagram profile pushed")
    [(method, body)] = profile_calls(stack)
    assert method == "POST" and "get_started" not in body
    with connection():
        assert profile.read_from_meta(ig).ice_breakers[0].questions[0].payload == "SIZES"
        assert profile.read_from_meta(page) == ProfileSpec()  # Messenger's profile is its own
        # Past our validation, the sandbox applies Meta's limits itself (error 100).
        five = [IceBreakers(questions=[IceBreaker(question=f"Q{i}?", payload=f"P{i}") for i in range(5)])]
        token = page_token(profile._channel(page))
        with pytest.raises(GraphError) as refused:
            runtime.graph().set_messenger_profile(stack.page["page_id"], "facebook", token,
                                                  ProfileSpec(ice_breakers=five))
        assert refused.value.code == 100 and not refused.value.retryable
        with pytest.raises(GraphError, match="Get Started"):
            runtime.graph().set_messenger_profile(stack.page["page_id"], "facebook", token,
                                                  ProfileSpec(persistent_menu=[MENU_PAYLOADS]))


MENU_PAYLOADS = Menu(items=[MenuItem(title="Shop", payload="SHOP")])


@pytest.mark.parametrize(("spec", "platform", "field", "words"), [
    (ProfileSpec(greeting=[Greeting(text="x" * 161)]), "facebook", "greeting[0].text", "160"),
    (ProfileSpec(greeting=[Greeting(locale="fr_FR", text="Salut")]), "facebook", "greeting", "default"),
    (ProfileSpec(greeting=[Greeting(locale="french", text="Salut")]), "facebook", "greeting[0].locale", "en_US"),
    (ProfileSpec(persistent_menu=[MENU_PAYLOADS]), "facebook", "persistent_menu", "Get Started"),
    (ProfileSpec(get_started_payload="GO", persistent_menu=[Menu(items=[MENU_PAYLOADS.items[0]] * 21)]),
     "facebook", "persistent_menu[0].items", "20"),
    (ProfileSpec(get_started_payload="GO", persistent_menu=[Menu(items=[MenuItem(title="x" * 31, payload="P")])]),
     "facebook", "persistent_menu[0].items[0].title", "30"),
    (ProfileSpec(get_started_payload="GO", persistent_menu=[Menu(items=[MenuItem(title="Both", payload="P",
                                                                                 url="https://a.example")])]),
     "facebook", "persistent_menu[0].items[0]", "exactly one"),
    (ProfileSpec(ice_breakers=[IceBreakers(questions=[IceBreaker(question="Q?", payload="P")] * 5)]),
     "facebook", "ice_breakers[0].questions", "4"),
    (ProfileSpec(greeting=[Greeting(text="Hi")]), "instagram", "greeting", "Instagram"),
    (ProfileSpec(persistent_menu=[Menu(composer_input_disabled=True, items=MENU_PAYLOADS.items)]), "instagram",
     "persistent_menu[0].composer_input_disabled", "Instagram"),
    (ProfileSpec(get_started_payload="x" * 1001), "facebook", "get_started_payload", "1000"),
])
def test_limits_refused_in_peoples_words(spec: ProfileSpec, platform: str, field: str, words: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate(spec, platform)
    assert refused.value.field == field and words in refused.value.problem


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the rules, not the database, are tested
def test_profile_naming_an_unknown_flow_is_refused(db: object) -> None:
    from bot.platform.models import Channel

    with connection():
        channel = Channel.create(platform="facebook", account_id="1", page_id="1", created_at=1)
        with pytest.raises(Invalid) as refused:
            profile.save(channel.id, ProfileSpec(get_started_flow="nope"))
    assert refused.value.field == "get_started_flow"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the host, not the database, is tested
def test_instagram_login_profile_goes_through_the_instagram_host(stack: Stack) -> None:
    from bot.channels import connect

    account = stack.control("instagram-accounts", username="solo.shop", name="Solo Shop")
    breakers = [IceBreakers(questions=[IceBreaker(question="Sizes?", payload="SIZES")])]
    with connection():
        [channel] = connect.connect_instagram_login(account["token"], instagram_id=account["instagram_id"]).channels
        commands.save_messenger_profile(channel.id, ProfileSpec(ice_breakers=breakers))
    stack.wait(lambda: pushed(channel.id), what="instagram login profile pushed")
    with connection():
        assert profile.view(channel.id).status == "pushed"
        assert profile.read_from_meta(channel.id).ice_breakers[0].questions[0].question == "Sizes?"
    [attempt] = [a for a in stack.sandbox_get("attempts")["attempts"] if a["path"].endswith("/messenger_profile")]
    assert (attempt["host"], attempt["method"], attempt["path"].split("/", 2)[2]) == (
        "instagram", "POST", "me/messenger_profile")
    assert attempt["body"]["platform"] == "instagram" and attempt["account_id"] == account["instagram_id"]
