"""The Send API (`POST /{account}/messages`) and attachment uploads, with Meta's rules.

Judging a send needs the store (who the recipient is, when they last wrote, whether the
comment already had its private reply), so these handlers live apart from the pure body rules
in `graph_rules`. Handlers run under `Store.lock` (the Graph route holds it).
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules, uploads
from sandbox.graph_call import GraphCall
from sandbox.graph_rules import GraphFault, SendShape
from sandbox.records import INSTAGRAM, Account, Comment, Customer, Message, QueuedItem, Sent, Upload
from sandbox.store import Store, now_ms
from sandbox.webhook_shapes import echo_attachments, from_person, messaging_item

# Facebook Login's permission, or Instagram Login's (sandbox/instagram_host.py).
INSTAGRAM_MESSAGING = ("instagram_manage_messages", "instagram_business_manage_messages")


def send_message(call: GraphCall) -> dict[str, Any]:
    """Validate, judge the window or private-reply rules, record, and answer like Meta."""
    store = call.store
    body = call.params
    account = _sending_account(store, call.account, body)
    call.account = account
    instagram = account.platform == INSTAGRAM
    call.require_scope(*(INSTAGRAM_MESSAGING if instagram else ("pages_messaging",)))
    shape = graph_rules.check_send_body(body, instagram=instagram)
    now = now_ms()
    comment = None
    if shape.recipient_key == "id":
        customer = _recipient(store, account, shape.recipient_value)
    elif shape.recipient_key == "comment_id":
        comment = _private_reply_target(store, account, shape, now, instagram=instagram)
        customer = store.customers[comment.author_id]
    else:
        # The sandbox plays no visitor posts: every post belongs to the page itself (§6).
        raise graph_rules.cannot_reply("post_id names no visitor post of this page")
    if shape.sender_action is not None:
        _raise(graph_rules.window_fault(customer.last_inbound_ms, "RESPONSE", None, now))
        return {"recipient_id": customer.id}
    if comment is None:
        _raise(graph_rules.window_fault(customer.last_inbound_ms, shape.messaging_type, shape.tag, now))
    assert shape.message is not None
    _check_uploads(store, account, shape.message)
    message = _record(store, call, account, customer, shape, comment, now)
    answer: dict[str, Any] = {"recipient_id": customer.id, "message_id": message.mid}
    reusable = _reusable_upload(store, account, shape.message)
    if reusable is not None:
        answer["attachment_id"] = reusable
    call.webhooks.extend(after_send(store, account, customer, message))
    return answer


def _raise(fault: GraphFault | None) -> None:
    if fault is not None:
        raise fault


def _sending_account(store: Store, node_account: Account | None, body: dict[str, Any]) -> Account:
    """The account a send acts for. With Facebook Login a page token sends for the page's
    Instagram account too (`/{page-id}/messages` or `/me/messages` to an IGSID), so a
    recipient that belongs to the linked Instagram account switches the account."""
    assert node_account is not None
    if node_account.platform == INSTAGRAM or not node_account.linked_id:
        return node_account
    recipient = body.get("recipient")
    if not isinstance(recipient, dict):
        return node_account
    linked = store.accounts[node_account.linked_id]
    customer = store.customers.get(str(recipient.get("id", "")))
    comment = store.comments.get(str(recipient.get("comment_id", "")))
    if (customer and customer.account_id == linked.id) or (comment and comment.account_id == linked.id):
        return linked
    return node_account


def _recipient(store: Store, account: Account, user_id: str) -> Customer:
    customer = store.customers.get(user_id)
    if customer is None or customer.account_id != account.id:
        raise graph_rules.no_matching_user()
    return customer


def _private_reply_target(
    store: Store, account: Account, shape: SendShape, now: int, *, instagram: bool
) -> Comment:
    """The comment a private reply answers, after Meta's checks (§6)."""
    comment = store.comments.get(shape.recipient_value)
    if comment is None or comment.account_id != account.id or comment.removed:
        raise graph_rules.cannot_reply("no such comment on this account")
    if comment.by_account:
        raise graph_rules.cannot_reply("the comment was written by the account itself")
    if comment.private_reply_mid is not None:
        raise graph_rules.already_replied()
    if now // 1000 - comment.created_time > graph_rules.PRIVATE_REPLY_WINDOW_S:
        raise graph_rules.cannot_reply("the comment is older than 7 days")
    if shape.sender_action is not None:
        raise graph_rules.invalid_param("sender_action cannot be sent to a comment")
    if instagram and shape.message is not None and graph_rules.has_media(shape.message):
        raise graph_rules.invalid_param(
            "media attachments are not allowed in Instagram private replies (send text; hold media "
            "until the person answers)"
        )
    # Only text is documented for Instagram private replies (meta-platform.md §6, §12): a card
    # carries an image, so it is refused like media. What Meta really answers is unconfirmed.
    if instagram and shape.message is not None and graph_rules.is_card(shape.message):
        raise graph_rules.invalid_param(
            "a generic template (card) is not allowed in an Instagram private reply: send text"
        )
    return comment


def _check_uploads(store: Store, account: Account, message: dict[str, Any]) -> None:
    for attachment in graph_rules.message_attachments(message):
        attachment_id = (attachment.get("payload") or {}).get("attachment_id")
        if attachment_id is None:
            continue
        upload = store.uploads.get(str(attachment_id))
        if upload is None or upload.page_id != account.page_id:
            raise graph_rules.invalid_param(f"attachment_id {attachment_id} does not exist for this page")


