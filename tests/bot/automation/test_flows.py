"""Bot flows: flows as data (validation, YAML/JSON round trip, the machine), and end to end
through signed webhooks and the sandbox: Get Started, postbacks, quick replies, keywords,
any text, fallback, timeouts, flows started from comments (private and public answers), and
many conversations interleaved over 4 workers keeping each conversation's order."""

from __future__ import annotations

import textwrap

import pytest

from bot.automation import campaigns
from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
from bot.automation.flows import runner, spec, store
from bot.automation.flows.runner import Answer
from bot.automation.flows.spec import EntrySpec, FlowSpec, StateSpec, Transition
from bot.core.compose import Button, MessageContent, QuickReply
from bot.core.errors import Invalid
from bot.platform.db import connection
from bot.platform.models import BotState, CampaignStep, Channel, Conversation, Flow, Message
from tests.bot.automation.test_campaigns import comment, commenter, new_post, settled
from tests.servers import Stack

SHOP = textwrap.dedent("""\
    name: shop
    start: welcome
    entry:
      payloads: [GET_STARTED]
      keywords: [menu]
    states:
      welcome:
        message:
          text: "Hi {{ first_name or 'there' }}! What are you looking for?"
          buttons:
            - {title: Shoes, payload: SHOES}
            - {title: Socks, payload: SOCKS}
        transitions:
          - {postback: SHOES, to: size}
          - {postback: SOCKS, to: socks}
          - {keywords: [shoe, shoes], to: size}
          - {timeout_seconds: 1, to: nudge}
      size:
        message:
          text: Which size?
          quick_replies: [{title: "42", payload: S42}, {title: "43", payload: S43}]
        transitions:
          - {quick_reply: S42, to: done}
          - {pattern: "^\\\\d{2}$", to: done}
          - {any_text: true, to: size}
      socks:
        message: {text: Socks are sold out.}
      nudge:
        message: {text: "Still there? Type menu any time."}
      done:
        message: {text: "Great, {{ first_name }}, we keep a pair for you."}
    """)


def flow(name: str = "f", **states: StateSpec) -> FlowSpec:
    return FlowSpec(name=name, start=next(iter(states)), states=states)


def say(text: str, *transitions: Transition) -> StateSpec:
    return StateSpec(message=MessageContent(text=text), transitions=list(transitions))


# --- flows as data ----------------------------------------------------------------------------------


def test_yaml_and_json_round_trip() -> None:
    shop = spec.from_text(SHOP)
    spec.validate(shop)
    assert spec.from_text(spec.to_text(shop, "json"), "json") == shop
    assert spec.from_text(spec.to_text(shop)) == shop
    assert shop.states["size"].transitions[1].pattern == r"^\d{2}$"


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        (flow(a=say("a", Transition(any_text=True, to="a")), b=say("b")), "states.b", "unreachable"),
        (flow(a=say("a", Transition(any_text=True, to="nowhere"))), "states.a.transitions[0].to", "no state"),
        (flow(a=say("a", Transition(any_text=True))), "states.a.transitions[0]", "exactly one of to"),
        (
            flow(a=say("a", Transition(any_text=True, keywords=["x"], end=True))),
            "states.a.transitions[0]",
            "exactly one of postback",
        ),
        (flow(a=say("a", Transition(pattern="(", end=True))), "states.a.transitions[0].pattern", "regular"),
        (
            flow(a=say("a", Transition(postback="X", end=True), Transition(postback="X", end=True))),
            "states.a.transitions[1]",
            "already handled",
        ),
        (flow(a=StateSpec(message=MessageContent(text="x" * 1001))), "states.a.message.text", "1000 bytes"),
        (
            flow(
                a=StateSpec(
                    message=MessageContent(
                        text="hi", buttons=tuple(Button(title=f"b{i}", payload=f"P{i}") for i in range(3))
                    )
                )
            ),
            "states.a.message.buttons",
            "at most 2",
        ),
        (
            flow(a=StateSpec(message=MessageContent(text="{{ frist_name }}"))),
            "states.a.message.text",
            "shortcode",
        ),
        (
            flow(
                a=StateSpec(
                    message=MessageContent(text="x", buttons=(Button(title="b", payload="B"),)),
                    reply="public",
                )
            ),
            "states.a.reply",
            "text only",
        ),
        (FlowSpec(name="Bad Name", start="a", states={"a": say("a")}), "name", "lowercase"),
        (FlowSpec(name="f", start="zz", states={"a": say("a")}), "start", "no state"),
    ],
)
def test_validation_names_the_field(bad: FlowSpec, field: str, words: str) -> None:
    with pytest.raises(Invalid) as caught:
        spec.validate(bad)
    assert caught.value.field == field and words in caught.value.problem


