"""Meta's webhook endpoint: the handshake (GET) and deliveries (POST).

POST order matters: a well-formed X-Hub-Signature-256 header (403 before reading the body) ->
the body streamed in under a deadline (408), a per-process byte budget (503) and the size limit
(413), its HMAC updated per chunk (403, nothing stored) -> JSON well-formed (400; absurd nesting
too) -> commit the raw delivery -> 200, then enqueue. The 200 goes out only after the commit,
so an answered delivery is never lost. `api/intake.py` holds the bounded read.

The handler is async and cheap (HMAC + decode, a few µs); the commit happens in the process's
`DeliveryWriter` thread, which groups concurrent deliveries into one transaction and one enqueue,
so the event loop never blocks on the database and slow clients only hold a coroutine.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.params import Parameter

from api import intake
from bot import jobs
from bot.inbound import ingest
from bot.meta.signature import answer_challenge
from bot.platform import runtime
from bot.platform.settings import Settings

MAX_BODY = 16 * 1024 * 1024  # Meta batches up to 1000 updates per POST (meta-platform.md §1)
# Checks the body is one well-formed JSON object without building it (the parse that builds it
# runs once, in the worker): a quarter of the CPU of a full decode on a 100-entry batch.
_json_object = msgspec.json.Decoder(dict[str, msgspec.Raw])


def _enqueue(delivery_ids: list[int]) -> None:
    """One queue message per committed batch: the job expands every unprocessed delivery, oldest
    first, so the newest id stands for the batch."""
    jobs.process_delivery.send(delivery_ids[-1])


# Conversations whose deliveries were expanded at commit are drained as the expander hands them out.
_writer = ingest.DeliveryWriter(_enqueue, drain=jobs.hand_out)


class MetaWebhook(Controller):
    path = "/webhooks/meta"

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

    @post(request_max_body_size=MAX_BODY, status_code=200)
    async def receive(self, request: Request) -> Response[str]:
        digest = intake.required_digest(request)  # before the body: no signature, no reading
        settings = runtime.settings()
        async with intake.signed_body(request, secret=settings.meta_app_secret, digest=digest,
                                      budget=_budget_for(settings), max_body=MAX_BODY,
                                      read_seconds=settings.webhook_read_seconds) as body:
            _check_json_object(body)
            await _writer.submit_async(body)  # the bytes count against the budget until committed
        return Response("EVENT_RECEIVED", media_type="text/plain")


def _check_json_object(body: bytes) -> None:
    try:
        body.decode("utf-8")  # JSON is UTF-8 (RFC 8259); skipped strings are not checked below
        _json_object.decode(body)
    except msgspec.ValidationError:
        raise HTTPException(status_code=400, detail="body must be a JSON object") from None
    except ValueError:  # msgspec.DecodeError, UnicodeDecodeError
        raise HTTPException(status_code=400, detail="body is not valid JSON") from None
    except RecursionError:  # Meta nests a handful of levels; msgspec stops at Python's recursion limit
        raise HTTPException(status_code=400, detail="body is JSON nested too deeply") from None


_budget = intake.BodyBudget(0)  # one per server process; its limit follows the settings


def _budget_for(settings: Settings) -> intake.BodyBudget:
    _budget.limit = settings.webhook_inflight_mib * 1024 * 1024
    return _budget
