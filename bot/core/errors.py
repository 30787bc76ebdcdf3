"""The error values socialdesk raises: small, typed, and carrying what the caller needs to act.

Callers branch on the type and its fields, never on message strings. `api/errors.py` maps
them to HTTP statuses in one table; the sender maps `GraphError.retryable` to a retry or a
permanent failure.
"""

from __future__ import annotations


class SocialdeskError(Exception):
    """Base of every error socialdesk raises on purpose."""


class ConfigError(SocialdeskError):
    """A setting is missing or malformed; `variable` names the environment variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class Invalid(SocialdeskError):
    """Input that breaks a rule; `field` names the offending field (dotted path)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class NotFound(SocialdeskError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    def __init__(self, what: str, ident: object) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident!r} not found")


class Refused(SocialdeskError):
    """A rule (usually Meta's delivery rules) forbids the action; `reason` is shown to staff."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Throttled(SocialdeskError):
    """Too many failed sign-ins (or bad API tokens) lately: try again in `retry_after` seconds.
    `locked` says the account or address is locked for a while (an admin can unlock an account)."""

    def __init__(self, retry_after: int, locked: bool = False) -> None:
        self.retry_after = retry_after
        self.locked = locked
        what = "locked after repeated failed sign-ins" if locked else "too many failed sign-ins"
        super().__init__(f"{what}; try again in {retry_after} s")


class GraphError(SocialdeskError):
    """An answer from the Graph API (or the network on the way) that is not a success.

    Built in one place only (`bot.meta.graph_shapes.graph_error`). `retryable` says whether
    trying the same call again can help; `retry_after` (seconds) is Meta's hint when given.
    `kind` is a short stable label for grouping failures in stats ("window", "token", ...).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        kind: str = "unknown",
    ) -> None:
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        self.retryable = retryable
        self.retry_after = retry_after
        self.kind = kind
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line for staff and logs: Meta's message with its code and subcode."""
        codes = "/".join(str(c) for c in (self.code, self.subcode) if c is not None)
        return f"{self.message} ({codes})" if codes else self.message

    @property
    def invalidates_token(self) -> bool:
        """True when the page token no longer works and the channel needs reconnecting."""
        return self.kind == "token"
