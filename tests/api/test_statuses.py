"""Truthful statuses over REST (issue 20): a setting that cannot work is flagged with the channel,
the per-channel notification choices, and a failed send retried once."""

from __future__ import annotations

from bot.platform.db import connection
from bot.platform.models import Message
from tests.api.conftest import Api, error_of


def test_emails_without_a_mail_server_come_back_with_a_warning(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    assert api.ok("GET", f"/channels/{channel_id}")["warnings"] == []
    changed = api.ok("PATCH", f"/channels/{channel_id}/settings", json={"emails": True})
    assert changed["emails"] is True and "SMTP_URL is unset" in changed["warnings"][0]
    assert api.ok("PATCH", f"/channels/{channel_id}/settings", json={"emails": False})["warnings"] == []


def test_notification_choices_default_off_and_change(api: Api) -> None:
    channel_id = api.ok("GET", "/channels")[0]["id"]
    shown = api.ok("GET", f"/channels/{channel_id}")
    assert (shown["notify_postbacks"], shown["notify_campaign_comments"]) == (False, False)
    changed = api.ok("PATCH", f"/channels/{channel_id}/settings", json={"notify_postbacks": True})
    assert (changed["notify_postbacks"], changed["notify_campaign_comments"]) == (True, False)


def test_a_failed_send_is_retried_once(api: Api) -> None:
    conversation_id = api.dm()
    replacement = api.stack.control("tokens/revoke", token=api.stack.page["page_token"])["replacement"]
    [row] = api.ok("POST", f"/conversations/{conversation_id}/messages", 201,
                   json={"message": {"text": "Shipped"}})
    api.stack.wait(lambda: Message.get_by_id(row["id"]).status == "failed", what="the send failed")
    failed = api.ok("GET", f"/conversations/{conversation_id}/messages")[-1]
    assert failed["id"] == row["id"] and failed["can_retry"] is True
    reconnected = api.call("POST", "/channels", json={"page_id": api.stack.page["page_id"], "name": "Shop",
                                                      "token": replacement})
    assert reconnected.status_code in (200, 201), reconnected.text
    [again] = api.ok("POST", f"/conversations/{conversation_id}/messages/{row['id']}/retry")
    assert again["id"] != row["id"] and again["author_name"]
    api.stack.wait(lambda: Message.get_by_id(again["id"]).status == "sent", what="the retry sent")
    twice = api.call("POST", f"/conversations/{conversation_id}/messages/{row['id']}/retry")
    assert twice.status_code == 422 and error_of(twice)["field"] == "message_id"
    assert api.call("POST", f"/conversations/{conversation_id + 99}/messages/{row['id']}/retry").status_code == 404
    with connection():
        assert Message.select().where(Message.text == "Shipped").count() == 2
