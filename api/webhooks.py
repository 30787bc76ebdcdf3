"""Meta's webhook endpoint: the handshake (GET) and deliveries (POST).

POST order matters: a well-formed X-Hub-Signature-256 header (403 before reading the body) ->
the body streamed in under a deadline (408), a per-process byte budget (503) and the size limit
(413), its HMAC updated per chunk (403, nothing stored) -> JSON well-formed (400; absurd nesting
too) -> commit the raw delivery -> 200, then enqueue. The 200 goes out only after the commit,
so an answered delivery is never lost. `api/intake.py` holds the bounded read.

The POST is the one path taken thousands of times a second, so it is served as raw ASGI, in
front of Litestar (`serve`, called by `api.app`): Litestar's request, dependency, response and
exception layers cost more than the work itself. Its refusals keep the shape Litestar gives
(`{"status_code": ..., "detail": ...}`); the GET handshake stays a Litestar handler.

The handler is async and cheap (HMAC + decode, a few µs); the commit happens in the process's
`DeliveryWriter` thread, which groups concurrent deliveries into one transaction and one enqueue,
so the event loop never blocks on the database and slow clients only hold a coroutine.
"""

from __future__ import annotations

import logging
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import InternalServerException, PermissionDeniedException
from litestar.params import Parameter
from litestar.types import HTTPScope, Receive, Send

from api import intake
from bot import jobs
from bot.inbound import ingest
from bot.meta.signature import answer_challenge
from bot.platform import metrics, runtime
from bot.platform.settings import Settings

log = logging.getLogger(__name__)

PATH = "/webhooks/meta"
_PATHS = frozenset({PATH, f"{PATH}/"})
MAX_BODY = 16 * 1024 * 1024  # Meta batches up to 1000 updates per POST (meta-platform.md §1)
# Checks the body is one well-formed JSON object without building it (the parse that builds it
# runs once, in the worker): a quarter of the CPU of a full decode on a 100-entry batch.
_json_object = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RECEIVED = b"EVENT_RECEIVED"
_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"
# Anything but a refusal (the commit failed, a bug) is Litestar's 500, detail hidden; the writer
# logs commit failures.
_FAILED = intake.Refusal(500, "Internal Server Error")


def _enqueue(delivery_ids: list[int]) -> None:
    """One queue message per committed batch: the job expands every unprocessed delivery, oldest
    first, so the newest id stands for the batch."""
    jobs.process_delivery.send(delivery_ids[-1])


# Conversations whose deliveries were expanded at commit are drained as the expander hands them out.
_writer = ingest.DeliveryWriter(_enqueue, drain=jobs.hand_out)


class MetaWebhook(Controller):
    path = PATH

    @get(sync_to_thread=False, media_type="text/plain")
    def handshake(
        self,
        mode: Annotated[str | None, Parameter(query="hub.mode", required=False)] = None,
        token: Annotated[str | None, Parameter(query="hub.verify_token", required=False)] = None,
        challenge: Annotated[str | None, Parameter(query="hub.challenge", required=False)] = None,
    ) -> str:
        answer = answer_challenge(mode, token, challenge, runtime.settings().meta_verify_token)
        if answer is None:
            raise PermissionDeniedException("verification token mismatch")
        return answer

    @post(status_code=200, media_type="text/plain", sync_to_thread=False)
    def receive(self) -> str:
        """Declared for the OpenAPI schema only: every POST to this path is served by `serve`,
        in front of Litestar (`api.app`), so this handler is never called."""
        raise InternalServerException("the webhook POST is served by api.webhooks.serve")


def is_delivery(scope: HTTPScope) -> bool:
    """A POST to this endpoint, with or without the trailing slash Litestar's router ignores."""
    return scope["method"] == "POST" and scope["path"] in _PATHS


async def serve(scope: HTTPScope, receive: Receive, send: Send) -> None:
    """Answer one delivery: 200 once it is committed, else the refusal; each answer is counted."""
    try:
        await _accept(scope, receive)
    except intake.Refusal as refusal:
        await _refuse(send, refusal)
    except Exception:  # the commit failed, or a bug: Meta delivers again
        log.exception("a webhook delivery was answered 500")
        await _refuse(send, _FAILED)
    else:
        await _answer(send, 200, _TEXT, _RECEIVED)


async def _accept(scope: HTTPScope, receive: Receive) -> None:
    """Check, read and commit one delivery; raises `intake.Refusal` for what the sender did wrong."""
    digest = intake.required_digest(scope)  # before the body: no signature, no reading
    settings = runtime.settings()
    async with intake.signed_body(scope, receive, secret=settings.meta_app_secret, digest=digest,
                                  budget=_budget_for(settings), max_body=MAX_BODY,
                                  read_seconds=settings.webhook_read_seconds) as body:
        _check_json_object(body)
        await _writer.submit_async(body)  # the bytes count against the budget until committed


def _check_json_object(body: bytes) -> None:
    try:
        body.decode("utf-8")  # JSON is UTF-8 (RFC 8259); skipped strings are not checked below
        _json_object.decode(body)
    except msgspec.ValidationError:
        raise intake.Refusal(400, "body must be a JSON object") from None
    except ValueError:  # msgspec.DecodeError, UnicodeDecodeError
        raise intake.Refusal(400, "body is not valid JSON") from None
    except RecursionError:  # Meta nests a handful of levels; msgspec stops at Python's recursion limit
        raise intake.Refusal(400, "body is JSON nested too deeply") from None


async def _refuse(send: Send, refusal: intake.Refusal) -> None:
    """The refusal in the JSON shape Litestar gives its HTTP exceptions."""
    body = msgspec.json.encode({"status_code": refusal.status, "detail": refusal.detail})
    await _answer(send, refusal.status, _JSON, body, refusal.headers)


async def _answer(send: Send, status: int, content_type: bytes, body: bytes, headers: intake.Headers = ()) -> None:
    """Count the answer (received or refused, by status), then send it whole."""
    metrics.delivery(status)
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


_budget = intake.BodyBudget(0)  # one per server process; its limit follows the settings


def _budget_for(settings: Settings) -> intake.BodyBudget:
    _budget.limit = settings.webhook_inflight_mib * 1024 * 1024
    return _budget
