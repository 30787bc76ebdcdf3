"""One Graph API call as the handlers see it: who calls, on what node, with which parameters.

Built by `graph_api` after the token and the node are resolved; handlers read it, mutate the
store, and append the webhooks Meta would send afterwards (echoes, receipts, comment changes)
to `webhooks`; they are delivered once the answer has gone out.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sandbox import graph_rules
from sandbox.records import INSTAGRAM, Account, QueuedItem, Token
from sandbox.store import Store

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass
class GraphCall:
    store: Store
    method: str
    path: str
    params: dict[str, Any]
    query: list[tuple[str, str]]
    base_url: str
    token: Token | None = None
    node_id: str | None = None
    edge: str | None = None
    kind: str | None = None
    record: Any = None
    account: Account | None = None
    host: str = "facebook"  # "instagram": graph.instagram.com (sandbox/instagram_host.py)
    webhooks: list[QueuedItem] = field(default_factory=list)

    @property
    def instagram(self) -> bool:
        return self.account is not None and self.account.platform == INSTAGRAM

    def require_scope(self, *names: str) -> None:
        """Refuse with 200 when the token lacks every one of `names` (a missing permission)."""
        if self.token is None or not any(name in self.token.scopes for name in names):
            raise graph_rules.permission(f"Requires {' or '.join(names)} permission to manage the object")

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def flag(self, name: str) -> bool | None:
        """A boolean parameter as Meta reads it ("true"/"1" from forms, JSON booleans)."""
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def page_of(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Cursor pagination like the Graph API: `limit`, `after`, answer `paging.cursors` and
        `paging.next` (only when more items follow). Cursors are opaque (base64 of an id)."""
        try:
            limit = int(self.params.get("limit", DEFAULT_PAGE_SIZE))
        except (TypeError, ValueError) as exc:
            raise graph_rules.invalid_param("param limit must be an integer") from exc
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        start = 0
        after = self.params.get("after")
        if after:
            position = self._position(items, str(after))
            start = position + 1
        chunk = items[start : start + limit]
        answer: dict[str, Any] = {"data": chunk}
        if not chunk:
            return answer
        cursors = {"before": _cursor(chunk[0]["id"]), "after": _cursor(chunk[-1]["id"])}
        answer["paging"] = {"cursors": cursors}
        if start + limit < len(items):
            answer["paging"]["next"] = self.url_with(after=cursors["after"], limit=str(limit))
        return answer

    def _position(self, items: list[dict[str, Any]], cursor: str) -> int:
        try:
            wanted = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise graph_rules.invalid_param("param after is not a valid cursor") from exc
        for position, item in enumerate(items):
            if item["id"] == wanted:
                return position
        raise graph_rules.invalid_param("param after is not a valid cursor")

    def url_with(self, **changes: str) -> str:
        query = [(key, value) for key, value in self.query if key not in changes]
        query.extend(changes.items())
        return f"{self.base_url}?{urlencode(query)}"


def _cursor(item_id: str) -> str:
    return base64.urlsafe_b64encode(item_id.encode()).decode().rstrip("=")
