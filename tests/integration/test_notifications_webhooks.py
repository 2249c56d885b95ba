"""Notifications against real Kafka and PostgreSQL: coaching events reach a webhook receiver, signed.

The receiver is a real HTTP server on loopback. It fails the first attempt of every message with 500
so each test sees the retry, and ``/down`` fails every attempt so the service has to give up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coachline.contracts.coaching import CoachingSessionRecorded, SessionKind
from coachline.envelope import CloudEvent, new_event
from coachline.testing import eventually
from coachline_notifications.app import create_app
from coachline_notifications.domain.signing import verify
from coachline_notifications.settings import Settings

pytestmark = pytest.mark.integration

TENANT = "acme"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    received: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/flaky", self._flaky, methods=["POST"]),
                                 Route("/down", self._down, methods=["POST"])])

    async def _flaky(self, request: Request) -> Response:
        seen_before = any(r.headers.get("webhook-id") == request.headers.get("webhook-id") for r in self.received)
        return await self._record(request, 204 if seen_before else 500)

    async def _down(self, request: Request) -> Response:
        return await self._record(request, 503)

    async def _record(self, request: Request, status: int) -> Response:
        self.received.append(Received(request.url.path, dict(request.headers), await request.body(), status))
        return Response(status_code=status)

    def of(self, event: CloudEvent) -> list[Received]:
        return [r for r in self.received if r.headers.get("webhook-id") == event.id]


def session_recorded(tenant: str, session_id: str) -> CloudEvent:
    data = CoachingSessionRecorded(
        session_id=session_id, agent_id="a-17", coach_id="tl-3", kind=SessionKind.ONE_TO_ONE,
        held_at=datetime.now(UTC), summary="Agreed to summarise the next step at the end of each call.",
    )
    return new_event("coaching.session.recorded.v1", tenant, data, source="coachline/coaching")


@pytest.fixture
async def publish(service_env: dict[str, str]) -> AsyncIterator[Callable[[CloudEvent], Awaitable[None]]]:
    """Publish an event to this test's coaching.v1 as the coaching service does (binary mode, keyed)."""
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()

    async def send(event: CloudEvent) -> None:
        await producer.send_and_wait(
            service_env["COACHLINE_TOPIC_PREFIX"] + event.topic, event.body(), key=event.key.encode(),
            headers=[(name, value.encode()) for name, value in event.headers().items()],
        )

    yield send
    await producer.stop()


@pytest.fixture
async def receiver(run_app: Callable[[Any], Awaitable[str]]) -> tuple[Receiver, str]:
    receiver = Receiver()
    return receiver, await run_app(receiver.app())


async def service_rows(settings: Settings, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def subscribe(base_url: str, url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post("/v1/subscriptions", json={
            "tenant_id": TENANT, "url": url, "event_types": ["coaching.session.recorded.v1"],
        })
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_coaching_event_reaches_its_subscriber_once_signed_after_a_retry(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    receiver: tuple[Receiver, str],
    publish: Callable[[CloudEvent], Awaitable[None]],
    topic_reader: Callable[[str], Awaitable[Any]],
) -> None:
    hooks, hooks_url = receiver
    settings = settings_for(Settings, webhook_retry_base_s=0.2, webhook_poll_interval_s=0.1)
    base_url = await run_app(create_app(settings))
    subscription = await subscribe(base_url, f"{hooks_url}/flaky")
    outcomes = await topic_reader("notifications.v1")

    other_tenant = session_recorded("globex", "cs-0")
    first = session_recorded(TENANT, "cs-1")
    # Same key as ``first``, so the same partition: once it is delivered, the duplicate before it was handled.
    sentinel = session_recorded(TENANT, "cs-2")
    for event in (other_tenant, first, first, sentinel):
        await publish(event)

    async def accepted(event: CloudEvent) -> bool:
        return any(r.answered == 204 for r in hooks.of(event))

    async def handled(event: CloudEvent) -> bool:
        return bool(await service_rows(settings, "SELECT 1 FROM inbox WHERE event_id = $1", event.id))

    await eventually(lambda: accepted(sentinel), timeout=60)
    await eventually(lambda: accepted(first), timeout=30)
    # The other tenant's event may sit on another partition: wait until it was handled, too.
    await eventually(lambda: handled(other_tenant), timeout=30)

    attempts = hooks.of(first)
    assert [r.answered for r in attempts] == [500, 204]
    for attempt in attempts:
        # Verified as a receiver would, with the secret the registration returned.
        verify(subscription["secret"], attempt.headers, attempt.body)
        assert attempt.headers["content-type"] == "application/json"
    delivered = attempts[-1]
    assert httpx.Response(200, content=delivered.body).json() == {
        "type": "coaching.session.recorded.v1",
        "id": first.id,
        "tenant_id": TENANT,
        "time": first.time.isoformat().replace("+00:00", "Z"),
        "data": first.data.model_dump(mode="json"),
    }

    rows = await service_rows(settings, "SELECT event_id, status, attempts FROM deliveries ORDER BY created_at")
    assert [(r["event_id"], r["status"], r["attempts"]) for r in rows] == [
        (first.id, "delivered", 2), (sentinel.id, "delivered", 2),
    ]

    published = {e.data.event_id: e for e in await outcomes.events(2, timeout=30)}
    assert published.keys() == {first.id, sentinel.id}
    outcome = published[first.id]
    assert outcome.type == "notifications.delivered.v1"
    assert outcome.tenant_id == TENANT
    assert outcome.data.subscription_id == subscription["id"]
    assert (outcome.data.outcome, outcome.data.attempts, outcome.data.channel) == ("delivered", 2, "webhook")

    async with httpx.AsyncClient(base_url=base_url) as http:
        metrics = (await http.get("/metrics")).text
    assert 'coachline_notifications_webhook_deliveries_total{outcome="delivered"} 2.0' in metrics
    assert 'coachline_notifications_webhook_deliveries_total{outcome="retry"} 2.0' in metrics
    assert "coachline_notifications_webhook_delivery_duration_seconds_count 4.0" in metrics


async def test_a_receiver_that_keeps_failing_is_given_up_on_after_the_last_attempt(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    receiver: tuple[Receiver, str],
    publish: Callable[[CloudEvent], Awaitable[None]],
    topic_reader: Callable[[str], Awaitable[Any]],
) -> None:
    hooks, hooks_url = receiver
    settings = settings_for(Settings, webhook_max_attempts=3, webhook_retry_base_s=0.1,
                            webhook_poll_interval_s=0.1)
    base_url = await run_app(create_app(settings))
    subscription = await subscribe(base_url, f"{hooks_url}/down")
    outcomes = await topic_reader("notifications.v1")
    event = session_recorded(TENANT, "cs-3")
    await publish(event)

    [outcome] = await outcomes.events(1, timeout=60)
    assert outcome.data.event_id == event.id
    assert outcome.data.subscription_id == subscription["id"]
    assert (outcome.data.outcome, outcome.data.attempts, outcome.data.detail) == ("failed", 3, "HTTP 503")
    assert [r.answered for r in hooks.of(event)] == [503, 503, 503]
    [row] = await service_rows(settings, "SELECT status, attempts, last_status_code FROM deliveries")
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("failed", 3, 503)
