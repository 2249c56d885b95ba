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

    async def on_survey(event: CloudEvent) -> None:
        outcome = await service.take_survey(uow, event)
        metrics.input_events.labels("cc.surveys.v1", outcome.value).inc()

    async def on_roster(event: CloudEvent) -> None:
        outcome = await service.take_roster(uow, event)
        metrics.input_events.labels("cc.roster.v1", outcome.value).inc()

    async def on_mystery_shop(event: CloudEvent) -> None:
        outcome = await service.take_mystery_shop(uow, event)
        metrics.input_events.labels("cc.mystery-shops.v1", outcome.value).inc()

    runtime.subscribe(
        "cc.interactions.v1",
        on_interaction,
        title="cc.interactions.v1:sampling-pool",
        description="Completed interactions enter the sampling pool; other interaction events are acknowledged.",
    )
    runtime.subscribe(
        "cc.surveys.v1",
        on_survey,
        title="cc.surveys.v1:sampling-targets",
        description="CSAT and NPS per interaction, for targeted sampling of detractors and low scores.",
    )
    runtime.subscribe(
        "cc.roster.v1",
        on_roster,
        title="cc.roster.v1:agent-teams",
        description="Agent to team and first working day; teams and queues are acknowledged without effect.",
    )
    runtime.subscribe(
        "cc.mystery-shops.v1",
        on_mystery_shop,
        title="cc.mystery-shops.v1:mystery-shop-results",
        description="Shopper results scored on the scenario's scorecard as mystery_shop evaluations.",
    )
