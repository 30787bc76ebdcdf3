"""Errors -> HTTP, in one table, always as JSON: `{"error": {"code", "message", "field", "words"}}`.

`field` names the offending input (a dotted path such as `message.buttons[0].title`) for
validation errors, whether our services found them (`bot.core.errors.Invalid`) or Litestar did while
decoding the request; `words` says the same to people ("Button 1: title is longer than 20
characters", numbered from 1 like the screens), so a client can show it as is. Handlers never
build error responses themselves.
"""

from __future__ import annotations

import logging
import re

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from bot.core.errors import GraphError, Invalid, NotFound, Refused, SocialdeskError, Throttled

log = logging.getLogger(__name__)


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    field: str | None = None
    words: str | None = None  # with `field`: the problem in people's words, numbered from 1


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


# The table: our error types -> (status, code). A GraphError is Meta's answer to a call made for
# this request (connecting a page with the caller's token): refused for good, the caller's input
# is what must change (422, Meta's message); retryable, Meta is unavailable for now (503).
STATUS: dict[type[SocialdeskError], tuple[int, str]] = {
    Invalid: (422, "invalid"),
    NotFound: (404, "not_found"),
    Refused: (409, "refused"),
    GraphError: (422, "graph_error"),
    Throttled: (429, "rate_limited"),
}
GRAPH_UNAVAILABLE = (503, "graph_unavailable")
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 422: "invalid",
              429: "rate_limited"}

ERROR_RESPONSES: dict[int, ResponseSpec] = {
    status: ResponseSpec(data_container=ErrorBody, generate_examples=False, description=description)
    for status, description in (
        (400, "The request is malformed (for example, the body is not JSON)."),
        (401, "No valid bearer token."),
        (403, "The token's user may not do this (role)."),
        (404, "Not found."),
        (409, "Refused by a rule; the message says which."),
        (422, "Invalid input; `field` names it (a dotted path, 0-based) and `words` says it in people's words "
              "(1-based, as shown on screen); `graph_error`: Meta refused it, with Meta's message."),
        (429, "Too many bad API tokens from this address lately; `Retry-After` says when to try again."),
        (503, "The Graph API is unavailable for now; try again later."),
    )
}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None, words: str | None = None) -> Response[ErrorBody]:
    detail = ErrorDetail(code=code, message=message, field=field, words=words)
    return Response(ErrorBody(detail), status_code=status, headers=headers)


def invalid_response(exc: Invalid, status: int = 422, code: str = "invalid") -> Response[ErrorBody]:
    """The field path for programs and the same problem in people's words, side by side."""
    return error_response(status, code, exc.problem, exc.field, words=exc.words)


def on_socialdesk_error(request: Request, exc: SocialdeskError) -> Response[ErrorBody]:
    found = next((answer for kind, answer in STATUS.items() if isinstance(exc, kind)), None)
    if found is None:
        return on_unexpected(request, exc)
    status, code = found
    if isinstance(exc, Invalid):
        return invalid_response(exc, status, code)
    if isinstance(exc, Refused):
        return error_response(status, code, exc.reason)
    if isinstance(exc, Throttled):
        return error_response(status, code, str(exc), headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, GraphError):
        status, code = GRAPH_UNAVAILABLE if exc.retryable else (status, code)
        return error_response(status, code, exc.describe())
    return error_response(status, code, str(exc))


def on_http_exception(_: Request, exc: HTTPException) -> Response[ErrorBody]:
    """Litestar's own errors (401/403 from the guards, decoding errors, unknown routes)."""
    if isinstance(exc, ValidationException):
        field, message = _validation_detail(exc)
        return invalid_response(Invalid(field, message)) if field else error_response(422, "invalid", message)
    headers = dict(exc.headers or {})
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, exc.detail, headers=headers or None)


def on_too_deep(_: Request, exc: RecursionError) -> Response[ErrorBody]:
    """A body nested deeper than the decoder's recursion limit (msgspec stops at Python's, about
    1,000 levels): bad input, not a server fault. No socialdesk body nests more than a few levels."""
    log.warning("request refused: %s", exc)
    return error_response(400, "bad_request", "The request body is nested too deeply.", "body")


def on_unexpected(_: Request, exc: Exception) -> Response[ErrorBody]:
    log.exception("unexpected error in the REST API", exc_info=exc)
    return error_response(500, "internal", "Internal server error.")


def _validation_detail(exc: ValidationException) -> tuple[str | None, str]:
    """Litestar reports `[{"key": "inner[0].kind", "message": ..., "source": ...}]`, with `data`
    for the body itself and the parent's key when a field is missing or unknown; turn that into
    the path of the field the caller must fix."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    if not extra or not isinstance(extra[0], dict):
        return None, exc.detail
    key = str(extra[0].get("key") or "")
    message = str(extra[0].get("message") or exc.detail)
    parent = "" if key == "data" else key
    missing = re.fullmatch(r"Object missing required field `([^`]+)`", message)
    if missing:
        return (f"{parent}.{missing.group(1)}" if parent else missing.group(1)), "is required"
    unknown = re.fullmatch(r"Object contains unknown field `([^`]+)`", message)
    if unknown:  # bodies that replace a whole object refuse a misspelt name rather than drop it
        return (f"{parent}.{unknown.group(1)}" if parent else unknown.group(1)), "is not a known field"
    if key == "data" and not message.startswith("Expected"):
        return "body", "a JSON body is required"
    return parent or "body", message


EXCEPTION_HANDLERS = {SocialdeskError: on_socialdesk_error, HTTPException: on_http_exception,
                      RecursionError: on_too_deep, Exception: on_unexpected}
