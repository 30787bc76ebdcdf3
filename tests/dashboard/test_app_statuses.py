"""The dashboard tells the truth and follows the work (issue 20, points 4 and 8), in AppTest
sessions against the real stack: the bell clears when a conversation is opened and names the
channel; health is "not checked yet" until a check ran and never "healthy" next to a failed
check; e-mails without a mail server are flagged; a broken channel offers Reconnect; a failed
send shows as failed with Retry, credited replies, full tag names; the flow picker keeps the
flow just saved."""

from __future__ import annotations

import pytest

from bot.platform.db import now_ms
from bot.platform.models import Channel, ChannelCheck, Message
from tests.dashboard.conftest import customer_writes, open_conversation, texts, wait_for

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
YEAR_MS = 365 * 86_400_000


def bell_label(app) -> str:
    return app.sidebar.get("popover")[0].proto.popover.label


def test_opening_a_conversation_clears_its_notifications(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Is it in stock?")
    admin_app.run()
    assert bell_label(admin_app) == ":material/notifications: 1"
    channel = Channel.get(Channel.account_id == desk.page["page_id"]).name
    assert f"{channel} · Dana Buyer" in texts(admin_app)
    open_conversation(admin_app, conversation_id)
    admin_app.run()
    assert bell_label(admin_app) == ":material/notifications:"


def page_channel(desk) -> Channel:
    return Channel.get(Channel.account_id == desk.page["page_id"])


def set_health(desk, status: str, *, checked: bool, error: str | None = None) -> None:
    """The page channel as a send or a check left it (no check due for a year: nothing races)."""
    channel = page_channel(desk)
    Channel.update(health_status=status).where(Channel.id == channel.id).execute()
    ChannelCheck.delete().execute()
    ChannelCheck.insert(channel=channel, next_check_at=now_ms() + YEAR_MS, last_error=error,
                        last_checked_at=now_ms() if checked else None).execute()


def channel_header(app, desk) -> str:
    name = page_channel(desk).name
    return next(str(m.value) for m in app.markdown if str(m.value).startswith(f"#### {name}"))


def test_health_is_not_checked_yet_until_a_check_ran(desk, admin_app) -> None:
    set_health(desk, "healthy", checked=False)
    admin_app.switch_page("app_pages/settings.py").run()
    assert "not checked yet" in channel_header(admin_app, desk)
    set_health(desk, "healthy", checked=True, error="Meta did not answer")
    admin_app.run()
    header = channel_header(admin_app, desk)
    assert "last check failed" in header and "healthy" not in header
    set_health(desk, "healthy", checked=True)
    admin_app.run()
    assert ":green-badge[healthy]" in channel_header(admin_app, desk)


def test_emails_without_a_mail_server_are_flagged(desk, admin_app) -> None:
    admin_app.switch_page("app_pages/settings.py").run()
    assert not [w for w in admin_app.warning if "SMTP_URL" in str(w.value)]
    admin_app.toggle(key=f"toggle_{page_channel(desk).id}_emails").set_value(True).run()
    assert page_channel(desk).emails is True
    assert [w for w in admin_app.warning if "SMTP_URL is unset" in str(w.value)]


def test_a_broken_channel_offers_reconnect_with_its_page_id(desk, admin_app) -> None:
    replacement = desk.control("tokens/revoke", token=desk.page["page_token"])["replacement"]
    set_health(desk, "needs_reconnecting", checked=True)
    admin_app.switch_page("app_pages/settings.py").run()
    channel = page_channel(desk)
    assert f"Reconnect (page id {desk.page['page_id']})" in [e.label for e in admin_app.expander]
    admin_app.text_input(key=f"reconnect_token_{channel.id}").input(replacement)
    next(b for b in admin_app.button if b.label == "Reconnect").click().run()
    assert not admin_app.exception
    assert any("Connected" in str(s.value) for s in admin_app.success), texts(admin_app)
    assert page_channel(desk).health_status != "needs_reconnecting"
    assert not [e for e in admin_app.expander if e.label.startswith("Reconnect")]


def test_a_failed_reply_shows_failed_with_retry_and_its_author(desk, admin_app) -> None:
    from bot import commands
    from bot.platform.models import User

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    desk.control("tokens/revoke", token=desk.page["page_token"])
    admin = User.get(User.email == "admin@example.com")
    [row] = commands.reply(admin.id, conversation_id, text="On its way")
    wait_for(lambda: Message.get_by_id(row.id).status == "failed", "the send failed")
    open_conversation(admin_app, conversation_id)
    captions = [str(c.value) for c in admin_app.caption]
    assert [c for c in captions if c.startswith("Ada Admin · ")], captions  # the byline, not "Staff · ..."
    assert not [c for c in captions if c.startswith("Staff · ")]
    assert [c for c in captions if "Failed" in c]
    admin_app.button(key=f"retry{row.id}").click().run()
    assert not admin_app.exception
    assert Message.select().where(Message.text == "On its way").count() == 2  # a new attempt, the record kept
    assert not [b for b in admin_app.button if b.key == f"retry{row.id}"]  # once per failed message


def test_the_reply_box_says_queued_neutrally(desk, admin_app) -> None:
    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    open_conversation(admin_app, conversation_id)
    admin_app.text_area(key=f"reply{conversation_id}_text").input("Coming up")
    admin_app.button(key=f"reply{conversation_id}_send").click().run()
    assert not [s for s in admin_app.success if "queued" in str(s.value).lower()]
    assert [i for i in admin_app.info if "whether Meta accepted it" in str(i.value)]


def test_tags_are_shown_in_full(desk, admin_app) -> None:
    from bot import commands
    from bot.platform.models import Conversation

    conversation_id, _ = customer_writes(desk, "Dana Buyer", "Hello?")
    tag = "Facebook ads spring campaign lead"
    commands.add_tag(Conversation.get_by_id(conversation_id).contact_id, tag)
    open_conversation(admin_app, conversation_id)
    assert f"**{tag}**" in texts(admin_app)


def test_the_flow_picker_keeps_the_saved_flow(desk, admin_app) -> None:
    admin_app.switch_page("app_pages/flows.py").run()
    assert admin_app.selectbox(key="sd_flow_pick").value == "(new flow)"
    admin_app.button(key="sd_flow_save").click().run()
    assert not admin_app.exception
    assert admin_app.selectbox(key="sd_flow_pick").value == "welcome"
    admin_app.switch_page("app_pages/inbox.py").run()
    admin_app.switch_page("app_pages/flows.py").run()
    assert admin_app.selectbox(key="sd_flow_pick").value == "welcome"
    broken = "name: welcome\nstart: hello\nstates:\n  hello:\n    message: {text: \"Hi\"\n  other: 1\n"
    admin_app.text_area(key="sd_flow_yaml_welcome").input(broken)
    admin_app.button(key="sd_flow_save").click().run()  # invalid YAML: where and what, not a parser dump
    [error] = [e.value.replace("\\", "") for e in admin_app.error]
    assert error == ("Not saved: The YAML cannot be read on line 6, column 3: expected ',' or '}', but got "
                     "'<scalar>' (while parsing a flow mapping) — the line reads \"other: 1\""), error
