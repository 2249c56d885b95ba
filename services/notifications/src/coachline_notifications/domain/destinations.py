"""Where webhooks may go: public HTTPS endpoints, never the service's own network (SSRF).

A subscriber chooses the URL, so without these checks anyone allowed to subscribe could make the
service POST into the cluster, the database host or a cloud metadata endpoint that hands out
credentials. Names are resolved and every address they resolve to is checked, at registration and
again before each attempt, because DNS answers can change in between (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata endpoints of the large clouds; most are link-local or private anyway, listed so the
# refusal names them and so one outside those ranges (Alibaba's) is caught too.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "fd00:ec2::254",
))


class DestinationRefused(ValueError):
    """The URL or an address it resolves to is not a place webhooks may be sent."""


@dataclass(frozen=True)
class EgressPolicy:
    """``allow_http`` outside production only; ``allow_loopback`` only where set explicitly for
    development and tests, whose receivers run on the same machine."""

    allow_http: bool = False
    allow_loopback: bool = False


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_target(url: str, policy: EgressPolicy) -> Target:
    """The scheme, host and port of ``url``; raises :class:`DestinationRefused` for a URL not allowed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise DestinationRefused("the URL cannot be read") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise DestinationRefused("only https URLs are allowed" if scheme == "http" else "the URL must be https")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("credentials in the URL are not allowed; the signature authenticates us")
    try:
        port = parts.port
    except ValueError:
        raise DestinationRefused("the URL's port is not a number from 0 to 65535") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DestinationRefused("the URL has no host")
    return Target(scheme, host, port or (443 if scheme == "https" else 80))


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is written as one (``[::1]`` arrives without brackets)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(address: IPAddress, policy: EgressPolicy) -> str | None:
    """Why ``address`` may not be called, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:10.0.0.1 reaches 10.0.0.1.
        return refusal(address.ipv4_mapped, policy)
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_loopback:
        return None if policy.allow_loopback else f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_multicast or address.is_unspecified or address.is_reserved or not address.is_global:
        return f"{address} is not a public address"
    return None


def check_addresses(host: str, addresses: list[IPAddress], policy: EgressPolicy) -> list[IPAddress]:
    """``addresses`` when every one is allowed; a name with any refused address is refused as a whole,
    since the connection could go to any of them."""
    if not addresses:
        raise DestinationRefused(f"{host} does not resolve to any address")
    for address in addresses:
        reason = refusal(address, policy)
        if reason:
            raise DestinationRefused(f"{host} resolves to a refused address: {reason}")
    return addresses
