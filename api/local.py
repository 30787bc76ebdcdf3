"""Which requests come from this machine: the operator's own tools (the sandbox's control API,
an unauthenticated `/metrics` scrape). A request relayed by a reverse proxy carries forwarding
headers and is never local, even though the proxy connects from loopback."""

from __future__ import annotations

from ipaddress import ip_address

from litestar.types import Scope

FORWARDING_HEADERS = frozenset({b"forwarded", b"x-forwarded-for", b"x-real-ip", b"x-forwarded-host"})


def is_local(scope: Scope) -> bool:
    client = scope.get("client")
    if not client or not _loopback(client[0]):
        return False
    return not any(name.lower() in FORWARDING_HEADERS for name, _ in scope.get("headers", []))


def _loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
