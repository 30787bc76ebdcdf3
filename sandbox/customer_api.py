"""Playing the other side: what customers (and the page's other tools) do on Meta.

Each route records the fact in the store, then sends the Meta-shaped, signed webhook and answers
the ids it created plus `delivery` ({"status", "held", ...}). Recording happens even when the
webhook is not delivered (held, or the account unsubscribed), so the Conversations API and the
comments edge can serve it for backfill, as Meta does.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post

from sandbox import comments
from sandbox.control_schemas import (
    CommentEdit,
    CommentHide,
    CommentRef,
    CommentSpec,
    DmSpec,
    EchoSpec,
    MessageEdit,
    MessageRef,
    PersonRef,
    PostbackSpec,
    ReactSpec,
    ReferralSpec,
)
from sandbox.records import INSTAGRAM, Account, Comment, Customer, Message, Post, QueuedItem
from sandbox.runtime import Sandbox, bad_request, not_found
from sandbox.send_api import echo_from_other_app
from sandbox.store import Store, now_ms
from sandbox.webhook_shapes import REACTION_EMOJI, from_person, inbound_attachments

# Meta Business Suite's app id as it appears on echoes (unconfirmed value; any id other than
# ours marks the echo as written outside socialdesk).
BUSINESS_SUITE_APP_ID = "263902037430900"


class CustomerController(Controller):
    path = "/control"
    tags = ["sandbox customer"]

    @post("/dm", status_code=200)
    async def dm(self, sandbox: Sandbox, data: DmSpec) -> dict[str, Any]:
        message, item = play_dm(sandbox.store, data)
        return {"mid": message.mid, "delivery": await sandbox.webhooks.emit(item)}

    @post("/comment", status_code=200)
    async def comment(self, sandbox: Sandbox, data: CommentSpec) -> dict[str, Any]:
        created, item = play_comment(sandbox.store, data)
        return {"comment_id": created.id, "delivery": await _emit(sandbox, item)}

    @post("/comment/edit", status_code=200)
    async def edit_comment(self, sandbox: Sandbox, data: CommentEdit) -> dict[str, Any]:
        with sandbox.store.lock:
            comment = _comment(sandbox.store, data.comment_id)
            comment.text = data.text
            item = comments.comment_item(sandbox.store, comment, "edited")
        return {"comment_id": comment.id, "delivery": await _emit(sandbox, item)}

    @post("/comment/remove", status_code=200)
    async def remove_comment(self, sandbox: Sandbox, data: CommentRef) -> dict[str, Any]:
        with sandbox.store.lock:
            comment = _comment(sandbox.store, data.comment_id)
            comment.removed = True
            item = comments.comment_item(sandbox.store, comment, "remove")
        return {"comment_id": comment.id, "delivery": await _emit(sandbox, item)}

    @post("/comment/hide", status_code=200)
    async def hide_comment(self, sandbox: Sandbox, data: CommentHide) -> dict[str, Any]:
        with sandbox.store.lock:
            comment = _comment(sandbox.store, data.comment_id)
            comment.hidden = data.hidden
            item = comments.comment_item(sandbox.store, comment, "hide" if data.hidden else "unhide")
        return {"comment_id": comment.id, "delivery": await _emit(sandbox, item)}

    @post("/postback", status_code=200)
    async def postback(self, sandbox: Sandbox, data: PostbackSpec) -> dict[str, Any]:
        message, item = play_postback(sandbox.store, data)
        return {"mid": message.mid, "delivery": await sandbox.webhooks.emit(item)}

    @post("/read", status_code=200)
    async def read(self, sandbox: Sandbox, data: PersonRef) -> dict[str, Any]:
        item = play_read(sandbox.store, data)
        return {"delivery": await sandbox.webhooks.emit(item)}

    @post("/delivery", status_code=200)
    async def delivery(self, sandbox: Sandbox, data: PersonRef) -> dict[str, Any]:
        item = play_delivery(sandbox.store, data)
        return {"delivery": await sandbox.webhooks.emit(item)}

    @post("/react", status_code=200)
    async def react(self, sandbox: Sandbox, data: ReactSpec) -> dict[str, Any]:
        item = play_reaction(sandbox.store, data)
        return {"delivery": await sandbox.webhooks.emit(item)}

    @post("/message/edit", status_code=200)
    async def edit_message(self, sandbox: Sandbox, data: MessageEdit) -> dict[str, Any]:
        with sandbox.store.lock:
            message, account, customer = _inbound(sandbox.store, data.mid)
            message.text = data.text
            message.num_edit += 1
            value = {"mid": message.mid, "text": data.text, "num_edit": message.num_edit}
            item = from_person(account, customer.id, "message_edit", value, now_ms())
        return {"mid": message.mid, "delivery": await sandbox.webhooks.emit(item)}

    @post("/message/unsend", status_code=200)
    async def unsend(self, sandbox: Sandbox, data: MessageRef) -> dict[str, Any]:
        # Documented for Instagram; Messenger is assumed to use the same shape (unconfirmed, §2).
        with sandbox.store.lock:
            message, account, customer = _inbound(sandbox.store, data.mid)
            message.deleted = True
            value = {"mid": message.mid, "is_deleted": True}
            item = from_person(account, customer.id, "message", value, now_ms())
        return {"mid": message.mid, "delivery": await sandbox.webhooks.emit(item)}

    @post("/echo", status_code=200)
    async def echo(self, sandbox: Sandbox, data: EchoSpec) -> dict[str, Any]:
        message, item = play_echo(sandbox.store, data)
        return {"mid": message.mid, "delivery": await sandbox.webhooks.emit(item)}

    @post("/referral", status_code=200)
    async def referral(self, sandbox: Sandbox, data: ReferralSpec) -> dict[str, Any]:
        item = play_referral(sandbox.store, data)
        return {"delivery": await sandbox.webhooks.emit(item)}

    @get("/phone")
    async def phone(self, sandbox: Sandbox, account_id: str, user_id: str) -> dict[str, Any]:
        """What the person's phone shows: the chat with the page, and the posts they commented on."""
        return phone_view(sandbox.store, account_id, user_id)

    @get("/uploads/{upload_id:str}")
    async def uploaded(self, sandbox: Sandbox, upload_id: str) -> Response[bytes]:
        """A file uploaded through `/message_attachments`, as Meta's CDN would serve it. Always a
        download that nothing renders or runs (the bytes were sent by whoever uploaded them)."""
        with sandbox.store.lock:
            upload = sandbox.store.uploads.get(upload_id)
            if upload is None or upload.data is None:
                raise not_found("uploaded file", upload_id)
            data, content_type = upload.data, upload.content_type or "application/octet-stream"
        headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                   "Content-Disposition": "attachment"}
        return Response(data, media_type=content_type, headers=headers)


