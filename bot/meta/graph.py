"""The one Graph API client: HTTP in, our small Structs out, `GraphError` on every failure.

Workers are threads, so this is a synchronous `httpx.Client` with pooled connections shared
by all of them, and explicit timeouts (Dramatiq's time limit cannot interrupt a blocking
socket read). What goes on the wire and what comes back is `bot.meta.graph_shapes`; this
module only moves bytes and never decides whether to retry (the sender does, from
`GraphError.retryable`).

Tokens travel in the `Authorization: Bearer` header (documented for the Graph API, §5), so
they are not in URLs; the one that must be a query parameter (`debug_token`'s
`input_token`) is redacted from every exception message and from httpx's request log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import ssl
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, BinaryIO, Self

import httpx

from bot.core.events import MessageEcho, MessageReceived
from bot.core.profile import ProfileSpec
from bot.meta import graph_shapes as shapes
from bot.meta import profile_shapes
from bot.meta.breaker import Breaker
from bot.meta.graph_shapes import (
    CommentsPage,
    ConversationsPage,
    InstagramAccount,
    InstagramLoginAccount,
    MessageRef,
    PageAccount,
    Post,
    PostsPage,
    Profile,
    SendResult,
    TokenInfo,
)

__all__ = [
    "CommentsPage",
    "ConversationsPage",
    "GraphClient",
    "InstagramAccount",
    "InstagramLoginAccount",
    "MessageRef",
    "PageAccount",
    "Post",
    "PostsPage",
    "Profile",
    "SendResult",
    "TokenInfo",
]

MAX_PAGES_PAGES = 50  # /me/accounts pages followed at most (100 Pages each)
# A pooled connection idle this long is dropped before reuse. Servers close idle keep-alive
# connections after their own timeout (uvicorn 5 s, many proxies 5-60 s; Meta's is not
# documented): reusing one at that instant loses the request ("Server disconnected without
# sending a response"), so we give ours up well before the shortest common one.
KEEPALIVE_EXPIRY_S = 2.0
CONNECT_RETRIES = 2

# A failure after these means the request may have reached Meta; before them it cannot have.
_MAYBE_RECEIVED = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.DecodingError)
# The host was never reached (after httpx's connect retries): what opens the breaker.
_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)


class _RedactTokens(logging.Filter):
    """httpx logs every request URL at INFO; blank any token in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = shapes.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _RedactTokens) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_RedactTokens())


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process, shared by every client (the Graph hosts, each boot; outgoing
    webhook deliveries, one client each): building one loads the whole CA bundle, tens of
    milliseconds of CPU each time."""
    return httpx.create_ssl_context()


class GraphClient:
    """Calls `{base_url}/{version}/{path}`: https://graph.facebook.com for Facebook Login
    (Messenger and linked Instagram accounts), https://graph.instagram.com for Instagram Login
    (`runtime.graph("instagram")`), the sandbox in tests. The paths and bodies are the same on
    both hosts (§12); only the token kind differs.

    `app_secret`, when given, adds `appsecret_proof` to every call (needed when the app
    requires it). `last_usage` is the last usage percentage Meta reported (§8), on any call.
    """

    def __init__(
        self,
        base_url: str,
        version: str,
        *,
        timeout: float = 10.0,
        app_secret: str | None = None,
        max_connections: int = 50,
        on_answer: Callable[[str, str, float], None] | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self._root = f"{base_url.rstrip('/')}/{version.strip('/')}"
        self._breaker = breaker or Breaker(httpx.URL(base_url).host)
        self._app_secret = app_secret
        self._on_answer = on_answer  # (method, path, seconds) of every answered call: the metrics
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                              keepalive_expiry=KEEPALIVE_EXPIRY_S)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            # `retries` repeats only a failed connect (refused, reset or timed out while
            # connecting): the request provably never left, so even a send is safe to repeat.
            transport=httpx.HTTPTransport(verify=tls_context(), limits=limits, retries=CONNECT_RETRIES),
            follow_redirects=False,
        )
        self.last_usage: float = 0.0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ messaging (§5, §6)

    def send_message(self, account_id: str, token: str, body: dict[str, Any]) -> SendResult:
        """`POST /{account-id}/messages` with a `graph_shapes.send_body`. `account_id` is the
        Page id (Messenger, and Instagram linked to the Page) or the Instagram account id."""
        answer = self._call("POST", f"{account_id}/messages", token, json=body, creates=True)
        return shapes.read_send_result(answer)

    def reply_to_comment(
        self, platform: str, comment_id: str, token: str, text: str, attachment_url: str | None = None
    ) -> str:
        """A public reply under a comment; returns the new comment's id."""
        body = shapes.comment_reply_body(platform, text, attachment_url)
        path = shapes.comment_reply_path(platform, comment_id)
        return shapes.read_new_id(self._call("POST", path, token, json=body, creates=True), "comment reply")

    def hide_comment(self, platform: str, comment_id: str, token: str, hidden: bool) -> None:
        body = shapes.hide_body(platform, hidden)
        shapes.read_success(self._call("POST", comment_id, token, json=body), "hide comment")

    def like_comment(self, comment_id: str, token: str) -> None:
        """Facebook `POST /{comment-id}/likes` (§12; needs `pages_manage_engagement`): the page
        likes the comment. Liking twice is not an error on Meta's side (unconfirmed; assumed)."""
        shapes.read_success(self._call("POST", f"{comment_id}/likes", token), "like comment")

    def can_reply_privately(self, comment_id: str, token: str) -> bool:
        """§6 pre-check: Meta's own answer to "may this comment get a private reply?"."""
        answer = self._call("GET", comment_id, token, params={"fields": "can_reply_privately"})
        return shapes.read_can_reply(answer)

    def upload_attachment(
        self, page_id: str, token: str, type: str, url: str, *, platform: str = "facebook"
    ) -> str:
        """Meta fetches `url` once; the returned attachment id works for 90 days (§5)."""
        body = shapes.upload_body(type, url, platform)
        return shapes.read_attachment_id(
            self._call("POST", f"{page_id}/message_attachments", token, json=body)
        )

    # ------------------------------------------------------------------ Messenger profile (§12)

    def set_messenger_profile(self, page_id: str, platform: str, token: str, spec: ProfileSpec) -> None:
        """Set the properties `spec` has (`POST /{page-id}/messenger_profile`)."""
        body = profile_shapes.properties(spec)
        if body:
            answer = self._call("POST", f"{page_id}/messenger_profile", token,
                                params=profile_shapes.profile_params(platform), json=body)
            profile_shapes.read_result(answer)

    def delete_messenger_profile(self, page_id: str, platform: str, token: str, fields: list[str]) -> None:
        """Remove properties (`DELETE` with `{"fields": [...]}`)."""
        if fields:
            answer = self._call("DELETE", f"{page_id}/messenger_profile", token,
                                params=profile_shapes.profile_params(platform), json={"fields": fields})
            profile_shapes.read_result(answer)

    def get_messenger_profile(self, page_id: str, platform: str, token: str) -> ProfileSpec:
        """What Meta has now (`GET ...?fields=...`)."""
        fields = profile_shapes.PROPERTIES if platform != "instagram" else ("persistent_menu", "ice_breakers")
        params = {**profile_shapes.profile_params(platform), "fields": ",".join(fields)}
        return profile_shapes.read_profile(self._call("GET", f"{page_id}/messenger_profile", token, params=params))

    def upload_file(
        self, page_id: str, token: str, type: str, file: BinaryIO, *, filename: str, content_type: str,
        platform: str = "facebook",
    ) -> str:
        """Send the file's bytes to Meta's Attachment Upload API (multipart `filedata`), for a
        reusable attachment id (90 days, §5): Meta never has to reach our server for them."""
        form = shapes.upload_file_form(type, platform)
        files = {"filedata": (filename, file, content_type)}
        answer = self._call("POST", f"{page_id}/message_attachments", token, data=form, files=files)
        return shapes.read_attachment_id(answer)

    # ------------------------------------------------------------------ people (§9)

    def get_profile(self, platform: str, user_id: str, token: str) -> Profile:
        fields = shapes.PROFILE_FIELDS["instagram" if platform == "instagram" else "facebook"]
        return shapes.read_profile(self._call("GET", user_id, token, params={"fields": fields}))

    # ------------------------------------------------------------------ pages and posts (§10)

    def list_pages(self, user_token: str) -> list[PageAccount]:
        """Every Page the user manages, with page tokens (all result pages followed)."""
        pages: list[PageAccount] = []
        params: dict[str, Any] = {"fields": shapes.ACCOUNT_FIELDS, "limit": 100}
        for _ in range(MAX_PAGES_PAGES):
            batch, after = shapes.read_pages(self._call("GET", "me/accounts", user_token, params=params))
            pages.extend(batch)
            if after is None:
                break
            params["after"] = after
        return pages

    def list_posts(
        self, account_id: str, platform: str, token: str, after: str | None = None, limit: int = 25
    ) -> PostsPage:
        """Recent posts (Facebook `published_posts`) or media (Instagram) for a picker."""
        if platform == "instagram":
            path, fields = f"{account_id}/media", shapes.INSTAGRAM_MEDIA_FIELDS
        else:
            path, fields = f"{account_id}/published_posts", shapes.POST_FIELDS
        params = _page_params({"fields": fields}, after, limit)
        return shapes.read_posts(self._call("GET", path, token, params=params))

    def token_owner(self, token: str) -> str:
        """The id of the Page a page token belongs to: `GET /me` answers the Page itself for a page
        token (§10). (`GET /{page-id}` would not tell: any token may read a public Page.)"""
        return shapes.read_node_id(self._call("GET", "me", token, params={"fields": "id"}))

    def instagram_login_account(self, token: str) -> InstagramLoginAccount:
        """Instagram Login (§12, on graph.instagram.com): the account an Instagram User token
        belongs to, so connecting checks the token against the account before storing it."""
        answer = self._call("GET", "me", token, params={"fields": shapes.INSTAGRAM_LOGIN_FIELDS})
        return shapes.read_instagram_login_account(answer)

    def refresh_instagram_token(self, token: str) -> shapes.RefreshedToken:
        """Instagram Login (§12): exchange a valid long-lived Instagram User token, at least 24
        hours old, for a fresh one (60 days). The token travels as the Bearer header like every
        call; Meta's page shows it as the `access_token` query parameter (both are accepted by
        the Graph hosts; for this edge on graph.instagram.com the header is unconfirmed)."""
        answer = self._call("GET", "refresh_access_token", token, params={"grant_type": "ig_refresh_token"})
        return shapes.read_refreshed_token(answer)

    def subscribe_app(self, page_id: str, token: str, fields: Iterable[str]) -> None:
        """(Re)subscribe our app to the Page's webhooks: Meta drops it after an hour of failed
        deliveries (§1)."""
        body = {"subscribed_fields": ",".join(fields)}
        shapes.read_success(self._call("POST", f"{page_id}/subscribed_apps", token, json=body), "subscribe")

    def subscribed_fields(self, page_id: str, token: str, *, app_id: str | None = None) -> list[str] | None:
        """The channel health check (§10): our subscribed fields, None if not subscribed."""
        answer = self._call("GET", f"{page_id}/subscribed_apps", token)
        return shapes.read_subscribed_fields(answer, app_id)

    def debug_token(self, input_token: str, app_token: str) -> TokenInfo:
        answer = self._call("GET", "debug_token", app_token, params={"input_token": input_token})
        return shapes.read_token_info(answer)

    # ------------------------------------------------------------------ backfill (§10)

    def list_conversations(
        self, account_id: str, platform: str, token: str, after: str | None = None, limit: int = 25,
        *, user_id: str | None = None,
    ) -> ConversationsPage:
        """Conversations newest first (no time filter: page until older than what we have);
        `user_id` (PSID/IGSID) narrows it to the one thread with that person (§10)."""
        base: dict[str, Any] = {"platform": shapes.conversations_platform(platform),
                                "fields": shapes.CONVERSATION_FIELDS}
        if user_id is not None:
            base["user_id"] = user_id
        params = _page_params(base, after, limit)
        return shapes.read_conversations(
            self._call("GET", f"{account_id}/conversations", token, params=params)
        )

    def conversation_message_ids(self, conversation_id: str, token: str) -> list[MessageRef]:
        params = {"fields": shapes.CONVERSATION_MESSAGE_FIELDS}
        return shapes.read_conversation_messages(self._call("GET", conversation_id, token, params=params))

    def get_message(
        self, platform: str, account_id: str, message_id: str, token: str
    ) -> MessageReceived | MessageEcho:
        """One message as the event its webhook would have carried (same `mid`)."""
        answer = self._call("GET", message_id, token, params={"fields": shapes.MESSAGE_FIELDS})
        return shapes.read_message(answer, platform, account_id)

    def get_post_comments(
        self,
        platform: str,
        account_id: str,
        post_id: str,
        token: str,
        after: str | None = None,
        limit: int = 50,
    ) -> CommentsPage:
        """Recent comments of a post as CommentAdded events. Facebook: every comment, newest
        first (`filter=stream`); Instagram: top-level comments of the media."""
        fields = shapes.COMMENT_FIELDS["instagram" if platform == "instagram" else "facebook"]
        params: dict[str, Any] = {"fields": fields}
        if platform != "instagram":
            params.update({"filter": "stream", "order": "reverse_chronological"})
        answer = self._call("GET", f"{post_id}/comments", token, params=_page_params(params, after, limit))
        return shapes.read_comments(answer, platform, account_id, post_id)

    def comment_replies(
        self, platform: str, account_id: str, comment_id: str, token: str, limit: int = 50
    ) -> CommentsPage:
        """Replies under one comment, newest first on Facebook (`/{comment-id}/comments`;
        Instagram `/{ig-comment-id}/replies`, §6): whether a public reply went through."""
        instagram = platform == "instagram"
        params: dict[str, Any] = {"fields": shapes.COMMENT_FIELDS["instagram" if instagram else "facebook"]}
        if not instagram:
            params.update({"filter": "stream", "order": "reverse_chronological"})
        path = f"{comment_id}/{'replies' if instagram else 'comments'}"
        answer = self._call("GET", path, token, params=_page_params(params, None, limit))
        return shapes.read_comments(answer, platform, account_id, comment_id)

    # ------------------------------------------------------------------ transport

    def _call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        creates: bool = False,
        data: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
    ) -> bytes:
        """One Graph call: the body of a 2xx answer, or GraphError.

        `creates` marks calls that are not idempotent (a send, a comment): when the answer is
        lost after Meta may have received the request, the error is "ambiguous", not retried.
        """
        query = dict(params or {})
        if self._app_secret:
            query["appsecret_proof"] = appsecret_proof(self._app_secret, token)
        wait = self._breaker.allow()
        if wait is not None:  # the host refuses connections: nothing is tried, nothing sent
            raise shapes.graph_error(None, None, None, "the Graph API did not accept connections lately; not tried",
                                     wait_s=wait)
        try:
            response = self._http.request(
                method,
                f"{self._root}/{path.lstrip('/')}",
                params=query or None,
                json=json,
                data=data,
                files=files,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.RequestError as exc:
            if isinstance(exc, _NOT_CONNECTED):
                self._breaker.not_connected()
            else:  # the host took the connection: reachable
                self._breaker.connected()
            maybe = creates and isinstance(exc, _MAYBE_RECEIVED)
            description = f"{type(exc).__name__}: {exc}"
            raise shapes.graph_error(None, None, None, description, maybe_delivered=maybe) from None
        except BaseException:
            self._breaker.undecided()  # not the network's doing (e.g. a body that cannot be encoded)
            raise
        self._breaker.connected()
        if self._on_answer is not None:
            self._on_answer(method, path, response.elapsed.total_seconds())
        self._note_usage(response.headers)
        if not response.is_success:
            raise shapes.graph_error(response.status_code, response.content, response.headers)
        return response.content

    def _note_usage(self, headers: httpx.Headers) -> None:
        if any(name in headers for name in ("x-app-usage", "x-page-usage", "x-business-use-case-usage")):
            self.last_usage = shapes.usage_percent(headers)


def appsecret_proof(app_secret: str, token: str) -> str:
    """HMAC-SHA256 of the token keyed with the app secret, as Meta's "Require App Secret" wants."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def _page_params(params: dict[str, Any], after: str | None, limit: int) -> dict[str, Any]:
    paged = dict(params, limit=limit)
    if after is not None:
        paged["after"] = after
    return paged
