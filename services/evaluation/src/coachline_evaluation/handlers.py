"""Kafka subscribers of evaluation: decode (done by the library), call the service layer, count."""

from __future__ import annotations

from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline_evaluation import service
from coachline_evaluation.metrics import Metrics


def register(runtime: Runtime, uow: service.UnitOfWork, metrics: Metrics) -> None:
    async def on_interaction(event: CloudEvent) -> None:
        outcome = await service.take_interaction(uow, event)
        metrics.interaction_events.labels(outcome.value).inc()

    runtime.subscribe(
        "cc.interactions.v1",
        on_interaction,
        title="cc.interactions.v1:sampling-pool",
        description="Completed interactions enter the sampling pool; other interaction events are acknowledged.",
    )
