"""Kafka subscribers of coaching: decode (done by the library), call the service layer, count."""

from __future__ import annotations

from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline_coaching import service
from coachline_coaching.metrics import Metrics


def register(runtime: Runtime, uow: service.UnitOfWork, metrics: Metrics) -> None:
    async def on_evaluation(event: CloudEvent) -> None:
        outcome = await service.take_evaluation(uow, event)
        metrics.evaluation_events.labels(outcome.value).inc()

    runtime.subscribe(
        "qa.evaluations.v1",
        on_evaluation,
        title="qa.evaluations.v1:agent-evaluations",
        description="Submitted evaluations become evidence in their agent's coaching record.",
    )