def test_document_errors_point_at_the_field() -> None:
    with pytest.raises(Invalid) as caught:
        spec.from_text("name: f\nstart: a\nstates: {a: {transitions: [{to: a, bogus: 1}]}}")
    assert caught.value.field.startswith("states.a.transitions[0]")
    with pytest.raises(Invalid) as caught:
        spec.from_text("name: [unclosed")
    assert caught.value.field == "document"


def test_runner_walks_the_machine() -> None:
    shop = spec.from_text(SHOP)
    first = runner.start(shop)
    assert (first.state, first.timeout_seconds, first.says[0].content.buttons[0].payload) == (
        "welcome",
        1,
        "SHOES",
    )
    assert runner.advance(shop, "welcome", Answer("postback", payload="SOCKS")).outcome == "ended"
    assert runner.advance(shop, "welcome", Answer("text", text="Nice SHOES!")).state == "size"
    assert runner.advance(shop, "welcome", Answer("text", text="hello")) is None
    assert runner.advance(shop, "welcome", Answer("timeout")).says[0].state == "nudge"
    assert (
        runner.advance(shop, "size", Answer("quick_reply", payload="S43", text="43")).says[0].state == "done"
    )
    assert runner.advance(shop, "size", Answer("text", text="huh")) is None  # catch-all comes later
    assert runner.advance(shop, "size", Answer("text", text="huh"), catch_all=True).state == "size"
    assert "digraph" in spec.to_dot(shop, "size") and '"welcome" -> "size"' in spec.to_dot(shop)


# --- end to end ---------------------------------------------------------------------------------------


def channel_id(stack: Stack, instagram: bool = False) -> int:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    with connection():
        return Channel.get(Channel.account_id == account).id


def save_shop(stack: Stack) -> None:
    with connection():
        store.import_text(SHOP)


def person(stack: Stack, name: str = "Dana Buyer", instagram: bool = False) -> str:
    account = stack.page["instagram_id"] if instagram else stack.page["page_id"]
    return stack.control("customers", account_id=account, name=name, first_name=name.split()[0])["user_id"]


def bot_sent(stack: Stack, user: str) -> list[dict]:
    return [s for s in stack.sandbox_get("sent", recipient_id=user)["sent"]]


def texts(sent: list[dict]) -> list[str]:
    out = []
    for s in sent:
        message = s["body"].get("message")
        if isinstance(message, str):
            out.append(message)
        elif message is not None:
            out.append(message.get("text") or message.get("attachment", {}).get("payload", {}).get("text"))
    return out


def bot_state(user: str) -> BotState | None:
    thread = Conversation.get_or_none(
        Conversation.thread_key.endswith(f":{user}") & Conversation.thread_key.startswith("dm:")
    )
    return BotState.get_or_none(BotState.conversation == thread) if thread else None


