"""One webhook attempt over a fake transport: what is sent, and how each kind of answer is read."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from coachline.signing import new_secret, verify
from coachline_notifications.domain.deliveries import AttemptResult, Delivery
from coachline_notifications.domain.destinations import EgressPolicy, IPAddress
from coachline_notifications.webhooks import Destinations, WebhookSender

pytestmark = pytest.mark.unit

SECRET = new_secret()
PUBLIC = ipaddress.ip_address("93.184.215.14")
# A DNS the test controls: what each name resolves to.
DNS: dict[str, list[IPAddress]] = {"hr.example": [PUBLIC], "rebound.example": [ipaddress.ip_address("10.1.2.3")]}


async def resolve(host: str, port: int) -> list[IPAddress]:
    if host == "slow-dns.example":
        await asyncio.Event().wait()
    return DNS[host]

DELIVERY = Delivery(
    id=uuid.uuid4(), claim=uuid.uuid4(), subscription_id=uuid.uuid4(), tenant_id="acme", event_id="evt-1",
    event_type="coaching.session.recorded.v1", event_time=datetime(2026, 11, 23, 9, tzinfo=UTC),
    payload='{"session_id":"cs-12"}', attempt=1, attempt_number=1, url="https://hr.example/hooks",
    secrets=(SECRET,),
)


async def attempt(handler: Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]], timeout_s: float = 5.0,
                  delivery: Delivery = DELIVERY) -> AttemptResult:
    # A client that would follow redirects: the sender must refuse them by itself.
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True) as client:
        result = await WebhookSender(client, timeout_s, Destinations(EgressPolicy(), resolve)).send(delivery)
    assert result.latency_s >= 0
    # Latency varies; the rest of the result is what the tests compare.
    return AttemptResult(result.status_code, result.detail, result.retry_after_s)


async def test_the_request_is_signed_and_carries_the_event() -> None:
    seen: list[httpx.Request] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    assert await attempt(receiver) == AttemptResult(204)
    [request] = seen
    # Sent to the address that was checked, with the name in Host (and in TLS, as SNI).
    assert (request.method, str(request.url)) == ("POST", f"https://{PUBLIC}/hooks")
    assert request.headers["host"] == "hr.example"
    assert request.extensions["sni_hostname"] == "hr.example"
    assert request.headers["webhook-id"] == "evt-1"
    assert request.headers["content-type"] == "application/json"
    verify(SECRET, dict(request.headers), request.content)
    assert json.loads(request.content)["data"] == {"session_id": "cs-12"}


async def test_a_redirect_is_not_followed() -> None:
    calls = 0

    async def receiver(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})

    result = await attempt(receiver)
    assert (result.ok, result.status_code, calls) == (False, 302, 1)
    assert result.detail == "HTTP 302: redirects are not followed"


async def test_an_error_status_is_a_failed_attempt() -> None:
    async def receiver(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="stack trace the receiver should not have shown")

    assert await attempt(receiver) == AttemptResult(500, "HTTP 500")


async def test_a_network_error_is_a_failed_attempt_named_by_its_type() -> None:
    async def receiver(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused to https://hr.example/hooks?token=abc", request=request)

    assert await attempt(receiver) == AttemptResult(None, "ConnectError")


async def test_an_answer_slower_than_the_timeout_is_a_failed_attempt() -> None:
    async def receiver(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        return httpx.Response(204)

    assert await attempt(receiver, timeout_s=0.05) == AttemptResult(None, "no answer within 0.05 s")


async def test_a_retry_after_header_is_passed_on() -> None:
    async def receiver(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": "90"})

    assert await attempt(receiver) == AttemptResult(429, "HTTP 429", 90.0)


async def test_while_rotating_both_secrets_sign_and_either_verifies() -> None:
    seen: list[httpx.Request] = []
    old, new = new_secret(), new_secret()

    async def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    await attempt(receiver, delivery=dataclasses.replace(DELIVERY, secrets=(new, old)))
    [request] = seen
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        verify(secret, dict(request.headers), request.content)


@pytest.mark.parametrize("url", ["https://rebound.example/hooks", "http://hr.example/hooks",
                                 "https://169.254.169.254/latest", "https://[::ffff:10.0.0.1]/x"])
async def test_a_refused_destination_is_never_called(url: str) -> None:
    async def receiver(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"called {request.url}")

    result = await attempt(receiver, delivery=dataclasses.replace(DELIVERY, url=url))
    assert result.status_code is None
    assert result.detail is not None and result.detail.startswith("refused: ")


async def test_a_lookup_that_never_answers_is_bounded_by_the_timeout() -> None:
    async def receiver(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request without a checked address")

    slow = dataclasses.replace(DELIVERY, url="https://slow-dns.example/hooks")
    assert await attempt(receiver, timeout_s=0.05, delivery=slow) == AttemptResult(None, "no answer within 0.05 s")
