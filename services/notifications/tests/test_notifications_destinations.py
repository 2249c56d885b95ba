"""Which webhook URLs and addresses may be called (SSRF): checked at registration and before each attempt."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_notifications.domain.destinations import (
    DestinationRefused,
    EgressPolicy,
    check_addresses,
    parse_target,
    refusal,
)

pytestmark = pytest.mark.unit

STRICT = EgressPolicy()
DEVELOPMENT = EgressPolicy(allow_http=True, allow_loopback=True)


@pytest.mark.parametrize("address", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "127.8.9.10", "169.254.169.254", "169.254.1.1",
    "100.100.100.200", "100.64.0.1", "0.0.0.0",  # noqa: S104 - an address refused, not one bound "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1",
    "fd00:ec2::254", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::", "192.0.2.1",
])
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), STRICT) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), STRICT) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_allowed_only_when_set_explicitly(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), DEVELOPMENT) is None
    assert refusal(ipaddress.ip_address(address), STRICT) is not None


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.1", "fd00:ec2::254"])
def test_development_still_refuses_private_and_metadata_addresses(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), DEVELOPMENT) is not None


@given(st.ip_addresses())
def test_every_allowed_address_is_global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if refusal(address, STRICT) is None:
        assert address.is_global
        assert not (address.is_private or address.is_loopback or address.is_link_local)


@given(st.lists(st.ip_addresses(), min_size=1, max_size=5))
def test_a_name_is_refused_when_any_of_its_addresses_is(
        addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
    if any(refusal(a, STRICT) for a in addresses):
        with pytest.raises(DestinationRefused):
            check_addresses("hooks.example", addresses, STRICT)
    else:
        assert check_addresses("hooks.example", addresses, STRICT) == addresses


def test_a_name_without_addresses_is_refused() -> None:
    with pytest.raises(DestinationRefused):
        check_addresses("nowhere.example", [], STRICT)


@pytest.mark.parametrize("url", ["http://hr.example/hooks", "ftp://hr.example/", "https://user:pw@hr.example/",
                                 "https:///nohost", "https://hr.example:99999/"])
def test_only_plain_https_urls_pass_in_production(url: str) -> None:
    with pytest.raises(DestinationRefused):
        parse_target(url, STRICT)


def test_http_is_allowed_outside_production() -> None:
    target = parse_target("http://127.0.0.1:8080/hooks", DEVELOPMENT)
    assert (target.scheme, target.host, target.port) == ("http", "127.0.0.1", 8080)
    assert parse_target("https://HR.example./x", STRICT).host == "hr.example"


@given(st.text(max_size=200))
def test_any_url_is_parsed_or_refused_never_raises_otherwise(url: str) -> None:
    try:
        target = parse_target(url, STRICT)
    except DestinationRefused:
        return
    assert target.scheme == "https"
    assert target.host
    assert 0 <= target.port <= 65535