def test_get_started_buttons_quick_replies_keywords_and_fallback(stack: Stack) -> None:
    save_shop(stack)
    with connection():
        Channel.update(fallback_message="Sorry, I did not get that.").execute()
    page, user = stack.page["page_id"], person(stack)
    stack.control("postback", account_id=page, user_id=user, payload="GET_STARTED", title="Get Started")
    stack.wait(lambda: len(bot_sent(stack, user)) == 1, what="welcome")
    [welcome] = bot_sent(stack, user)
    assert texts([welcome]) == ["Hi there! What are you looking for?"]  # no profile yet at the first event
    stack.control("postback", account_id=page, user_id=user, mid=welcome["message_id"], button_index=0)
    stack.wait(lambda: len(bot_sent(stack, user)) == 2, what="size question")
    assert bot_sent(stack, user)[1]["body"]["message"]["quick_replies"][0]["payload"] == "S42"
    stack.control("dm", account_id=page, user_id=user, text="what?")  # unexpected: state's any_text re-asks
    stack.wait(lambda: len(bot_sent(stack, user)) == 3, what="asked again")
    stack.control("dm", account_id=page, user_id=user, quick_reply_payload="S42")
    stack.wait(lambda: len(bot_sent(stack, user)) == 4, what="done")
    stack.control("postback", account_id=page, user_id=user, payload="NOBODY_KNOWS_ME", title="?")
    stack.wait(lambda: len(bot_sent(stack, user)) == 5, what="fallback")
    stack.control("dm", account_id=page, user_id=user, text="just chatting")  # no flow: staff answer
    stack.control("dm", account_id=page, user_id=user, text="show me the MENU please")  # entry keyword
    stack.wait(lambda: len(bot_sent(stack, user)) == 6, what="flow again by keyword")
    settled(stack)
    assert texts(bot_sent(stack, user)) == [
        "Hi there! What are you looking for?",
        "Which size?",
        "Which size?",
        "Great, Dana, we keep a pair for you.",
        "Sorry, I did not get that.",
        "Hi Dana! What are you looking for?",
    ]
    with connection():
        assert (bot_state(user).flow_name, bot_state(user).state) == ("shop", "welcome")
        assert {m.author for m in Message.select().where(Message.direction == "out")} == {"bot"}


def test_a_flow_saved_or_switched_off_is_what_the_next_message_meets(stack: Stack) -> None:
    """Workers keep a copy of the active flows per configuration version (read for every message):
    saving a flow, or an operator's own SQL switching it off, bumps the version (migration 0032)."""
    page, user = stack.page["page_id"], person(stack)
    stack.control("dm", account_id=page, user_id=user, text="hello")  # a new contact's tag bumps the version
    settled(stack)
    stack.control("dm", account_id=page, user_id=user, text="menu")  # no flow yet: the copy holds none
    settled(stack)
    assert bot_sent(stack, user) == []
    save_shop(stack)
    stack.control("dm", account_id=page, user_id=user, text="menu")
    stack.wait(lambda: len(bot_sent(stack, user)) == 1, what="the flow saved since")
    with connection():
        Flow.update(is_active=False).execute()
    stack.control("dm", account_id=page, user_id=user, text="menu")
    settled(stack)
    assert len(bot_sent(stack, user)) == 1  # switched off: no second welcome


def test_a_text_on_a_channel_without_flows_leaves_the_bot_state_alone(stack: Stack) -> None:
    """Most channels of a helpdesk run no flow: a customer's text then reads (and creates) no bot
    state; once a flow may run there, the same text does."""
    page, user = stack.page["page_id"], person(stack)
    stack.control("dm", account_id=page, user_id=user, text="hello")
    settled(stack)
    with connection():
        assert BotState.select().count() == 0
    save_shop(stack)
    stack.control("dm", account_id=page, user_id=user, text="hello again")
    settled(stack)
    with connection():
        assert BotState.select().count() == 1


def test_redelivered_event_sends_nothing_twice_and_timeout_moves_on(stack: Stack) -> None:
    save_shop(stack)
    page, user = stack.page["page_id"], person(stack)
    stack.control("postback", account_id=page, user_id=user, payload="GET_STARTED")
    deliveries = stack.sandbox_get("deliveries")["deliveries"]
    index = next(i for i, d in enumerate(deliveries) if "GET_STARTED" in d["body"])
    for _ in range(3):
        stack.control("deliveries/redeliver", index=index)
    stack.wait(lambda: len(bot_sent(stack, user)) == 2, timeout=20, what="welcome then the timeout's nudge")
    settled(stack)
    assert texts(bot_sent(stack, user)) == [
        "Hi there! What are you looking for?",
        "Still there? Type menu any time.",
    ]
    with connection():
        assert bot_state(user).flow_name is None  # the nudge state ends the flow