async def _emit(sandbox: Sandbox, item: QueuedItem | None) -> dict[str, Any]:
    if item is None:
        return {"status": None, "held": False, "skipped": "Meta sends no webhook for this"}
    return await sandbox.webhooks.emit(item)


def _person(store: Store, account_id: str, user_id: str) -> tuple[Account, Customer]:
    account = store.accounts.get(account_id)
    if account is None:
        raise not_found("account", account_id)
    customer = store.customers.get(user_id)
    if customer is None or customer.account_id != account.id:
        raise not_found(f"user of account {account_id}", user_id)
    return account, customer


def _comment(store: Store, comment_id: str) -> Comment:
    comment = store.comments.get(comment_id)
    if comment is None:
        raise not_found("comment", comment_id)
    return comment


def _inbound(store: Store, mid: str) -> tuple[Message, Account, Customer]:
    message = store.messages.get(mid)
    if message is None or message.from_account:
        raise not_found("customer message", mid)
    return message, store.accounts[message.account_id], store.customers[message.customer_id]


def _when(timestamp_ms: int | None) -> int:
    """The time of a played fact: now, or the past moment a test asked for (to play windows)."""
    return timestamp_ms if timestamp_ms is not None else now_ms()


def _opened_window(customer: Customer, at: int) -> None:
    """A message, postback, quick reply or referral opens the 24 h window and gives profile
    consent (reactions and reads do neither)."""
    customer.last_inbound_ms = max(customer.last_inbound_ms or 0, at)
    customer.consented = True


def _keep(store: Store, account: Account, customer: Customer, at: int, **fields: Any) -> Message:
    conversation = store.conversation_for(account.id, customer.id)
    message = Message(
        mid=store.new_mid(),
        account_id=account.id,
        conversation_id=conversation.id,
        customer_id=customer.id,
        sender_id=fields.pop("sender_id", customer.id),
        recipient_id=fields.pop("recipient_id", account.id),
        created_ms=at,
        **fields,
    )
    return store.add_message(message)


