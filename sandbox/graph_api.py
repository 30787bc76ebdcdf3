"""The Graph API routes: `/graph/{version}/{node}[/{edge}]` (graph.facebook.com) and
`/instagram/{version}/...` (graph.instagram.com, Instagram Login) for GET, POST and DELETE.

One place does what Meta does around every call, in Meta's order: latency, token check (190,
or 200 for another page's token), node lookup (100/33), the per-account one-second rate window
(80001 with `X-Business-Use-Case-Usage`), injected faults (613/80001, 500 code 2, or the
ambiguous 1/1357046 after the send went through), then the handler. Write calls are logged as
attempts; webhooks the call caused go out after the answer. With `drop_rate` a share of calls
lose their TCP connection with no answer, before the call is handled or after it took effect.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response, route
from litestar.background_tasks import BackgroundTask
from litestar.enums import HttpMethod

from sandbox import (
    accounts_api,
    comments,
    graph_read,
    graph_rules,
    instagram_host,
    moderation_api,
    profile_api,
    send_api,
    uploads,
)
from sandbox.graph_call import GraphCall
from sandbox.graph_rules import GraphFault
from sandbox.records import INSTAGRAM, Account, Attempt, Token
from sandbox.runtime import Sandbox
from sandbox.store import Store, now_ms

Handler = Callable[[GraphCall], dict[str, Any]]

NOMINAL_CALLS_PER_SECOND = {"facebook": 300, "instagram": 100}
_JSON_PARAMS = ("recipient", "message", "payload", "subscribed_fields", "fields", "get_started", "greeting",
                "persistent_menu", "ice_breakers")
_SENDING_EDGES = ("messages", "comments", "replies")
# Tokens that act for accounts: a page token (the page and its linked Instagram account) and an
# Instagram User token (Instagram Login: the one account, on the Instagram host).
ACTING_TOKENS = ("page", instagram_host.TOKEN_KIND)

ROUTES: dict[tuple[str, str | None, str], Handler] = {
    ("page", "messages", "POST"): send_api.send_message,
    ("instagram", "messages", "POST"): send_api.send_message,
    ("page", "message_attachments", "POST"): send_api.upload_attachment,
    ("instagram", "message_attachments", "POST"): send_api.upload_attachment,
    ("page", "published_posts", "GET"): graph_read.list_posts,
    ("page", "posts", "GET"): graph_read.list_posts,
    ("page", "feed", "GET"): graph_read.list_posts,
    ("instagram", "media", "GET"): graph_read.list_posts,
    ("post", "comments", "GET"): graph_read.list_comments,
    ("media", "comments", "GET"): graph_read.list_comments,
    ("fb_comment", "comments", "GET"): graph_read.list_comments,
    ("ig_comment", "replies", "GET"): graph_read.list_comments,
    ("post", "comments", "POST"): comments.reply_publicly,
    ("media", "comments", "POST"): comments.reply_publicly,
    ("fb_comment", "comments", "POST"): comments.reply_publicly,
    ("ig_comment", "replies", "POST"): comments.reply_publicly,
    ("fb_comment", None, "POST"): comments.update_comment,
    ("ig_comment", None, "POST"): comments.update_comment,
    ("fb_comment", None, "DELETE"): comments.delete_comment,
    ("ig_comment", None, "DELETE"): comments.delete_comment,
    ("fb_comment", "likes", "POST"): moderation_api.like_comment,
    ("fb_comment", "likes", "DELETE"): moderation_api.unlike_comment,
    ("page", "messenger_profile", "GET"): profile_api.read_profile,
    ("page", "messenger_profile", "POST"): profile_api.set_profile,
    ("page", "messenger_profile", "DELETE"): profile_api.delete_profile,
    ("instagram", "messenger_profile", "GET"): profile_api.read_profile,
    ("instagram", "messenger_profile", "POST"): profile_api.set_profile,
    ("instagram", "messenger_profile", "DELETE"): profile_api.delete_profile,
    ("page", "conversations", "GET"): graph_read.list_conversations,
    ("instagram", "conversations", "GET"): graph_read.list_conversations,
    ("conversation", "messages", "GET"): graph_read.list_messages,
    ("page", "subscribed_apps", "GET"): accounts_api.read_subscription,
    ("instagram", "subscribed_apps", "GET"): accounts_api.read_subscription,
    ("page", "subscribed_apps", "POST"): accounts_api.subscribe,
    ("instagram", "subscribed_apps", "POST"): accounts_api.subscribe,
    ("page", "subscribed_apps", "DELETE"): accounts_api.unsubscribe,
    ("instagram", "subscribed_apps", "DELETE"): accounts_api.unsubscribe,
}


@route(
    "/graph/{version:str}/{rest:path}",
    http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE],
    include_in_schema=False,
    request_max_body_size=uploads.MAX_BODY,  # file uploads: just past 25 MB still arrives to be refused
)
async def graph(request: Request, sandbox: Sandbox, version: str, rest: str) -> Response:
    """Every Graph API call socialdesk makes ends here."""
    return await answer(sandbox, request, version, rest)


@route(
    "/instagram/{version:str}/{rest:path}",
    http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE],
    include_in_schema=False,
)
async def instagram_graph(request: Request, sandbox: Sandbox, version: str, rest: str) -> Response:
    """Every call to the Instagram host (Instagram Login, `sandbox/instagram_host.py`) ends here."""
    return await answer(sandbox, request, version, rest, host=instagram_host.INSTAGRAM_HOST)


async def answer(sandbox: Sandbox, request: Request, version: str, rest: str, *,
                 host: str = instagram_host.FACEBOOK_HOST) -> Response:
    store = sandbox.store
    latency = store.config.latency_ms
    if latency > 0:
        await asyncio.sleep(latency / 1000)
    call = _new_call(store, request, f"/{version}/{rest.strip('/')}")
    call.host = host
    drop = roll_drop(store)
    if drop == "before":  # lost on the way in: Meta never saw the call
        return await _drop(request, store, call, drop)
    headers = {"X-Business-Use-Case-Usage": "{}"}
    injected, generation = False, store.generation
    try:
        token_value = _read_params(call, request, await request.body())
        with store.lock:
            generation = store.generation
            handler = resolve(call, token_value, [part for part in rest.split("/") if part])
            bucket = call.account
            if bucket is not None:
                headers["X-Business-Use-Case-Usage"] = throttle(store, bucket)
            fault = roll_fault(store, call) if _is_send(call) else None
            injected = fault is not None
            if fault is not None and fault.code != 1:
                raise fault
            payload = handler(call)
            if fault is not None:
                raise fault
        status = 200
    except GraphFault as fault:
        status = fault.status
        payload = graph_rules.envelope(fault, instagram=call.instagram)
        headers.update(fault.headers)
    if call.method != "GET":
        _record_attempt(store, call, status, payload, injected, drop)
    background = None
    if call.webhooks:
        background = BackgroundTask(sandbox.webhooks.emit_all, call.webhooks, generation)
    if drop == "after":  # the call took effect (webhooks still go out), the answer is lost
        if background is not None:
            _pending.add(task := asyncio.create_task(background()))
            task.add_done_callback(_pending.discard)
        return await _drop(request, store, call, drop)
    return Response(content=payload, status_code=status, headers=headers, background=background)


def _new_call(store: Store, request: Request, path: str) -> GraphCall:
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    host = request.headers.get("host", "127.0.0.1")
    base_url = f"{request.scope.get('scheme', 'http')}://{host}{raw_path.decode('latin-1').split('?')[0]}"
    query = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return GraphCall(store=store, method=request.method, path=path, params={}, query=query, base_url=base_url)


def _read_params(call: GraphCall, request: Request, body: bytes) -> str | None:
    """Merge query string and body (JSON or form) like the Graph API does, decode nested JSON
    sent as form strings, and take the token out of the parameters (or the Bearer header)."""
    params: dict[str, Any] = dict(call.query)
    content_type = request.headers.get("content-type", "")
    if body.strip():
        if "multipart" in content_type:
            params.update(uploads.read_form(body, content_type))
        elif "form" in content_type:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        else:
            try:
                decoded = json.loads(body)
            except ValueError as exc:
                raise graph_rules.invalid_param("the request body is not valid JSON") from exc
            if not isinstance(decoded, dict):
                raise graph_rules.invalid_param("the request body must be a JSON object")
            params.update(decoded)
    for key in _JSON_PARAMS:
        value = params.get(key)
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                params[key] = json.loads(value)
            except ValueError as exc:
                raise graph_rules.invalid_param(f"param {key} is not valid JSON") from exc
    token = params.pop("access_token", None)
    call.params = params
    if token:
        return str(token)
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):
        return None
    return value.strip() or None


def authenticate(store: Store, value: str | None) -> Token:
    if not value:
        raise graph_rules.missing_token()
    token = store.tokens.get(value)
    if token is None:
        # An app token is `{app-id}|{app-secret}`; the secret is what proves it here.
        if value.partition("|")[2] == store.config.app_secret:
            return Token(value=value, kind="app", scopes=[])
        raise graph_rules.invalid_token()
    if token.revoked_subcode is not None:
        raise graph_rules.revoked_token(token.revoked_subcode, store.config.app_id)
    return token


def _check_proof(store: Store, token: Token, proof: Any) -> None:
    """`appsecret_proof` (HMAC-SHA256 of the token keyed with the app secret) is optional, but
    a wrong one is refused, as Meta does."""
    if proof is None:
        return
    expected = hmac.new(store.config.app_secret.encode(), token.value.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(str(proof), expected):
        raise GraphFault(
            100, "Invalid appsecret_proof provided in the API argument", error_type="GraphMethodException"
        )


def resolve(call: GraphCall, token_value: str | None, segments: list[str]) -> Handler:
    """Check the token, find the node and its account, and pick the handler."""
    store = call.store
    token = authenticate(store, token_value)
    call.token = token
    instagram_host.check_host(call.host, token)
    _check_proof(store, token, call.params.pop("appsecret_proof", None))
    if not segments:
        raise graph_rules.invalid_param("Unsupported request: no node given")
    if len(segments) > 2:
        raise GraphFault(2500, "Unknown path components: /" + "/".join(segments[2:]))
    node_id, edge = segments[0], (segments[1] if len(segments) > 1 else None)
    call.node_id, call.edge = node_id, edge
    if node_id == "debug_token" and edge is None and call.method == "GET" and call.host == instagram_host.FACEBOOK_HOST:
        return accounts_api.debug_token  # the Instagram host documents none (unconfirmed): a missing node there
    if token.kind == "app":
        raise graph_rules.permission("This call requires a Page or User access token")
    if node_id == "refresh_access_token" and call.host == instagram_host.INSTAGRAM_HOST and call.method == "GET":
        return instagram_host.refresh_token
    if node_id == "me":
        user_handler = _user_route(token, edge, call.method)
        if user_handler is not None:
            return user_handler
        node_id = str(token.page_id)
    found = store.node(node_id)
    if token.kind not in ACTING_TOKENS and not _user_may_read(found, edge, call.method):
        raise graph_rules.permission("This call requires a Page access token")
    if found is None:
        raise graph_rules.does_not_exist(node_id, call.method)
    kind, record = found
    account = store.accounts[str(store.owner_of(kind, record))]
    if token.kind in ACTING_TOKENS and account not in store.accounts_of_page(str(token.page_id)):
        raise graph_rules.permission(
            f"The access token does not have permission to act on behalf of {account.id}"
        )
    call.kind, call.record, call.account = node_kind(store, kind, record), record, account
    return _handler(call)


def _user_route(token: Token, edge: str | None, method: str) -> Handler | None:
    if token.kind == instagram_host.TOKEN_KIND:  # `/me` is the account; `/me/{edge}` its edges
        return instagram_host.me if method == "GET" and edge is None else None
    if method == "GET" and edge is None:
        return accounts_api.me
    if token.kind == "user":
        if edge == "accounts" and method == "GET":
            return accounts_api.my_accounts
        if method == "GET":
            raise graph_rules.nonexisting_field(str(edge), "User")
        raise graph_rules.permission("This call requires a Page access token")
    if edge == "accounts":
        raise graph_rules.nonexisting_field("accounts", "Page")
    return None


def _user_may_read(found: tuple[str, Any] | None, edge: str | None, method: str) -> bool:
    """The user who manages the pages may read a page or Instagram account node (e.g.
    `GET /{page-id}?fields=access_token,instagram_business_account`); everything else needs
    the page token."""
    return method == "GET" and edge is None and (found is None or found[0] == "account")


def node_kind(store: Store, kind: str, record: Any) -> str:
    """The finer node type used for routing (a post is a Facebook post or Instagram media...)."""
    if kind == "account":
        return "instagram" if record.platform == INSTAGRAM else "page"
    if kind == "customer":
        return "igsid" if record.platform == INSTAGRAM else "psid"
    instagram = kind in ("post", "comment") and store.accounts[record.account_id].platform == INSTAGRAM
    if kind == "post":
        return "media" if instagram else "post"
    if kind == "comment":
        return "ig_comment" if instagram else "fb_comment"
    return kind


def _handler(call: GraphCall) -> Handler:
    assert call.kind is not None
    if call.edge is None and call.method == "GET":
        return graph_read.read_node
    handler = ROUTES.get((call.kind, call.edge, call.method))
    if handler is not None:
        return handler
    if call.edge is not None and call.method == "GET":
        raise graph_rules.nonexisting_field(call.edge, graph_read.NODE_TYPES[call.kind])
    raise graph_rules.does_not_exist(str(call.node_id), call.method)


def _is_send(call: GraphCall) -> bool:
    return call.method == "POST" and call.edge in _SENDING_EDGES


def throttle(store: Store, account: Account) -> str:
    """Count the call in the account's one-second window; refuse past the configured limit.
    Answers the `X-Business-Use-Case-Usage` header value."""
    limit = store.config.rate_limit_per_second
    allowed, calls = store.count_call(account.id, limit)
    header = usage_header(account, calls, limit, throttled=not allowed)
    if not allowed:
        raise graph_rules.page_rate_limited(account.platform == INSTAGRAM, header)
    return header


def usage_header(account: Account, calls: int, limit: int | None, *, throttled: bool) -> str:
    """Business Use Case usage: percentages of the window's budget, climbing toward 100.
    `estimated_time_to_regain_access` is in minutes; a one-second window frees up in under a
    minute, so it reads 0."""
    budget = limit or NOMINAL_CALLS_PER_SECOND[account.platform]
    percent = 100 if throttled else min(100, calls * 100 // budget)
    entry = {
        "type": "instagram" if account.platform == INSTAGRAM else "pages",
        "call_count": percent,
        "total_cputime": percent * 2 // 3,
        "total_time": percent * 3 // 4,
        "estimated_time_to_regain_access": 0,
    }
    return json.dumps({account.id: [entry]}, separators=(",", ":"))


_pending: set[asyncio.Task[Any]] = set()  # webhooks of dropped calls, kept alive until sent


def roll_drop(store: Store) -> str | None:
    """Seeded dice for `drop_rate`: None, or (one of `drop_kinds`) whether the connection is lost
    "before" the call is handled or "after" it took effect (both look the same to the client)."""
    rate = store.config.drop_rate
    if rate <= 0:
        return None
    with store.lock:
        if store.rng.random() >= rate:
            return None
        return store.rng.choice(store.config.drop_kinds)


async def _drop(request: Request, store: Store, call: GraphCall, when: str) -> Response:
    """Close the client's TCP connection without a byte of answer, as a network (or a server
    closing an idle keep-alive connection as it is reused) does. The transport is uvicorn's,
    reached through its `receive` callable; the answer returned afterwards goes nowhere."""
    transport = getattr(getattr(request.receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("drop_rate needs the sandbox served by uvicorn (no transport to close)")
    # The whole request first: closing with its body still unread (a client that writes head and
    # body apart) makes the kernel answer a reset instead of this clean close.
    await request.body()
    transport.close()
    if when == "before" and call.method != "GET":
        store.record_attempt(Attempt(seq=store.next_seq(), method=call.method, path=call.path,
                                     account_id=None, body={}, status=0, response={}, time_ms=now_ms(),
                                     dropped=when, host=call.host))
    await asyncio.sleep(0)  # let uvicorn see the connection lost before the answer is sent
    return Response(content=b"", status_code=500)


def roll_fault(store: Store, call: GraphCall) -> GraphFault | None:
    """Seeded dice for fault tests: with probability `error_rate`, one of `error_kinds`."""
    config = store.config
    if config.error_rate <= 0 or not config.error_kinds or store.rng.random() >= config.error_rate:
        return None
    kind = store.rng.choice(config.error_kinds)
    if kind == "server":
        return graph_rules.temporary()
    if kind == "ambiguous":
        return graph_rules.ambiguous_reply()
    if store.rng.random() < 0.5:
        return graph_rules.custom_rate_limited()
    account = call.account
    assert account is not None
    header = usage_header(account, 0, None, throttled=True)
    return graph_rules.page_rate_limited(account.platform == INSTAGRAM, header)


def _record_attempt(
    store: Store, call: GraphCall, status: int, payload: dict[str, Any], injected: bool,
    dropped: str | None = None,
) -> None:
    store.record_attempt(
        Attempt(
            seq=store.next_seq(),
            method=call.method,
            path=call.path,
            account_id=call.account.id if call.account else None,
            body={key: uploads.described(value) for key, value in call.params.items()},
            status=status,
            response=payload,
            time_ms=now_ms(),
            injected=injected,
            dropped=dropped,
            host=call.host,
        )
    )
