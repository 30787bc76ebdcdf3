"""Staff e-mail over SMTP (`SMTP_URL`): smtp://user:password@host:port/?from=addr&starttls=1, or
smtps:// for implicit TLS. The password never appears in errors or logs."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

from bot.core.errors import SocialdeskError


class MailError(SocialdeskError):
    """Sending failed; retrying later may help (server down, refused connection)."""


def send_mail(smtp_url: str, to: list[str], subject: str, body: str) -> None:
    """Send one plain-text e-mail to `to` (bcc-style: one envelope, staff do not see each other)."""
    url = urlparse(smtp_url)
    query = parse_qs(url.query)
    sender = query.get("from", ["socialdesk@localhost"])[0]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = sender if len(to) > 1 else to[0]
    message["Subject"] = subject
    message.set_content(body)
    try:
        client_cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with client_cls(url.hostname or "127.0.0.1", url.port or (465 if url.scheme == "smtps" else 25),
                        timeout=15) as client:
            if query.get("starttls", ["0"])[0] in ("1", "true"):
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message, from_addr=sender, to_addrs=to)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP to {url.hostname}:{url.port} failed: {type(exc).__name__}") from None
