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
    """Input that breaks a rule; `field` names the offending field (dotted path, for programs);
    `words` says the same to people, numbered from 1 like the screens that show it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")

    @property
    def words(self) -> str:
        """"Action 1, button 2: title is longer than 20 characters" for
        `actions[0].message.buttons[1].title`."""
        where, leaf = field_words(self.field)
        if not leaf and where and self.problem.startswith(PREDICATES):
            return f"{where} {self.problem}"  # "Post 1 must be a post id"
        joint = " " if self.problem.startswith(PREDICATES) else ": "
        named = not leaf or self.problem.startswith(f"the {leaf}")  # "the message is empty"
        said = self.problem if named else f"{leaf}{joint}{self.problem}"
        return f"{where}: {said}" if where else said[:1].upper() + said[1:]


# A list segment's name -> what one item is called on screen; segments in SILENT add nothing
# people would recognise (the message of a "send a message" action is the action itself).
ITEM_WORDS = {
    "actions": "action", "buttons": "button", "attachments": "attachment", "quick_replies": "quick reply",
    "variations": "variation", "post_ids": "post", "attribute_conditions": "condition",
    "transitions": "transition", "keywords": "keyword", "payloads": "payload",
    "only_if": "condition", "when": "condition", "values": "choice",
}
LEAF_WORDS = {"url": "URL", "image_url": "image URL", "channel_id": "channel", "seconds": "wait",
              "attachment_id": "uploaded file", "op": "comparison", "kind": "type"}
SILENT = frozenset({"trigger", "document"})
KEYED = {"states": "state"}  # a mapping whose next segment is a name the author chose
PREDICATES = ("is ", "must ", "at most ", "give ")


def field_words(field: str) -> tuple[str, str]:
    """(where, what) in people's words: `actions[0].message.card.buttons[2].url` ->
    ("Action 1, card, button 3", "URL"). Indexes become 1-based numbers."""
    places: list[str] = []
    segments = [s for s in field.split(".") if s]
    leaf = ""
    keyed = ""
    for position, segment in enumerate(segments):
        name, _, index = segment.partition("[")
        if keyed:
            places.append(f"{keyed} {segment}")
            keyed = ""
        elif name in KEYED and position < len(segments) - 1:
            keyed = KEYED[name]
        elif name == "message" and position < len(segments) - 1:
            continue  # the message of a "send a message" action is the action itself
        elif index.rstrip("]").isdigit():
            places.append(f"{ITEM_WORDS.get(name, name.replace('_', ' '))} {int(index.rstrip(']')) + 1}")
        elif name in SILENT:
            continue
        elif position == len(segments) - 1:
            leaf = LEAF_WORDS.get(name, name.replace("_", " "))
        else:
            places.append(ITEM_WORDS.get(name, name.replace("_", " ")))
    where = ", ".join(places)
    return where[:1].upper() + where[1:], leaf


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
