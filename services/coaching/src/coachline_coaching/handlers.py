"""Kafka subscribers of coaching: decode (done by the library), call the service layer, count."""

from __future__ import annotations

from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline_coaching import service
from coachline_coaching.domain.suggestions import Thresholds
from coachline_coaching.metrics import Metrics


def register(runtime: Runtime, uow: service.UnitOfWork, metrics: Metrics, thresholds: Thresholds) -> None:
    async def on_evaluation(event: CloudEvent) -> None:
        outcome = await service.take_evaluation(uow, event, thresholds)
        metrics.evaluation_events.labels(outcome.value).inc()

    async def on_alert(event: CloudEvent) -> None:
        outcome = await service.take_alert(uow, event)
        metrics.alert_events.labels(outcome.value).inc()

    async def on_roster(event: CloudEvent) -> None:
        outcome = await service.take_roster(uow, event)
        metrics.roster_events.labels(outcome.value).inc()

    runtime.subscribe(
        "qa.evaluations.v1", on_evaluation, title="qa.evaluations.v1:agent-evaluations",
        description="Submitted and re-scored evaluations become evidence and feed the suggestion rules.",
    )
    runtime.subscribe(
        "kpi.alerts.v1", on_alert, title="kpi.alerts.v1:coaching-suggestions",
        description="An agent's KPI alert becomes a suggested focus for their next session.",
    )
    runtime.subscribe(
        "cc.roster.v1", on_roster, title="cc.roster.v1:coaching-roster",
        description="Agent to team to unit, for who may coach and see whom.",
    )
