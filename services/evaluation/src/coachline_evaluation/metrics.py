"""Prometheus metrics of evaluation's own work (HTTP and Kafka metrics come from the shared library)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class Metrics:
    interaction_events: Counter
    input_events: Counter
    evaluations_submitted: Counter
    evaluations_assigned: Counter
    evaluations_released: Counter
    disputes: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            interaction_events=Counter(
                "coachline_evaluation_interaction_events",
                "Interaction events handled by the sampling pool, by outcome (added, duplicate, ignored).",
                ["outcome"],
                registry=registry,
            ),
            input_events=Counter(
                "coachline_evaluation_input_events",
                "Survey, roster and mystery-shop events handled, by topic and outcome (added, duplicate, ignored).",
                ["topic", "outcome"],
                registry=registry,
            ),
            evaluations_submitted=Counter(
                "coachline_evaluation_evaluations_submitted",
                "Evaluations submitted through the API and queued for qa.evaluations.v1.",
                registry=registry,
            ),
            evaluations_assigned=Counter(
                "coachline_evaluation_evaluations_assigned",
                "Evaluations assigned by sampling runs.",
                registry=registry,
            ),
            evaluations_released=Counter(
                "coachline_evaluation_scheduled_releases",
                "Evaluations released to agents by the scheduled-release job.",
                registry=registry,
            ),
            disputes=Counter(
                "coachline_evaluation_disputes",
                "Disputes by step: raised, upheld, rescored.",
                ["step"],
                registry=registry,
            ),
        )