def test_flow_started_from_a_comment_answers_privately_then_publicly(stack: Stack) -> None:
    doc = textwrap.dedent("""\
        name: coupon
        start: offer
        states:
          offer:
            message:
              text: "Hi {{ first_name }}, want the coupon?"
              buttons: [{title: "Yes please", payload: "YES"}]
            transitions:
              - {postback: "YES", to: public_thanks}
              - {keywords: ["no"], end: true}
          public_thanks:
            reply: public
            message: {text: "Coupon sent to {{ first_name }}!"}
            transitions:
              - {any_text: true, to: private_more}
          private_more:
            message: {text: "Here it is: SHOES10"}
        """)
    with connection():
        store.import_text(doc)
        campaign = campaigns.save(
            CampaignSpec(
                name="coupon bot",
                channel_id=channel_id(stack),
                is_active=True,
                trigger=TriggerSpec(),
                actions=[ActionSpec(kind="start_flow", flow="coupon")],
            )
        )
    post, user = new_post(stack), commenter(stack, "Cole Commenter")
    comment_id = comment(stack, post, user, "coupon?")
    stack.wait(lambda: bot_sent(stack, user), what="private reply")
    [private] = bot_sent(stack, user)
    assert private["private_reply"] and private["body"]["recipient"] == {"comment_id": comment_id}
    stack.control(
        "postback", account_id=stack.page["page_id"], user_id=user, mid=private["message_id"], button_index=0
    )
    stack.wait(lambda: stack.sandbox_get("sent", kind="comment_reply")["sent"], what="public reply")
    [public] = stack.sandbox_get("sent", kind="comment_reply")["sent"]
    assert public["body"]["message"] == "Coupon sent to Cole!" and public["comment_id"] == comment_id
    stack.control("dm", account_id=stack.page["page_id"], user_id=user, text="thanks")
    stack.wait(lambda: "Here it is: SHOES10" in texts(bot_sent(stack, user)), what="DM in the thread")
    settled(stack)
    with connection():
        step = CampaignStep.get(CampaignStep.run.in_([r.id for r in campaign.campaignrun_set]))
        assert step.status == "queued" and "coupon" in step.detail
    assert [s["kind"] for s in bot_sent(stack, user)] == ["private_reply", "comment_reply", "message"]


def test_interleaved_conversations_keep_their_order(stack: Stack) -> None:
    """Six people answer a counting flow five times each, all interleaved, over 4 worker threads:
    every conversation must step 1..5 in order, whatever worker applied which event."""
    interleave(stack)


def test_interleaved_conversations_keep_their_order_on_redis(stack_redis: Stack) -> None:
    """The same with PostgreSQL and workers consuming from Redis (locks held in Redis)."""
    interleave(stack_redis)


def interleave(stack: Stack) -> None:
    states = {
        f"s{i}": StateSpec(
            message=MessageContent(text=f"step {i}"), transitions=[Transition(any_text=True, to=f"s{i + 1}")]
        )
        for i in range(5)
    }
    states["s5"] = StateSpec(message=MessageContent(text="step 5"))
    counting = FlowSpec(name="count", start="s0", states=states, entry=EntrySpec(payloads=["COUNT"]))
    with connection():
        store.save(counting)
    page = stack.page["page_id"]
    users = [person(stack, f"User{i} X") for i in range(6)]
    for user in users:
        stack.control("postback", account_id=page, user_id=user, payload="COUNT")
    for round_ in range(5):
        for user in users:
            stack.control("dm", account_id=page, user_id=user, text=f"answer {round_}")
    stack.wait(lambda: all(len(bot_sent(stack, u)) == 6 for u in users), timeout=60, what="every step")
    settled(stack)
    with connection():
        for user in users:
            rows = (
                Message.select()
                .where((Message.author == "bot") & (Message.recipient_id == user))
                .order_by(Message.id)
            )
            assert [m.text for m in rows] == [f"step {i}" for i in range(6)]
            assert bot_state(user).flow_name is None


def test_payload_or_keyword_claimed_by_two_flows_is_refused(stack: Stack) -> None:
    save_shop(stack)
    other = FlowSpec(
        name="other", start="a", states={"a": say("hello")}, entry=EntrySpec(payloads=["GET_STARTED"])
    )
    with connection(), pytest.raises(Invalid) as caught:
        store.save(other)
    assert caught.value.field == "entry.payloads[0]" and "shop" in caught.value.problem
    other = FlowSpec(name="other", start="a", states={"a": say("hello")}, entry=EntrySpec(keywords=["Menú"]))
    with connection(), pytest.raises(Invalid) as caught:
        store.save(other)
    assert caught.value.field == "entry.keywords[0]"
    jump = FlowSpec(name="jump", start="a", states={"a": say("x", Transition(any_text=True, flow="missing"))})
    with connection(), pytest.raises(Invalid) as caught:
        store.save(jump)
    assert caught.value.field == "states.a.transitions[0].flow"