def play_dm(store: Store, spec: DmSpec) -> tuple[Message, QueuedItem]:
    """A customer message: text, attachments, quick reply, reply, story reply."""
    with store.lock:
        account, customer = _person(store, spec.account_id, spec.user_id)
        instagram = account.platform == INSTAGRAM
        mentions = any(a.get("type") == "story_mention" for a in spec.attachments)
        if (spec.story_reply_url or mentions) and not instagram:
            raise bad_request("story replies and story mentions exist on Instagram only")
        text = spec.text
        if spec.quick_reply_payload is not None and text is None:
            text = _quick_reply_title(store, account, customer, spec.quick_reply_payload)
        if not (text or spec.attachments or spec.is_unsupported):
            raise bad_request("a message needs text, attachments or is_unsupported")
        at = _when(spec.timestamp_ms)
        attachments = inbound_attachments(spec.attachments)
        message = _keep(store, account, customer, at, text=text, attachments=attachments)
        message.quick_reply_payload = spec.quick_reply_payload
        value: dict[str, Any] = {"mid": message.mid}
        if text:
            value["text"] = text
        if attachments:
            value["attachments"] = attachments
        if spec.quick_reply_payload is not None:
            value["quick_reply"] = {"payload": spec.quick_reply_payload}
        reply_to = _reply_to(store, spec, customer)
        if reply_to:
            value["reply_to"] = reply_to
        if spec.is_unsupported:
            value["is_unsupported"] = True
        if spec.ref is not None or spec.ad_id is not None:
            value["referral"] = message_referral(spec.ref, spec.ad_id)
        _opened_window(customer, at)
        return message, from_person(account, customer.id, "message", value, at)


def message_referral(ref: str | None, ad_id: str | None) -> dict[str, Any]:
    """`message.referral` of a first message sent from a link or an ad (meta-platform.md §2):
    `ref`, `source`, `type`, and for an ad its `ad_id`."""
    referral: dict[str, Any] = {"source": "ADS" if ad_id else "SHORTLINK", "type": "OPEN_THREAD"}
    if ref is not None:
        referral["ref"] = ref
    if ad_id is not None:
        referral["ad_id"] = ad_id
    return referral


def _reply_to(store: Store, spec: DmSpec, customer: Customer) -> dict[str, Any] | None:
    if spec.story_reply_url:
        return {"story": {"id": store.new_id("media"), "url": spec.story_reply_url}}
    if spec.reply_to_mid:
        replied = store.messages.get(spec.reply_to_mid)
        if replied is None or replied.customer_id != customer.id:
            raise not_found("message in this conversation", spec.reply_to_mid)
        return {"mid": replied.mid, "is_self_reply": replied.sender_id == customer.id}
    return None


def _quick_reply_title(store: Store, account: Account, customer: Customer, payload: str) -> str:
    """The text of a quick-reply tap is the button's title, taken from what the app sent
    (Instagram truncates titles to 20 characters)."""
    for message in reversed(store.thread(account.id, customer.id)):
        for reply in ((message.body or {}).get("message") or {}).get("quick_replies") or []:
            if isinstance(reply, dict) and str(reply.get("payload")) == payload:
                title = str(reply.get("title", payload))
                return title[:20] if account.platform == INSTAGRAM else title
    return payload


def play_comment(store: Store, spec: CommentSpec) -> tuple[Comment, QueuedItem | None]:
    """A comment (or a reply) by a customer, or by the account itself (`as_account`)."""
    with store.lock:
        account = store.accounts.get(spec.account_id)
        if account is None:
            raise not_found("account", spec.account_id)
        post_record = store.posts.get(spec.post_id)
        if post_record is None or post_record.account_id != account.id:
            raise not_found(f"post of account {account.id}", spec.post_id)
        if spec.as_account == (spec.user_id is not None):
            raise bad_request("give exactly one of user_id or as_account: true")
        parent = comments.top_level(store, spec.parent_id)
        if spec.parent_id and (parent is None or parent.post_id != post_record.id):
            raise not_found("comment under this post", spec.parent_id)
        if spec.as_account:
            author_id, author_name = account.id, (account.username or account.name)
            if account.platform != INSTAGRAM:
                author_name = account.name
        else:
            _, customer = _person(store, account.id, str(spec.user_id))
            author_id = customer.id
            author_name = (
                (customer.username or customer.name) if account.platform == INSTAGRAM else customer.name
            )
        created = comments.create_comment(
            store,
            account,
            post_record,
            author_id=author_id,
            author_name=author_name,
            text=spec.text,
            parent=parent,
            created_time=spec.created_time if spec.created_time is not None else now_ms() // 1000,
            photo_url=spec.photo_url,
        )
        return created, comments.comment_item(store, created, "add")


