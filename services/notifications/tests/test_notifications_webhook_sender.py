"""One webhook attempt over a fake transport: what is sent, and how each kind of answer is read."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from coachline_notifications.domain.deliveries import AttemptResult, Delivery
from coachline_notifications.domain.signing import generate_secret, verify
from coachline_notifications.webhooks import WebhookSender

pytestmark = pytest.mark.unit

SECRET = generate_secret()
DELIVERY = Delivery(
    id=uuid.uuid4(), claim=uuid.uuid4(), subscription_id=uuid.uuid4(), tenant_id="acme", event_id="evt-1",
    event_type="coaching.session.recorded.v1", event_time=datetime(2026, 11, 23, 9, tzinfo=UTC),
    payload='{"session_id":"cs-12"}', attempt=1, url="https://hr.example/hooks", secret=SECRET,
)


async def attempt(handler: Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]], timeout_s: float = 5.0
                  ) -> AttemptResult:
    # A client that would follow redirects: the sender must refuse them by itself.
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True) as client:
        return await WebhookSender(client, timeout_s).send(DELIVERY)


async def test_the_request_is_signed_and_carries_the_event() -> None:
    seen: list[httpx.Request] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    assert await attempt(receiver) == AttemptResult(204)
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", DELIVERY.url)
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
