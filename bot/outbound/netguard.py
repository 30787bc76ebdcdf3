"""Where outgoing webhooks may go: public internet addresses only, unless the operator says otherwise.

An admin types a URL and our workers POST to it; without a guard that is a request forgery
door into everything the worker can reach (the database port, Redis, a cloud metadata service
at 169.254.169.254, an admin panel on localhost). So a target is refused when any address it
stands for is loopback, private, link-local, multicast, reserved, unspecified or otherwise not
globally routable, in every spelling: `2130706433`, `0x7f.1`, `0.0.0.0`, `[::1]`,
`::ffff:127.0.0.1`, `localhost`, IPv6 ULA (fc00::/7) and link-local (fe80::/10).

It is checked twice: when the URL is registered (a clear 422 naming `url`) and at every
delivery, on the addresses the name resolves to *then* (a name can be re-pointed at 127.0.0.1
after registration: DNS rebinding). The delivery resolves once, checks every address, and
connects to the address it checked (`pinned_client`), keeping the name in the Host header and
in TLS SNI/certificate checks, so no second lookup can swap the target between check and use.

`SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE=1` lifts the rule for on-premise receivers (a CRM on the
office network); it is off by default.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

import httpx

from bot.meta.graph import tls_context

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
# What inet_aton (and so every C resolver) reads as an IPv4 address: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}\.?$", re.IGNORECASE)


class BlockedTarget(Exception):
    """The target is not a public internet address; `str()` says which address and why."""


def refusal(address: IPAddress) -> str | None:
    """Why `address` is no place for a webhook, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)  # ::ffff:127.0.0.1 reaches 127.0.0.1
    for label, flagged in (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
                           ("link-local", address.is_link_local), ("multicast", address.is_multicast),
                           ("reserved", address.is_reserved), ("private", address.is_private)):
        if flagged:
            return f"{address} is a {label} address"
    if not address.is_global:  # shared (100.64/10), 6to4/Teredo wrappers, documentation ranges...
        return f"{address} is not a public internet address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as a number stands for (every form a resolver accepts), else None."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.match(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare.rstrip(".")))
        except OSError:
            return None
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (what a plain connect would try)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_host(host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None,
               must_resolve: bool = True) -> list[str]:
    """The addresses of `host` that may be used, all checked; raises BlockedTarget when any is not
    public (one bad address is enough: a resolver may hand out either). `must_resolve=False` (at
    registration) lets an unknown name through: it is checked again at every delivery."""
    literal = literal_address(host)
    if literal is not None:
        return [str(_allowed(literal, allow_private))]
    if _local_name(host) and not allow_private:
        raise BlockedTarget(f"{host} is a loopback name")
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError) as exc:
        if must_resolve:
            raise BlockedTarget(f"{host} does not resolve ({type(exc).__name__})") from None
        return []
    if not addresses and must_resolve:
        raise BlockedTarget(f"{host} does not resolve")
    return [str(_allowed(ipaddress.ip_address(a.split("%", 1)[0]), allow_private)) for a in addresses]


def _local_name(host: str) -> bool:
    """Names every resolver maps to loopback, whatever DNS says (RFC 6761 `.localhost`)."""
    name = host.rstrip(".").lower()
    return name in _LOCAL_NAMES or name.endswith(".localhost")


def _allowed(address: IPAddress, allow_private: bool) -> IPAddress:
    reason = None if allow_private else refusal(address)
    if reason:
        raise BlockedTarget(reason)
    return address


class _PinnedTransport(httpx.HTTPTransport):
    """Connects to one checked address whatever the URL's host: the Host header (set by httpx
    from the URL) and the TLS server name stay the URL's host name."""

    def __init__(self, address: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._address = address

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name = request.url.host
        request.url = request.url.copy_with(host=self._address)
        request.extensions = {**request.extensions, "sni_hostname": name}
        return super().handle_request(request)


def pinned_client(address: str, timeout: float) -> httpx.Client:
    """A one-delivery client that can only reach `address` and follows no redirect (a 302 to
    http://127.0.0.1/ must not undo the check)."""
    return httpx.Client(transport=_PinnedTransport(address, verify=tls_context()), timeout=timeout,
                        follow_redirects=False, trust_env=False)
