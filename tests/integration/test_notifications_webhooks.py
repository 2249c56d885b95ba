"""Notifications against real Kafka and PostgreSQL and real HTTP receivers on loopback.

Each receiver path behaves like one kind of endpoint seen in the wild: healthy, failing then
recovering, slow, hanging past the timeout, gone (410), busy with a Retry-After, down for good. The
receivers check signatures with the official ``standardwebhooks`` package, as an HR system would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coachline.contracts.coaching import CoachingSessionRecorded, SessionKind
from coachline.envelope import CloudEvent, new_event
from coachline.signing import signature_headers
from coachline.testing import Identity, eventually
from coachline_notifications.app import create_app
from coachline_notifications.domain.destinations import IPAddress
from coachline_notifications.settings import Settings

pytestmark = pytest.mark.integration

TENANT = "acme"
HANG_S = 3.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    received: list[Received] = field(default_factory=list)
    # The path /switch answers this; a test flips it to bring a receiver back.
    switch_status: int = 503

    def app(self) -> Starlette:
        handlers = {"/ok": self._ok, "/flaky": self._flaky, "/slow": self._slow, "/hang": self._hang,
                    "/gone": self._gone, "/busy": self._busy, "/switch": self._switch}
        return Starlette(routes=[Route(path, handler, methods=["POST"]) for path, handler in handlers.items()])

    def _seen(self, request: Request) -> int:
        return sum(1 for r in self.received
                   if r.path == request.url.path and r.headers.get("webhook-id") == request.headers.get("webhook-id"))

    async def _ok(self, request: Request) -> Response:
        return await self._record(request, 204)

    async def _flaky(self, request: Request) -> Response:
        return await self._record(request, 204 if self._seen(request) >= 2 else 500)

    async def _slow(self, request: Request) -> Response:
        await asyncio.sleep(0.5)
        return await self._record(request, 200)

    async def _hang(self, request: Request) -> Response:
        if not self._seen(request):
            await self._record(request, 0)
            await asyncio.sleep(HANG_S)
            return Response(status_code=204)
        return await self._record(request, 204)

    async def _gone(self, request: Request) -> Response:
        return await self._record(request, 410)

    async def _busy(self, request: Request) -> Response:
        if not self._seen(request):
            return await self._record(request, 503, {"retry-after": "2"})
        return await self._record(request, 204)

    async def _switch(self, request: Request) -> Response:
        return await self._record(request, self.switch_status)

    async def _record(self, request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
        self.received.append(Received(request.url.path, dict(request.headers), await request.body(), status))
        return Response(status_code=status, headers=headers)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def session_recorded(tenant: str, session_id: str) -> CloudEvent:
    data = CoachingSessionRecorded(
        session_id=session_id, agent_id="a-17", coach_id="tl-3", kind=SessionKind.ONE_TO_ONE,
        held_at=datetime.now(UTC), summary="Agreed to summarise the next step at the end of each call.",
    )
    return new_event("coaching.session.recorded.v1", tenant, data, source="coachline/coaching")


@pytest.fixture
async def receiver(run_app: Callable[[Any], Awaitable[str]]) -> tuple[Receiver, str]:
    receiver = Receiver()
    return receiver, await run_app(receiver.app())


def current(read: Callable[[], list[Received]]) -> Callable[[], Awaitable[list[Received]]]:
    """``read`` as the coroutine ``eventually`` polls."""

    async def check() -> list[Received]:
        return read()

    return check


def quick_settings(settings_for: Callable[..., Settings], **overrides: Any) -> Settings:
    """Short timeout and back-off, so retries that take days in production take a second here."""
    values: dict[str, Any] = {"webhook_timeout_s": 1.0, "webhook_retry_base_s": 0.2, "webhook_retry_max_s": 1.0,
                              "webhook_max_attempts": 4, "webhook_poll_interval_s": 0.1,
                              "webhook_lease_margin_s": 1.0, "webhook_allow_loopback": True, **overrides}
    return settings_for(Settings, **values)


async def service_rows(settings: Settings, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def subscribe(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await http.post("/v1/subscriptions", json={"url": url, "event_types": ["coaching.session.recorded.v1"]})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliveries_of(http: httpx.AsyncClient, subscription: dict[str, Any]) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/subscriptions/{subscription['id']}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_each_kind_of_receiver_gets_the_event_signed_retried_as_it_asks_or_given_up(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    receiver: tuple[Receiver, str],
    publish: Callable[[CloudEvent], Awaitable[None]],
    topic_reader: Callable[[str], Awaitable[Any]],
    identity: Identity,
) -> None:
    hooks, hooks_url = receiver
    settings = quick_settings(settings_for)
    base_url = await run_app(create_app(settings))
    outcomes = await topic_reader("notifications.v1")
    async with httpx.AsyncClient(base_url=base_url, headers=identity.headers(TENANT, "admin")) as http:
        paths = ("/ok", "/flaky", "/slow", "/hang", "/gone", "/busy")
        subscriptions = {path: await subscribe(http, f"{hooks_url}{path}") for path in paths}

        other_tenant = session_recorded("globex", "cs-0")
        event = session_recorded(TENANT, "cs-1")
        # The same event twice (a redelivery): each receiver still gets it once per attempt it needs.
        for sent in (other_tenant, event, event):
            await publish(sent)

        async def settled() -> bool:
            logs = [await deliveries_of(http, s) for s in subscriptions.values()]
            return all(len(log) == 1 and log[0]["status"] in ("delivered", "failed") for log in logs)

        await eventually(settled, timeout=90)
        log = {path: (await deliveries_of(http, s))[0] for path, s in subscriptions.items()}

        statuses = {path: [a["status_code"] for a in entry["attempt_log"]] for path, entry in log.items()}
        assert statuses == {"/ok": [204], "/flaky": [500, 500, 204], "/slow": [200], "/hang": [None, 204],
                            "/gone": [410], "/busy": [503, 204]}
        assert {path: entry["status"] for path, entry in log.items()} == {
            **{path: "delivered" for path in paths}, "/gone": "failed"}
        assert log["/hang"]["attempt_log"][0]["error"] == "no answer within 1 s"
        assert log["/slow"]["attempt_log"][0]["latency_ms"] >= 500
        # The receiver asked for 2 s; the back-off alone would have been well under half a second.
        busy = log["/busy"]["attempt_log"]
        gap = datetime.fromisoformat(busy[1]["attempted_at"]) - datetime.fromisoformat(busy[0]["attempted_at"])
        assert gap.total_seconds() >= 2

        # 410: the subscription is disabled and gets nothing more.
        gone = (await http.get(f"/v1/subscriptions/{subscriptions['/gone']['id']}")).json()
        assert gone["disabled_at"] is not None
        assert gone["disabled_reason"] == "the receiver answered 410 Gone"
        later = session_recorded(TENANT, "cs-2")
        await publish(later)
        await eventually(current(lambda: [r for r in hooks.at("/ok") if r.headers["webhook-id"] == later.id]))
        assert len(await deliveries_of(http, subscriptions["/gone"])) == 1

        metrics = (await http.get("/metrics")).text

    # Every attempt of every receiver carried the same webhook-id and a signature the official
    # Standard Webhooks verifier accepts with the subscription's secret.
    for path, subscription in subscriptions.items():
        attempts = [r for r in hooks.at(path) if r.headers["webhook-id"] == event.id]
        assert len(attempts) == len(statuses[path])
        for attempt in attempts:
            assert Webhook(subscription["secret"]).verify(attempt.body, attempt.headers) == {
                "type": "coaching.session.recorded.v1", "id": event.id, "tenant_id": TENANT,
                "time": event.time.isoformat().replace("+00:00", "Z"), "data": event.data.model_dump(mode="json"),
            }
    assert not [r for r in hooks.received if r.headers["webhook-id"] == other_tenant.id]

    # Six outcomes of ``event`` and one of ``later``.
    published = [e for e in await outcomes.events(7, timeout=30) if e.data.event_id == event.id]
    by_subscription = {e.data.subscription_id: e.data for e in published}
    assert (by_subscription[subscriptions["/flaky"]["id"]].outcome, by_subscription[subscriptions["/flaky"]["id"]]
            .attempts) == ("delivered", 3)
    assert by_subscription[subscriptions["/gone"]["id"]].outcome == "failed"

    assert 'coachline_notifications_webhook_deliveries_total{outcome="failed"} 1.0' in metrics
    assert 'coachline_notifications_webhook_deliveries_total{outcome="retry"} 4.0' in metrics
    assert "coachline_notifications_webhook_delivery_duration_seconds_count" in metrics


async def test_the_official_verifier_accepts_both_secrets_while_rotating_and_rejects_tampering_and_replays(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    receiver: tuple[Receiver, str],
    publish: Callable[[CloudEvent], Awaitable[None]],
    identity: Identity,
) -> None:
    hooks, hooks_url = receiver
    app = create_app(quick_settings(settings_for))
    spans = InMemorySpanExporter()
    app.state.runtime.tracer.add_span_processor(SimpleSpanProcessor(spans))
    base_url = await run_app(app)
    async with httpx.AsyncClient(base_url=base_url, headers=identity.headers(TENANT, "admin")) as http:
        subscription = await subscribe(http, f"{hooks_url}/ok")
        rotated = (await http.post(f"/v1/subscriptions/{subscription['id']}/rotate-secret")).json()
    event = session_recorded(TENANT, "cs-9")
    await publish(event)
    [delivered] = await eventually(current(lambda: hooks.at("/ok")), timeout=60)
    # During the rotation's overlap the receiver may hold either secret: both verify.
    assert len(delivered.headers["webhook-signature"].split(" ")) == 2
    Webhook(rotated["secret"]).verify(delivered.body, delivered.headers)
    verifier = Webhook(subscription["secret"])
    verifier.verify(delivered.body, delivered.headers)

    with pytest.raises(WebhookVerificationError):
        verifier.verify(delivered.body.replace(b"a-17", b"a-18"), delivered.headers)
    # A capture replayed ten minutes later, its signature intact: refused for its age.
    replayed = {**delivered.headers, **signature_headers(subscription["secret"], event.id, delivered.body,
                                                         now=time.time() - 600)}
    with pytest.raises(WebhookVerificationError, match="too old"):
        verifier.verify(delivered.body, replayed)
    with pytest.raises(WebhookVerificationError):
        Webhook(subscription["secret"].replace(subscription["secret"][6:10], "AAAA")).verify(
            delivered.body, delivered.headers)

    # The attempt is traced, with the ids on the span (never on metric labels).
    async def traced() -> list[Any]:
        return [s for s in spans.get_finished_spans() if s.name == "webhook delivery"]

    [span] = await eventually(traced, timeout=30)
    assert span.attributes is not None
    assert (span.attributes["coachline.event_id"], span.attributes["coachline.subscription_id"],
            span.attributes["http.response.status_code"]) == (event.id, subscription["id"], 204)


async def test_a_failed_delivery_is_sent_again_through_the_api_with_the_same_webhook_id(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    receiver: tuple[Receiver, str],
    publish: Callable[[CloudEvent], Awaitable[None]],
    identity: Identity,
) -> None:
    hooks, hooks_url = receiver
    base_url = await run_app(create_app(quick_settings(settings_for, webhook_max_attempts=2)))
    async with httpx.AsyncClient(base_url=base_url, headers=identity.headers(TENANT, "admin")) as http:
        subscription = await subscribe(http, f"{hooks_url}/switch")
        event = session_recorded(TENANT, "cs-4")
        await publish(event)

        async def failed() -> dict[str, Any] | None:
            items = await deliveries_of(http, subscription)
            return items[0] if items and items[0]["status"] == "failed" else None

        delivery = await eventually(failed, timeout=60)
        assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 503]
        resend = f"/v1/subscriptions/{subscription['id']}/deliveries/{delivery['id']}/resend"

        hooks.switch_status = 204
        assert (await http.post(resend)).status_code == 202

        async def delivered() -> dict[str, Any] | None:
            items = await deliveries_of(http, subscription)
            return items[0] if items[0]["status"] == "delivered" else None

        done = await eventually(delivered, timeout=60)
        assert [(a["attempt"], a["status_code"]) for a in done["attempt_log"]] == [(1, 503), (2, 503), (3, 204)]
        # Delivered now: sending it again is a conflict, not a silent duplicate.
        response = await http.post(resend)
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
    assert {r.headers["webhook-id"] for r in hooks.at("/switch")} == {event.id}
    assert [r.answered for r in hooks.at("/switch")] == [503, 503, 204]


async def test_a_name_that_later_resolves_to_a_private_address_is_refused_at_delivery(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    publish: Callable[[CloudEvent], Awaitable[None]],
    identity: Identity,
) -> None:
    # DNS rebinding: public when registered, the metadata endpoint when the delivery is made.
    dns: dict[str, list[IPAddress]] = {"hooks.hr.example": [ipaddress.ip_address("93.184.215.14")]}

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return dns[host]

    settings = quick_settings(settings_for, webhook_max_attempts=2, webhook_allow_loopback=False)
    base_url = await run_app(create_app(settings, resolver=resolve))
    async with httpx.AsyncClient(base_url=base_url, headers=identity.headers(TENANT, "admin")) as http:
        subscription = await subscribe(http, "https://hooks.hr.example/coaching")
        dns["hooks.hr.example"] = [ipaddress.ip_address("169.254.169.254")]
        await publish(session_recorded(TENANT, "cs-5"))

        async def failed() -> dict[str, Any] | None:
            items = await deliveries_of(http, subscription)
            return items[0] if items and items[0]["status"] == "failed" else None

        delivery = await eventually(failed, timeout=60)
    errors = [a["error"] for a in delivery["attempt_log"]]
    assert errors == ["refused: hooks.hr.example resolves to a refused address: 169.254.169.254 is a cloud "
                      "metadata address"] * 2
    assert [a["status_code"] for a in delivery["attempt_log"]] == [None, None]


async def test_a_message_that_cannot_be_read_goes_to_the_dead_letter_topic_untouched(
    settings_for: Callable[..., Settings],
    run_app: Callable[[Any], Awaitable[str]],
    service_env: dict[str, str],
    topic_reader: Callable[[str], Awaitable[Any]],
) -> None:
    await run_app(create_app(quick_settings(settings_for)))
    dead = await topic_reader("kpi.alerts.dlq.v1")
    good = session_recorded(TENANT, "cs-6")
    headers = [(name, value.encode()) for name, value in good.headers().items() if name != "ce_type"]
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    try:
        # A KPI alert whose payload is not one: it must be parked with a reason, not dropped.
        await producer.send_and_wait(service_env["COACHLINE_TOPIC_PREFIX"] + "kpi.alerts.v1", b'{"kpi": 42}',
                                     key=b"acme:billing",
                                     headers=[*headers, ("ce_type", b"kpi.alert.raised.v1")])
    finally:
        await producer.stop()
    [record] = await dead.records(1, timeout=60)
    assert record.value == b'{"kpi": 42}'
    reasons = {name: value.decode() for name, value in record.headers}
    assert reasons["dlq_reason"].startswith("undecodable")
