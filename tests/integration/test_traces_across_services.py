"""Traces across the Kafka hops, recorded in memory from the in-process apps on real Kafka and PostgreSQL.

Where a hop continues a trace and where it links (README, Operations):
- a subscriber that handles one message at a time continues the producer's trace: its span is a child
  of the span whose context travelled in the message's ``traceparent`` header;
- a batch subscriber (kpi's projection) starts a trace of its own per batch, linked to the producer
  span of each message in it: one batch holds many requests' events, and no single one is its parent;
- the outbox keeps the context of the transaction that queued an event, and the relay publishes under it;
- a webhook delivery keeps the context of the event that queued it, and each attempt continues it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coachline.observability import tracer_provider
from coachline.signing import new_secret, signature_headers
from coachline.testing import eventually
from coachline_coaching.app import create_app as create_coaching
from coachline_coaching.settings import Settings as CoachingSettings
from coachline_intake.app import create_app as create_intake
from coachline_intake.settings import Settings as IntakeSettings
from coachline_kpi.app import create_app as create_kpi
from coachline_kpi.settings import Settings as KpiSettings
from coachline_notifications.app import create_app as create_notifications
from coachline_notifications.settings import Settings as NotificationsSettings

pytestmark = pytest.mark.integration
SECRET = new_secret()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the apps of this process end, from now until the test ends."""
    exporter = InMemorySpanExporter()
    # The process has one tracer provider, shared by every app; a processor cannot be removed from
    # it again, so the exporter is shut down instead and ignores what later tests produce.
    tracer_provider("tests").add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


class Trace:
    """Finished spans, with the questions the tests ask of them."""

    def __init__(self, finished: tuple[ReadableSpan, ...]) -> None:
        self.all = finished
        self.by_id = {s.context.span_id: s for s in finished}

    def named(self, name: str, kind: SpanKind | None = None, trace_id: int | None = None) -> list[ReadableSpan]:
        return [s for s in self.all if s.name == name and (kind is None or s.kind is kind)
                and (trace_id is None or s.context.trace_id == trace_id)]

    def request(self, service: str, name: str) -> ReadableSpan:
        """The span a service's HTTP telemetry opened for one request, checked to be part of a single trace
        whose root is the server span (FastAPI's own where the installed version has one, else this one)."""
        (span,) = [s for s in self.named(name) if s.instrumentation_scope
                   and s.instrumentation_scope.name == f"coachline.{service}.http"]
        root = ([span, *self.ancestors(span)])[-1]
        assert root.kind is SpanKind.SERVER and root.parent is None
        return span

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        found = []
        while span.parent is not None and span.parent.span_id in self.by_id:
            span = self.by_id[span.parent.span_id]
            found.append(span)
        return found

    def descends_from(self, span: ReadableSpan, ancestor: ReadableSpan) -> bool:
        return any(a.context.span_id == ancestor.context.span_id for a in self.ancestors(span))


def message_count(batch: ReadableSpan) -> int:
    count = (batch.attributes or {}).get("messaging.batch.message_count", 0)
    return count if isinstance(count, int) else 0


def contact(kind: str, **data: Any) -> dict[str, Any]:
    base = {"interaction_id": "c-traced", "queue_id": "billing", "channel": "voice",
            "occurred_at": datetime.now(UTC).isoformat()}
    return {"specversion": "1.0", "id": f"pbx-{kind}", "source": "pbx", "type": f"cc.interaction.{kind}.v1",
            "tenantid": "acme", "data": {**base, **data}}


