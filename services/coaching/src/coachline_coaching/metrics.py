"""Prometheus metrics of coaching's own work (HTTP and Kafka metrics come from the shared library)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class Metrics:
    evaluation_events: Counter
    sessions_recorded: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            evaluation_events=Counter(
                "coachline_coaching_evaluation_events",
                "Evaluation events handled, by outcome (recorded, duplicate, ignored).",
                ["outcome"],
                registry=registry,
            ),
            sessions_recorded=Counter(
                "coachline_coaching_sessions_recorded",
                "Coaching sessions stored and queued for coaching.v1, by session kind.",
                ["kind"],
                registry=registry,
            ),
        )
