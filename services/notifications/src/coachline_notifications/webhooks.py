"""Sends one signed webhook attempt over HTTP, to a checked address only."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from coachline.signing import signature_headers
from coachline_notifications.domain.deliveries import AttemptResult, Delivery, parse_retry_after, webhook_body
from coachline_notifications.domain.destinations import (
    DestinationRefused,
    EgressPolicy,
    IPAddress,
    check_addresses,
    literal_address,
    parse_target,
)

USER_AGENT = "Coachline-Webhooks/1"
# Resolves a host name (and port) to its addresses; tests pass their own to play DNS.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 answer may carry a zone ("fe80::1%eth0"); the zone does not change what the address is.
    found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return list(dict.fromkeys(found))


class Destinations:
    """Checks a webhook URL and every address its host resolves to (see ``domain.destinations``)."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver

    async def addresses(self, url: str) -> list[IPAddress]:
        """The addresses ``url`` may be called at; raises ``DestinationRefused`` otherwise."""
        target = parse_target(url, self.policy)
        literal = literal_address(target.host)
        if literal is not None:
            return check_addresses(target.host, [literal], self.policy)
        try:
            found = await self.resolver(target.host, target.port)
        except (OSError, UnicodeError):
            raise DestinationRefused(f"{target.host} does not resolve") from None
        return check_addresses(target.host, found, self.policy)


class WebhookSender:
    """POSTs a delivery with Standard Webhooks headers to the address that was checked, never follows
    redirects, never waits past the timeout."""

    def __init__(self, client: httpx.AsyncClient, timeout_s: float, destinations: Destinations) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.destinations = destinations

    async def send(self, delivery: Delivery) -> AttemptResult:
        started = time.perf_counter()
        try:
            # httpx's timeout bounds each read and write; this bounds the whole attempt, lookup included.
            async with asyncio.timeout(self.timeout_s):
                result = await self._send(delivery)
        except TimeoutError:
            result = AttemptResult(None, f"no answer within {self.timeout_s:g} s")
        return AttemptResult(result.status_code, result.detail, result.retry_after_s,
                             time.perf_counter() - started)

    async def _send(self, delivery: Delivery) -> AttemptResult:
        try:
            addresses = await self.destinations.addresses(delivery.url)
        except DestinationRefused as refused:
            return AttemptResult(None, f"refused: {refused}"[:200])
        body = webhook_body(delivery)
        # The event id is the webhook-id on every attempt, so a receiver that got an attempt we
        # could not confirm drops the retry.
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            # The connection goes to the checked address, not to a second lookup of the name a
            # rebinding DNS server could answer differently; the name stays in Host and in TLS (SNI).
            "host": urlsplit(delivery.url).netloc,
            **signature_headers(delivery.secrets, delivery.event_id, body),
        }
        url = httpx.URL(delivery.url)
        pinned = url.copy_with(host=str(addresses[0]))
        try:
            # Streaming, and never reading the body: a receiver cannot make us buffer a large answer.
            async with self.client.stream("POST", pinned, content=body, headers=headers, follow_redirects=False,
                                          extensions={"sni_hostname": url.host}) as response:
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        except httpx.TimeoutException:
            return AttemptResult(None, f"no answer within {self.timeout_s:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # The exception's type says enough; its message could echo parts of the URL.
            return AttemptResult(None, type(exc).__name__)
        if 200 <= status < 300:
            return AttemptResult(status)
        if 300 <= status < 400:
            return AttemptResult(status, f"HTTP {status}: redirects are not followed")
        return AttemptResult(status, f"HTTP {status}", retry_after)
