"""Kafka subscribers of the KPI service: batches of decoded events (decoding is the library's) to the projection."""

from __future__ import annotations

from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline_kpi.service import Projection

# Every topic a figure comes from, and what it feeds.
INPUTS = {
    "cc.interactions.v1": "Offered, answered, abandoned and wrapped-up contacts: queue, handling, sales and "
                          "repeat-contact figures.",
    "cc.agent-states.v1": "Agent state changes: occupancy and agents by state now.",
    "cc.surveys.v1": "Survey answers: CSAT, NPS, CES, survey FCR and survey dimensions.",
    "cc.roster.v1": "Agents' teams, so surveys, evaluations and coaching count in the agent's team.",
    "qa.evaluations.v1": "Submitted and re-scored evaluations: quality and mystery-shop scores.",
    "coaching.v1": "Coaching sessions held and missed, and goals: cadence, on time, goal attainment.",
}


def register(runtime: Runtime, projection: Projection, max_records: int) -> None:
    async def on_batch(events: list[CloudEvent]) -> None:
        await projection.apply_batch(events)

    for topic, description in INPUTS.items():
        runtime.subscribe_batch(topic, on_batch, title=f"{topic}:kpi-projection", description=description,
                                max_records=max_records)