def play_postback(store: Store, spec: PostbackSpec) -> tuple[Message, QueuedItem]:
    """A button tap: on a postback button of a message the app sent, or a bare payload (Get
    Started, ice breakers). Recorded in the thread with the button title as its text."""
    with store.lock:
        account, customer = _person(store, spec.account_id, spec.user_id)
        if spec.mid is not None:
            payload, title = _tapped_button(store, customer, spec.mid, spec.button_index, spec.card_index)
        elif spec.payload is not None:
            payload, title = spec.payload, spec.title or "Get Started"
        else:
            raise bad_request("give mid + button_index, or payload")
        at = _when(spec.timestamp_ms)
        message = _keep(store, account, customer, at, text=title)
        value: dict[str, Any] = {"mid": message.mid, "title": title, "payload": payload}
        if spec.ref is not None:
            value["referral"] = {"ref": spec.ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
        _opened_window(customer, at)
        return message, from_person(account, customer.id, "postback", value, at)


def _tapped_button(store: Store, customer: Customer, mid: str, index: int | None,
                   card: int | None = None) -> tuple[str, str]:
    sent = store.messages.get(mid)
    if sent is None or sent.customer_id != customer.id or not sent.from_account or sent.body is None:
        raise bad_request(f"no message {mid!r} sent by the app to this person")
    attachment = (sent.body.get("message") or {}).get("attachment") or {}
    payload = attachment.get("payload") or {}
    buttons = template_buttons(payload) if card is None else card_buttons(payload, mid, card)
    where = "" if card is None else f" in card {card}"
    if index is None or not 0 <= index < len(buttons):
        raise bad_request(f"message {mid!r} has no button {index}{where} (it has {len(buttons)})")
    button = buttons[index]
    if button.get("type") != "postback":
        raise bad_request(f"button {index} is a {button.get('type')} button: tapping it sends no postback")
    return str(button["payload"]), str(button["title"])


def card_buttons(payload: dict[str, Any], mid: str, card: int) -> list[dict[str, Any]]:
    """The buttons of one card of a generic template, as the person sees them under that card."""
    cards = [e for e in payload.get("elements") or [] if isinstance(e, dict)]
    if not 0 <= card < len(cards):
        raise bad_request(f"message {mid!r} has no card {card} (it has {len(cards)})")
    return [b for b in cards[card].get("buttons") or [] if isinstance(b, dict)]


def template_buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button of a template, in the order the person sees them: a button template's, then
    each card's of a generic template (`button_index` counts through them all)."""
    buttons = [b for b in payload.get("buttons") or [] if isinstance(b, dict)]
    for element in payload.get("elements") or []:
        if isinstance(element, dict):
            buttons.extend(b for b in element.get("buttons") or [] if isinstance(b, dict))
    return buttons


def play_read(store: Store, spec: PersonRef) -> QueuedItem:
    """The person read the thread: a watermark on Messenger, the last message on Instagram."""
    with store.lock:
        account, customer = _person(store, spec.account_id, spec.user_id)
        at = _when(spec.timestamp_ms)
        customer.read_watermark_ms = max(customer.read_watermark_ms, at)
        if account.platform != INSTAGRAM:
            return from_person(account, customer.id, "read", {"watermark": at}, at)
        last = _last_from_account(store, account, customer)
        if last is None:
            raise bad_request("Instagram reads name a message: the account has sent none to this person")
        return from_person(account, customer.id, "read", {"mid": last.mid}, at)


def play_delivery(store: Store, spec: PersonRef) -> QueuedItem:
    """Messenger delivery receipt for the account's messages up to now (Instagram has none)."""
    with store.lock:
        account, customer = _person(store, spec.account_id, spec.user_id)
        if account.platform == INSTAGRAM:
            raise bad_request("Instagram sends no delivery receipts")
        at = _when(spec.timestamp_ms)
        mids = [m.mid for m in store.thread(account.id, customer.id) if m.from_account and m.created_ms <= at]
        value: dict[str, Any] = {"mids": mids[-10:], "watermark": at}
        return from_person(account, customer.id, "delivery", value, None)


def _last_from_account(store: Store, account: Account, customer: Customer) -> Message | None:
    sent = [m for m in store.thread(account.id, customer.id) if m.from_account]
    return sent[-1] if sent else None


def play_reaction(store: Store, spec: ReactSpec) -> QueuedItem:
    """A reaction (or its removal) on a message of the thread; it opens no window."""
    with store.lock:
        account, customer = _person(store, spec.account_id, spec.user_id)
        message = store.messages.get(spec.mid)
        if message is None or message.customer_id != customer.id or message.account_id != account.id:
            raise not_found("message in this conversation", spec.mid)
        if spec.action not in ("react", "unreact"):
            raise bad_request("action must be react or unreact")
        value: dict[str, Any] = {"mid": spec.mid, "action": spec.action}
        if spec.action == "react":
            value["reaction"] = spec.reaction
            value["emoji"] = spec.emoji or REACTION_EMOJI.get(spec.reaction, "\U0001f642")
        return from_person(account, customer.id, "reaction", value, now_ms())


def play_echo(store: Store, spec: EchoSpec) -> tuple[Message, QueuedItem]:
    """The page answers from another tool (Meta Business Suite): an echo with another app_id.
    It opens no window and is not in `/control/sent` (our app did not send it)."""
    with store.lock:
        account, customer = _person(store, spec.account_id, spec.user_id)
        if not (spec.text or spec.attachments):
            raise bad_request("an echo needs text or attachments")
        message = _keep(
            store,
            account,
            customer,
            now_ms(),
            sender_id=account.id,
            recipient_id=customer.id,
            text=spec.text,
            attachments=inbound_attachments(spec.attachments),
            app_id=spec.app_id or BUSINESS_SUITE_APP_ID,
        )
        return message, echo_from_other_app(account, customer, message)


def play_referral(store: Store, spec: ReferralSpec) -> QueuedItem:
    """The person opened the thread from an m.me link or an ad (opens the window)."""
    with store.lock:
        account, customer = _person(store, spec.account_id, spec.user_id)
        at = _when(spec.timestamp_ms)
        value: dict[str, Any] = {"source": spec.source, "type": spec.type}
        if spec.ref is not None:
            value["ref"] = spec.ref
        if spec.ad_id is not None:
            value["ad_id"] = spec.ad_id
        _opened_window(customer, at)
        return from_person(account, customer.id, "referral", value, at)


# --- the person's phone (the dashboard's sandbox page draws it) ----------------------------------------


def phone_view(store: Store, account_id: str, user_id: str) -> dict[str, Any]:
    """The chat as the person sees it (oldest first; what the page sent with its buttons, cards,
    attachments and quick replies) and every comment thread they took part in."""
    with store.lock:
        account, customer = _person(store, account_id, user_id)
        chat = [_bubble(store, m) for m in store.thread(account.id, customer.id) if not m.deleted]
        mine = [c for c in store.comments.values() if c.author_id == customer.id and not c.removed]
        post_ids = list(dict.fromkeys(c.post_id for c in sorted(mine, key=lambda c: c.created_time)))
        threads = [_post_thread(store, store.posts[p]) for p in post_ids if p in store.posts]
        return {"platform": account.platform, "account_name": account.name, "customer_name": customer.name,
                "chat": chat, "posts": threads}


def _bubble(store: Store, message: Message) -> dict[str, Any]:
    """One message: who wrote it, its text, attachments, the template's cards and buttons, and the
    quick replies it offered; for a private reply, the comment it answers."""
    sent = ((message.body or {}).get("message") or {}) if message.from_account else {}
    bubble: dict[str, Any] = {"mid": message.mid, "from_page": message.from_account,
                              "time_ms": message.created_ms, "text": message.text, "media": [],
                              "template": None, "quick_replies": list(sent.get("quick_replies") or [])}
    for attachment in message.attachments:
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "template":
            bubble["template"] = payload
        else:
            bubble["media"].append({"type": attachment.get("type"), "url": payload.get("url"),
                                    "title": attachment.get("title")})
    if message.private_reply_to:
        comment = store.comments.get(message.private_reply_to)
        bubble["private_reply_to"] = {"id": message.private_reply_to, "text": comment.text if comment else None}
    return bubble


def _post_thread(store: Store, post: Post) -> dict[str, Any]:
    """A post with its visible comments, replies under their comment (as the app shows them)."""
    visible = [c for c in store.comments.values() if c.post_id == post.id and not c.removed and not c.hidden]
    visible.sort(key=lambda c: (c.created_time, c.id))
    rows = [{"id": c.id, "author": c.author_name, "by_page": c.by_account, "text": c.text,
             "time_s": c.created_time, "replies": []} for c in visible if c.parent_id is None]
    by_id = {row["id"]: row for row in rows}
    for c in visible:
        parent = by_id.get(c.parent_id or "")
        if parent is not None:
            parent["replies"].append({"id": c.id, "author": c.author_name, "by_page": c.by_account,
                                      "text": c.text, "time_s": c.created_time})
    return {"id": post.id, "message": post.message, "picture_url": post.picture_url, "comments": rows}