async def test_a_request_into_intake_is_linked_from_the_kpi_batches_that_fold_it(
        spans, settings_for, service_env, run_app) -> None:
    prefix = service_env["COACHLINE_TOPIC_PREFIX"]
    intake = await run_app(create_intake(settings_for(IntakeSettings, source_secrets={"acme": {"generic": [SECRET]}})))
    await run_app(create_kpi(settings_for(KpiSettings)))
    who = {"agent_id": "a-1", "team_id": "north"}
    body = json.dumps([contact("offered"), contact("answered", **who, queue_wait_s="9"),
                       contact("wrapped-up", **who, talk_s="240", after_contact_work_s="30")]).encode()
    async with httpx.AsyncClient(timeout=30) as client:
        posted = await client.post(f"{intake}/v1/sources/generic/events", content=body, headers={
            "content-type": "application/json", "coachline-tenant": "acme",
            **signature_headers(SECRET, "traced-1", body)})
    assert posted.status_code == 202, posted.text

    interactions = f"{prefix}cc.interactions.v1"

    def batches(seen: Trace) -> list[ReadableSpan]:
        return seen.named(f"{interactions} create", SpanKind.CONSUMER)

    def folds(seen: Trace) -> list[ReadableSpan]:
        return [s for s in seen.named(f"{interactions} process", SpanKind.CONSUMER)
                if any(s.parent and s.parent.span_id == b.context.span_id for b in batches(seen))]

    async def folded() -> Trace | None:
        seen = Trace(spans.get_finished_spans())
        consumed = sum(message_count(b) for b in batches(seen))
        return seen if consumed == 3 and sum(message_count(f) for f in folds(seen)) == 3 else None

    seen = await eventually(folded, timeout=60)
    request = seen.request("intake", "POST /v1/sources/generic/events")
    links = [link for b in batches(seen) for link in b.links]
    assert links
    for link in links:
        # Each link leads to a producer span of the request's trace, below the request.
        target = seen.by_id[link.context.span_id]
        assert target.kind is SpanKind.PRODUCER and seen.descends_from(target, request)
    for batch in batches(seen):
        # A batch is the root of a trace of its own.
        assert batch.parent is None and batch.context.trace_id != request.context.trace_id


async def test_a_recorded_coaching_session_continues_into_the_webhook_delivery(
        spans, settings_for, service_env, run_app, identity) -> None:
    prefix = service_env["COACHLINE_TOPIC_PREFIX"]
    coaching = await run_app(create_coaching(settings_for(CoachingSettings)))
    notifications = await run_app(create_notifications(settings_for(NotificationsSettings,
                                                                     webhook_allow_loopback=True,
                                                                     webhook_poll_interval_s=0.2)))
    received: list[dict[str, str]] = []

    async def hr_system(request: Request) -> Response:
        received.append(dict(request.headers))
        return Response(status_code=204)

    receiver = await run_app(Starlette(routes=[Route("/hooks/coaching", hr_system, methods=["POST"])]))
    async with httpx.AsyncClient(timeout=30) as client:
        subscribed = await client.post(f"{notifications}/v1/subscriptions", json={
            "url": f"{receiver}/hooks/coaching", "event_types": ["coaching.session.recorded.v1"]},
            headers=identity.headers("acme", "admin", subject="hr-admin"))
        assert subscribed.status_code == 201, subscribed.text
        coach = identity.headers("acme", "admin", subject="tl-1")
        session = await client.post(f"{coaching}/v1/sessions", headers=coach,
                                    json={"agent_id": "a-1", "coach_id": "tl-1", "kind": "evaluation_review",
                                          "held": {"held_at": datetime.now(UTC).isoformat(),
                                                   "notes": "Agreed to summarise before closing."}})
        assert session.status_code == 201, session.text

    async def delivered() -> Trace | None:
        seen = Trace(spans.get_finished_spans())
        return seen if received and seen.named("webhook delivery", SpanKind.CLIENT) else None

    seen = await eventually(delivered, timeout=60)
    recorded = seen.request("coaching", "POST /v1/sessions")
    in_trace = recorded.context.trace_id
    relayed = seen.named("outbox publish", SpanKind.PRODUCER, in_trace)
    assert relayed and all(seen.descends_from(r, recorded) for r in relayed)
    (delivery,) = seen.named("webhook delivery", SpanKind.CLIENT)
    assert delivery.context.trace_id == in_trace
    assert (delivery.attributes or {})["http.response.status_code"] == 204
    # The attempt is a child of notifications' handling of the event, which in turn continued
    # coaching's trace (one message at a time) through the relay's publish.
    assert delivery.parent is not None
    fanned_out = seen.by_id[delivery.parent.span_id]
    assert (fanned_out.name, fanned_out.kind) == (f"{prefix}coaching.v1 process", SpanKind.CONSUMER)
    assert any(seen.descends_from(fanned_out, r) for r in relayed)
