"""Staff e-mails through a real SMTP server (aiosmtpd): coalesced per conversation burst, retried
when the server is down, never in the way of ingest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot import commands, jobs
from bot.platform.db import connection
from bot.platform.models import Channel, EmailDigest, Message
from bot.staff.auth import add_user
from tests.conftest import make_env
from tests.servers import LiveServer, Stack, free_port


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], object]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    """The staff mail server wants a login (user desk, password s3cret)."""
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"desk", b"s3cret")
    return AuthResult(success=ok)


def mail_server(inbox: Inbox, port: int) -> Controller:
    return Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                      auth_require_tls=False)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = mail_server(inbox, smtp_port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def mail_stack(database_url: str, sandbox_server: LiveServer, smtp_port: int) -> Iterator[Stack]:
    env = make_env(database_url, SMTP_URL=f"smtp://desk:s3cret@127.0.0.1:{smtp_port}/?from=desk@example.com")
    with Stack.start(env, sandbox_server) as stack:
        with connection():
            add_user("ann@example.com", "long enough", "admin")
            add_user("bob@example.com", "long enough", "agent")
            commands.update_channel_settings(Channel.get(Channel.account_id == stack.page["page_id"]).id, emails=True)
        yield stack


def burst(stack: Stack, user: str, texts: list[str]) -> None:
    for text in texts:
        stack.control("dm", account_id=stack.page["page_id"], user_id=user, text=text)


def test_a_burst_gives_one_email_listing_its_messages(mail_stack: Stack, smtp: Inbox) -> None:
    user = mail_stack.control("customers", account_id=mail_stack.page["page_id"], name="Erin Email")["user_id"]
    burst(mail_stack, user, ["Hello", "Are you open today?", "I need size 42"])
    mail_stack.wait(lambda: smtp.messages, timeout=20, what="an e-mail")
    mail_stack.wait(lambda: EmailDigest.select().where(EmailDigest.status == "sent").count() == 1, what="sent")
    [(recipients, email)] = smtp.messages
    assert sorted(recipients) == ["ann@example.com", "bob@example.com"]
    assert email["Subject"].startswith("Erin Email sent 3 new messages")
    body = email.get_payload()
    assert "- Hello" in body and "- Are you open today?" in body and "- I need size 42" in body
    assert "s3cret" not in body
    burst(mail_stack, user, ["One more thing"])  # a later message: a new e-mail
    mail_stack.wait(lambda: len(smtp.messages) == 2, timeout=20, what="second e-mail")
    assert "One more thing" in smtp.messages[1][1].get_payload()
    assert "Hello" not in smtp.messages[1][1].get_payload()


def test_emails_off_sends_nothing(mail_stack: Stack, smtp: Inbox) -> None:
    with connection():
        commands.update_channel_settings(Channel.get(Channel.account_id == mail_stack.page["page_id"]).id, emails=False)
    user = mail_stack.control("customers", account_id=mail_stack.page["page_id"], name="Quiet")["user_id"]
    burst(mail_stack, user, ["hi"])
    mail_stack.wait(lambda: Message.select().count() == 1, what="message stored")
    with connection():
        assert EmailDigest.select().count() == 0
    assert smtp.messages == []


def test_smtp_down_does_not_block_ingest_and_is_retried(mail_stack: Stack, smtp_port: int) -> None:
    user = mail_stack.control("customers", account_id=mail_stack.page["page_id"], name="Dora Down")["user_id"]
    started = time.monotonic()
    burst(mail_stack, user, ["one", "two"])
    mail_stack.wait(lambda: Message.select().count() == 2, what="messages stored while SMTP is down")
    assert time.monotonic() - started < 10
    digest = mail_stack.wait(lambda: EmailDigest.get_or_none(EmailDigest.attempts == 1), what="a failed attempt")
    assert digest.status == "pending" and "SMTP" in digest.error and "s3cret" not in digest.error
    inbox = Inbox()
    controller = mail_server(inbox, smtp_port)
    controller.start()
    try:
        with connection():
            jobs.send_email_digest(digest.id)  # the retry, as the scheduled job would run it
        assert len(inbox.messages) == 1 and "- two" in inbox.messages[0][1].get_payload()
        with connection():
            assert EmailDigest.get_by_id(digest.id).status == "sent"
    finally:
        controller.stop()
