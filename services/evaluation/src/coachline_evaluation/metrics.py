"""Prometheus metrics of evaluation's own work (HTTP and Kafka metrics come from the shared library)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class Metrics:
    interaction_events: Counter
    evaluations_submitted: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            interaction_events=Counter(
                "coachline_evaluation_interaction_events",
                "Interaction events handled by the sampling pool, by outcome (added, duplicate, ignored).",
                ["outcome"],
                registry=registry,
            ),
            evaluations_submitted=Counter(
                "coachline_evaluation_evaluations_submitted",
                "Evaluations stored and queued for qa.evaluations.v1.",
                registry=registry,
            ),
        )
