"""One registry of topics and event types: name, partitions, key, payload model, retention, dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from coachline.contracts import (
    agent_states,
    coaching,
    evaluations,
    interactions,
    kpi,
    mystery_shops,
    notifications,
    roster,
    surveys,
)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    """A Kafka topic as the platform uses it. ``name`` carries the major version."""

    name: str
    partitions: int
    key: str
    retention_ms: int
    description: str
    compacted: bool = False
    dead_letter: str | None = None

    def config(self) -> dict[str, str]:
        """Topic-level Kafka configs to create the topic with."""
        if self.compacted:
            return {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


@dataclass(frozen=True)
class EventType:
    """A CloudEvents ``type``: the topic it travels on, its payload model and how its key is formed."""

    name: str
    topic: str
    model: type[BaseModel]
    key_fields: tuple[str, ...]
    example: dict[str, Any] = field(default_factory=dict)

    def key(self, tenant_id: str, payload: BaseModel) -> str:
        """Partition key: ``tenant:<entity id>`` so one entity's events stay in order."""
        return ":".join([tenant_id, *(str(getattr(payload, f)) for f in self.key_fields)])


def _dead_letter(name: str) -> str:
    base, _, version = name.rpartition(".")
    return f"{base}.dlq.{version}"


def _topic(name: str, partitions: int, key: str, days: int, description: str, **kw: Any) -> Topic:
    return Topic(name, partitions, key, days * DAY_MS, description, dead_letter=_dead_letter(name), **kw)


_TOPICS = [
    _topic("cc.interactions.v1", 12, "tenant:interaction_id", 30, "Canonical interaction events from every platform."),
    _topic("cc.agent-states.v1", 6, "tenant:agent_id", 30, "Agent state changes."),
    _topic("cc.surveys.v1", 3, "tenant:interaction_id", 90, "Post-contact survey answers."),
    _topic("cc.roster.v1", 3, "tenant:agent_id|team_id|queue_id", 3650, "Agents, teams and queues from WFM or HR.",
           compacted=True),
    _topic("cc.mystery-shops.v1", 1, "tenant:visit_id", 365, "Mystery-shopper results, kept out of normal KPIs."),
    _topic("qa.evaluations.v1", 6, "tenant:agent_id", 365, "Submitted quality evaluations."),
    _topic("coaching.v1", 6, "tenant:agent_id", 365, "Coaching events: the public contract for HR systems."),
    _topic("kpi.snapshots.v1", 6, "tenant:scope:scope_id:window", 7, "Current KPI figures.", compacted=True),
    _topic("kpi.alerts.v1", 3, "tenant:scope_id", 30, "KPI targets crossed."),
    _topic("notifications.v1", 3, "tenant:subscription_id", 30, "Delivery outcomes of notifications."),
]
# Dead-letter topics keep the original bytes long enough for someone to look and replay.
_TOPICS += [Topic(t.dead_letter, 1, "as original", 30 * DAY_MS, f"Messages of {t.name} that could not be handled.")
            for t in list(_TOPICS) if t.dead_letter]
# Intake's own dead letters: raw platform input it could not turn into canonical events.
_TOPICS.append(Topic("cc.intake.dlq.v1", 1, "tenant:source", 30 * DAY_MS, "Platform input intake could not map."))

TOPICS: dict[str, Topic] = {t.name: t for t in _TOPICS}

