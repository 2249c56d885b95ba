"""Kafka subscribers of the KPI service: batches of decoded events (decoding is the library's) to the projection."""

from __future__ import annotations

from coachline.messaging import Delivery
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
    async def on_batch(deliveries: list[Delivery]) -> None:
        await projection.apply_batch([d.event for d in deliveries],
                                     [(d.topic, d.partition, d.offset) for d in deliveries])

    runtime.subscribe_batch(list(INPUTS), on_batch, title="kpi-projection",
                            description=" ".join(f"{topic}: {what}" for topic, what in INPUTS.items()),
                            max_records=max_records)
