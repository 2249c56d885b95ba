"""Kafka subscribers of the KPI service: decode (done by the library), then hand to the projection."""

from __future__ import annotations

from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline_kpi.service import Projection


def register(runtime: Runtime, projection: Projection) -> None:
    async def on_interaction(event: CloudEvent) -> None:
        await projection.apply(event)

    runtime.subscribe(
        "cc.interactions.v1",
        on_interaction,
        title="cc.interactions.v1:kpi-projection",
        description="Folds interaction events into offered, answered, abandoned and handle-time sums.",
    )
