"""Which addresses an outgoing webhook may reach: every spelling of a non-public address is
refused, public unicast addresses pass, and the operator's setting lets private ones in."""

from __future__ import annotations

import ipaddress

import pytest

from bot.outbound import netguard
from bot.platform.settings import load_settings

REFUSED = {
    "2130706433": "loopback", "0x7f000001": "loopback", "0177.0.0.1": "loopback", "127.1": "loopback",
    "0.0.0.0": "unspecified", "0": "unspecified", "[::1]": "loopback", "::": "unspecified",
    "::ffff:127.0.0.1": "loopback", "::ffff:169.254.169.254": "link-local", "169.254.169.254": "link-local",
    "10.1.2.3": "private", "192.168.0.1": "private", "172.31.255.255": "private", "fd00::1": "private",
    "fe80::1%eth0": "link-local", "224.0.0.251": "multicast", "ff02::1": "multicast", "240.0.0.1": "reserved",
    "100.64.0.1": "not a public", "localhost": "loopback name", "db.localhost.": "loopback name",
}


@pytest.mark.parametrize("host", sorted(REFUSED))
def test_non_public_addresses_are_refused_in_every_spelling(host: str) -> None:
    with pytest.raises(netguard.BlockedTarget, match=REFUSED[host]):
        netguard.check_host(host, 80, allow_private=False, resolver=lambda h, p: ["127.0.0.1"])


def test_public_addresses_pass_and_names_are_checked_on_every_address() -> None:
    assert netguard.check_host("93.184.215.14", 443, allow_private=False) == ["93.184.215.14"]
    assert netguard.check_host("[2606:2800:220:1::1]", 443, allow_private=False) == ["2606:2800:220:1::1"]
    dns = {"ok.example": ["93.184.215.14"], "mixed.example": ["93.184.215.14", "10.0.0.1"]}
    assert netguard.check_host("ok.example", 80, allow_private=False, resolver=lambda h, p: dns[h])
    with pytest.raises(netguard.BlockedTarget, match="10.0.0.1 is a private"):
        netguard.check_host("mixed.example", 80, allow_private=False, resolver=lambda h, p: dns[h])


def test_an_unknown_name_passes_registration_but_never_a_delivery() -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    assert netguard.check_host("new.example", 80, allow_private=False, resolver=nxdomain, must_resolve=False) == []
    with pytest.raises(netguard.BlockedTarget, match="does not resolve"):
        netguard.check_host("new.example", 80, allow_private=False, resolver=nxdomain)


def test_the_setting_allows_private_receivers() -> None:
    assert netguard.check_host("127.0.0.1", 80, allow_private=True) == ["127.0.0.1"]
    assert netguard.refusal(ipaddress.ip_address("10.0.0.1"))
    env = {"SOCIALDESK_SECRET_KEY": "k" * 40, "META_APP_SECRET": "s"}
    assert load_settings(env).outhooks_allow_private is False
    assert load_settings({**env, "SOCIALDESK_OUTHOOKS_ALLOW_PRIVATE": "1"}).outhooks_allow_private is True
