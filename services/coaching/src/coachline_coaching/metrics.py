"""Prometheus metrics of coaching's own work (HTTP and Kafka metrics come from the shared library)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class Metrics:
    evaluation_events: Counter
    alert_events: Counter
    roster_events: Counter
    sessions: Counter
    periods: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            evaluation_events=Counter(
                "coachline_coaching_evaluation_events",
                "Evaluation events handled, by outcome (recorded, duplicate, ignored).",
                ["outcome"], registry=registry,
            ),
            alert_events=Counter(
                "coachline_coaching_kpi_alert_events",
                "KPI alert events handled, by outcome (recorded, duplicate, ignored).",
                ["outcome"], registry=registry,
            ),
            roster_events=Counter(
                "coachline_coaching_roster_events",
                "Roster events handled, by outcome (recorded, duplicate, ignored).",
                ["outcome"], registry=registry,
            ),
            sessions=Counter(
                "coachline_coaching_sessions",
                "Coaching sessions by the state they reached (scheduled, held, missed) and kind.",
                ["status", "kind"], registry=registry,
            ),
            periods=Counter(
                "coachline_coaching_periods",
                "Coaching periods opened and closed.",
                ["event"], registry=registry,
            ),
        )