def test_quick_reply_titles_in_flow(stack: Stack) -> None:
    """A flow for one Instagram channel is checked against Instagram's limits only when saved."""
    ig = channel_id(stack, instagram=True)
    quick = StateSpec(
        message=MessageContent(text="pick", quick_replies=(QuickReply(title="x" * 21, payload="X"),))
    )
    with connection(), pytest.raises(Invalid) as caught:
        store.save(FlowSpec(name="ig", start="a", channel_id=ig, states={"a": quick}))
    assert caught.value.field == "states.a.message.quick_replies[0].title"


def test_a_flow_start_waits_for_the_dm_thread_stepping_the_same_bot_state(pg_url: str) -> None:
    """A campaign starting a flow from a comment and the DM thread's own events hold different
    conversation locks; the bot state row lock makes the second writer wait for the first's commit
    and read what it wrote (PostgreSQL; SQLite's write transactions are exclusive anyway)."""
    import threading

    import psycopg2

    from bot import migrations
    from bot.platform.db import now_ms, open_database, transaction
    from tests.servers import reset_postgres, wait_until

    reset_postgres(pg_url)
    migrations.upgrade(open_database(pg_url))
    with connection():
        channel = Channel.create(platform="facebook", account_id="p1", page_id="p1", name="P", created_at=now_ms())
        thread = Conversation.create(thread_key="dm:facebook:p1:u1", kind="messenger", channel=channel,
                                     created_at=now_ms()).id
        store.ensure_state(thread)  # the person has talked to the bot before: the row exists
    locked, release, second_done = threading.Event(), threading.Event(), threading.Event()

    seen: list[tuple[str | None, str | None]] = []

    def dm_step() -> None:  # a DM event being applied: reads the state, then moves the flow on
        with connection(), transaction():
            store.lock_state(thread)
            locked.set()
            release.wait(timeout=20)
            store.set_position(thread, "welcome", "menu")

    backend: list[int] = []  # the flow start's PostgreSQL backend, watched by its pid

    def flow_start() -> None:  # a campaign's "start bot flow" for the same person, meanwhile
        with connection(), transaction():
            backend.append(BotState._meta.database.execute_sql("SELECT pg_backend_pid()").fetchone()[0])
            row = store.lock_state(thread)
            seen.append((row.flow_name, row.state))
            store.set_position(thread, "coupon", "start")
        second_done.set()

    first = threading.Thread(target=dm_step)
    first.start()
    assert locked.wait(timeout=20)
    second = threading.Thread(target=flow_start)
    second.start()
    with psycopg2.connect(pg_url) as probe, probe.cursor() as cur:
        probe.autocommit = True  # in one transaction pg_stat_activity would answer its first snapshot again

        def waiting_on_the_row() -> bool:  # its own backend: other test processes wait on locks too
            if not backend:
                return False
            cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (backend[0],))
            row = cur.fetchone()
            return row is not None and row[0] == "Lock"
        wait_until(waiting_on_the_row, what="the flow start waiting for the row lock")
    assert not second_done.is_set()
    release.set()
    first.join(timeout=20)
    second.join(timeout=20)
    assert second_done.is_set()
    assert seen == [("welcome", "menu")]  # it read the DM step's committed state, not the one before
    with connection():
        state = BotState.get(BotState.conversation == thread)
    assert (state.flow_name, state.state, state.step) == ("coupon", "start", 2)  # both steps counted


def test_unreadable_documents_say_where_and_what_in_peoples_words() -> None:
    from bot.automation.flows import spec as flow_spec

    with pytest.raises(Invalid) as yaml_error:
        flow_spec.from_text("name: x\nstart: a\n  bad: : indent\n")
    assert yaml_error.value.words == ("The YAML cannot be read on line 3, column 6: mapping values are not allowed "
                                      "here — the line reads \"bad: : indent\"")
    with pytest.raises(Invalid) as json_error:
        flow_spec.from_text('{"name": "x",\n "start": }', "json")
    assert json_error.value.words.startswith("The JSON cannot be read on line 2, column 11: Expecting value")
    with pytest.raises(Invalid) as typed:
        flow_spec.from_text("name: 5\nstart: a\nstates: {a: {message: {text: hi}}}\n")
    assert typed.value.words == "Name must be text, not a whole number"