def _reusable_upload(store: Store, account: Account, message: dict[str, Any]) -> str | None:
    """`is_reusable: true` with a URL: Meta answers an `attachment_id` for later sends."""
    attachment = message.get("attachment")
    if not isinstance(attachment, dict):
        return None
    payload = attachment.get("payload") or {}
    if payload.get("is_reusable") in (True, "true") and payload.get("url"):
        return _store_upload(store, account, str(attachment.get("type")), str(payload["url"]))
    return None


def _store_upload(store: Store, account: Account, kind: str, url: str) -> str:
    upload_id = store.new_id("upload")
    store.uploads[upload_id] = Upload(id=upload_id, page_id=account.page_id, type=kind, url=url)
    return upload_id


def _record(
    store: Store,
    call: GraphCall,
    account: Account,
    customer: Customer,
    shape: SendShape,
    comment: Comment | None,
    now: int,
) -> Message:
    """Keep the sent message in its thread and in the sent log (with the full request body)."""
    assert shape.message is not None
    conversation = store.conversation_for(account.id, customer.id)
    message = Message(
        mid=store.new_mid(),
        account_id=account.id,
        conversation_id=conversation.id,
        customer_id=customer.id,
        sender_id=account.id,
        recipient_id=customer.id,
        created_ms=now,
        text=shape.message.get("text"),
        attachments=echo_attachments(shape.message, _upload_urls(store)),
        app_id=store.config.app_id,
        body=dict(call.params),
        private_reply_to=comment.id if comment else None,
    )
    store.add_message(message)
    if comment is not None:
        comment.private_reply_mid = message.mid
    store.record_sent(
        Sent(
            seq=store.next_seq(),
            kind="private_reply" if comment else "message",
            account_id=account.id,
            platform=account.platform,
            path=call.path,
            body=dict(call.params),
            time_ms=now,
            recipient_id=customer.id,
            comment_id=comment.id if comment else None,
            message_id=message.mid,
            messaging_type=None if comment else shape.messaging_type,
            tag=shape.tag,
            private_reply=comment is not None,
        )
    )
    return message


def _upload_urls(store: Store) -> dict[str, str]:
    return {upload.id: upload.url for upload in store.uploads.values()}


def after_send(store: Store, account: Account, customer: Customer, message: Message) -> list[QueuedItem]:
    """What Meta sends after a message leaves the page: its echo, then (when configured)
    delivery and read receipts from the person's device."""
    items = [_echo(account, customer, message, app_id=store.config.app_id)]
    if store.config.auto_receipts:
        items.extend(receipts(account, customer, message))
    return items


def _echo(account: Account, customer: Customer, message: Message, *, app_id: str | None) -> QueuedItem:
    value: dict[str, Any] = {"mid": message.mid, "is_echo": True}
    if account.platform != INSTAGRAM and app_id is not None:
        value["app_id"] = int(app_id) if app_id.isdigit() else app_id
        metadata = (message.body or {}).get("message", {}).get("metadata")
        if metadata:
            value["metadata"] = metadata
    if message.text is not None:
        value["text"] = message.text
    if message.attachments:
        value["attachments"] = message.attachments
    return messaging_item(
        account,
        key="message",
        gate="echo",
        value=value,
        sender_id=account.id,
        recipient_id=customer.id,
        timestamp=message.created_ms,
    )


def echo_from_other_app(account: Account, customer: Customer, message: Message) -> QueuedItem:
    """The echo of a message the page sent from another tool (Meta Business Suite)."""
    return _echo(account, customer, message, app_id=message.app_id)


def receipts(account: Account, customer: Customer, message: Message) -> list[QueuedItem]:
    """Delivery (Messenger only: Instagram has no delivery event) then read, as the person's
    phone would report them."""
    at = message.created_ms + 1
    customer.read_watermark_ms = max(customer.read_watermark_ms, at)
    if account.platform == INSTAGRAM:
        return [from_person(account, customer.id, "read", {"mid": message.mid}, at)]
    # Meta's delivery samples carry no timestamp (meta-platform.md §2).
    delivery = {"mids": [message.mid], "watermark": at}
    return [
        from_person(account, customer.id, "delivery", delivery, None),
        from_person(account, customer.id, "read", {"watermark": at}, at),
    ]


def upload_attachment(call: GraphCall) -> dict[str, Any]:
    """`POST /{page-id}/message_attachments`: keep a media URL, or the file sent as the
    multipart `filedata` part (checked as Meta does: `sandbox.uploads`), answer a reusable id."""
    account = call.account
    assert account is not None
    call.require_scope(*(INSTAGRAM_MESSAGING if call.instagram else ("pages_messaging",)))
    message = call.param("message")
    attachment = message.get("attachment") if isinstance(message, dict) else None
    if not isinstance(attachment, dict):
        raise graph_rules.invalid_param("param message[attachment] is required")
    kind = attachment.get("type")
    if kind not in graph_rules.MEDIA_TYPES:
        raise graph_rules.invalid_param(
            "param message[attachment][type] must be one of {image, video, audio, file}"
        )
    filedata = call.param("filedata")
    if isinstance(filedata, uploads.FilePart):
        # A page token uploads for the page's Instagram account with `platform=instagram` (§5).
        instagram = call.instagram or call.param("platform") == "instagram"
        content_type = uploads.check_file(str(kind), filedata, instagram=instagram)
        upload_id = _store_upload(call.store, account, str(kind), "")
        upload = call.store.uploads[upload_id]
        upload.url = f"{call.base_url.split('/graph/')[0]}/control/uploads/{upload_id}"
        upload.data, upload.content_type, upload.filename = filedata.data, content_type, filedata.filename
        return {"attachment_id": upload_id}
    url = (attachment.get("payload") or {}).get("url")
    if not graph_rules.is_http_url(url):
        raise graph_rules.invalid_param("param message[attachment][payload][url] must be an http(s) URL")
    return {"attachment_id": _store_upload(call.store, account, str(kind), str(url))}