_TS = "2026-11-23T09:00:00Z"
_EVENT_TYPES = [
    EventType("cc.interaction.offered.v1", "cc.interactions.v1", interactions.InteractionOffered, ("interaction_id",),
              {"interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "occurred_at": _TS,
               "customer_ref": "cust-3f9a"}),
    EventType("cc.interaction.answered.v1", "cc.interactions.v1", interactions.InteractionAnswered, ("interaction_id",),
              {"interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "agent_id": "a-17",
               "team_id": "t-north", "occurred_at": "2026-11-23T09:00:12Z", "queue_wait_s": "12.000"}),
    EventType("cc.interaction.abandoned.v1", "cc.interactions.v1", interactions.InteractionAbandoned,
              ("interaction_id",),
              {"interaction_id": "c-1002", "queue_id": "billing", "channel": "voice",
               "occurred_at": "2026-11-23T09:01:03Z", "queue_wait_s": "63.500"}),
    EventType("cc.interaction.wrapped-up.v1", "cc.interactions.v1", interactions.InteractionWrappedUp,
              ("interaction_id",),
              {"interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "agent_id": "a-17",
               "team_id": "t-north", "occurred_at": "2026-11-23T09:06:40Z", "talk_s": "310.000",
               "hold_s": "25.000", "after_contact_work_s": "45.000", "transferred": False,
               "disposition": "billing-question", "resolved": True, "sale_eligible": True, "sale_made": True,
               "sale_value": "49.90", "customer_ref": "cust-3f9a"}),
    EventType("cc.interaction.held.v1", "cc.interactions.v1", interactions.InteractionHeld, ("interaction_id",),
              {"interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "agent_id": "a-17",
               "occurred_at": "2026-11-23T09:02:00Z"}),
    EventType("cc.interaction.resumed.v1", "cc.interactions.v1", interactions.InteractionResumed, ("interaction_id",),
              {"interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "agent_id": "a-17",
               "occurred_at": "2026-11-23T09:02:25Z", "hold_s": "25.000"}),
    EventType("cc.interaction.transferred.v1", "cc.interactions.v1", interactions.InteractionTransferred,
              ("interaction_id",),
              {"interaction_id": "c-1003", "queue_id": "billing", "channel": "voice", "agent_id": "a-17",
               "team_id": "t-north", "to_queue_id": "sales", "occurred_at": "2026-11-23T09:04:00Z"}),
    EventType("cc.interaction.ended.v1", "cc.interactions.v1", interactions.InteractionEnded, ("interaction_id",),
              {"interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "agent_id": "a-17",
               "team_id": "t-north", "occurred_at": "2026-11-23T09:05:55Z", "source_ref": "ctr-8f2e"}),
    EventType("cc.roster.agent.v1", "cc.roster.v1", roster.AgentRostered, ("agent_id",),
              {"agent_id": "a-17", "team_id": "t-north", "time_zone": "Europe/Helsinki", "skills": ["billing"],
               "started_on": "2026-03-02", "active": True, "occurred_at": _TS}),
    EventType("cc.roster.team.v1", "cc.roster.v1", roster.TeamRostered, ("team_id",),
              {"team_id": "t-north", "name": "North", "unit_id": "u-helsinki", "time_zone": "Europe/Helsinki",
               "active": True, "occurred_at": _TS}),
    EventType("cc.roster.queue.v1", "cc.roster.v1", roster.QueueRostered, ("queue_id",),
              {"queue_id": "billing", "name": "Billing", "channel": "voice", "active": True, "occurred_at": _TS}),
    EventType("cc.mystery-shop.completed.v1", "cc.mystery-shops.v1", mystery_shops.MysteryShopCompleted,
              ("visit_id",),
              {"visit_id": "ms-4", "scenario_id": "cancel-contract", "channel": "voice", "occurred_at": _TS,
               "interaction_id": "c-1009", "answers": {"greeting": True, "offered-retention": "no"},
               "comment": "Polite, but no retention offer."}),
    EventType("cc.agent.state-changed.v1", "cc.agent-states.v1", agent_states.AgentStateChanged, ("agent_id",),
              {"agent_id": "a-17", "team_id": "t-north", "state": "available", "occurred_at": _TS}),
    EventType("cc.survey.answered.v1", "cc.surveys.v1", surveys.SurveyAnswered, ("interaction_id",),
              {"survey_id": "s-88", "interaction_id": "c-1001", "agent_id": "a-17", "occurred_at": _TS,
               "csat": 5, "nps": 9, "ces": 6, "resolved": True, "dimensions": {"friendliness": 5}}),
    EventType("qa.evaluation.submitted.v1", "qa.evaluations.v1", evaluations.EvaluationSubmitted, ("agent_id",),
              {"evaluation_id": "e-5", "interaction_id": "c-1001", "agent_id": "a-17", "evaluator_id": "q-2",
               "scorecard_id": "sc-voice", "scorecard_version": 3, "score": "87.50", "critical_failed": False,
               "submitted_at": _TS}),
    EventType("coaching.session.recorded.v1", "coaching.v1", coaching.CoachingSessionRecorded, ("agent_id",),
              {"session_id": "cs-12", "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one",
               "planned_on": "2026-11-23", "held_at": _TS, "summary": "Agreed to summarise the next step.",
               "evaluation_ids": ["e-5"]}),
    EventType("kpi.snapshot.v1", "kpi.snapshots.v1", kpi.KpiSnapshot, ("scope", "scope_id", "window"),
              {"scope": "team", "scope_id": "t-north", "window": "day:2026-11-23",
               "figures": {"offered": "120", "answered": "112", "abandoned": "8", "aht_s": "341.200"},
               "as_of": _TS}),
    EventType("kpi.alert.raised.v1", "kpi.alerts.v1", kpi.KpiAlertRaised, ("scope_id",),
              {"alert_id": "al-1", "kpi": "service_level", "scope": "queue", "scope_id": "billing",
               "level": "warning", "value": "0.74", "threshold": "0.80", "raised_at": _TS}),
    EventType("notifications.delivered.v1", "notifications.v1", notifications.NotificationDelivered,
              ("subscription_id",),
              {"delivery_id": "d-1", "subscription_id": "sub-1", "event_id": "ev-1",
               "event_type": "coaching.session.recorded.v1", "channel": "webhook", "outcome": "delivered",
               "attempts": 1, "occurred_at": _TS}),
]
EVENT_TYPES: dict[str, EventType] = {e.name: e for e in _EVENT_TYPES}


def topic(name: str) -> Topic:
    """The registered topic called ``name``; raises ``KeyError`` for an unknown topic."""
    return TOPICS[name]


def event_type(name: str) -> EventType:
    """The registered event type called ``name``; raises ``KeyError`` for an unknown type."""
    return EVENT_TYPES[name]


def event_types_on(topic_name: str) -> list[EventType]:
    """Every event type that travels on ``topic_name``."""
    return [e for e in _EVENT_TYPES if e.topic == topic_name]


