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
    _topic("qa.evaluations.v1", 6, "tenant:agent_id", 365, "Quality evaluations from assignment to re-score."),
    _topic("coaching.v1", 6, "tenant:agent_id", 365, "Coaching events: the public contract for HR systems."),
    _topic("kpi.snapshots.v1", 6, "tenant:scope:scope_id:window", 7, "Current KPI figures.", compacted=True),
    _topic("kpi.alerts.v1", 3, "tenant:scope_id", 30, "KPI targets crossed."),
    _topic("notifications.v1", 3, "tenant:subscription_id", 30, "Notification outcomes; wallboard banners."),
]
# Dead-letter topics keep the original bytes long enough for someone to look and replay.
_TOPICS += [Topic(t.dead_letter, 1, "as original", 30 * DAY_MS, f"Messages of {t.name} that could not be handled.")
            for t in list(_TOPICS) if t.dead_letter]
# Intake's own dead letters: raw platform input it could not turn into canonical events.
_TOPICS.append(Topic("cc.intake.dlq.v1", 1, "tenant:source", 30 * DAY_MS, "Platform input intake could not map."))
# Platforms that stream into Kafka write their own records here (tenant in the coachline-tenant header);
# intake translates them with the same adapters as HTTP input, and what it cannot map goes to its dead letters.
RAW_SOURCES = ("generic", "amazon-connect", "genesys-cloud", "twilio-taskrouter", "asterisk", "survey",
               "mystery-shop", "roster")
_TOPICS += [Topic(f"cc.raw.{source}.v1", 6, "as the platform writes it", 7 * DAY_MS,
                  f"Raw {source} records for intake to translate.", dead_letter="cc.intake.dlq.v1")
            for source in RAW_SOURCES]

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
              {"agent_id": "a-17", "team_id": "t-north", "state": "available", "occurred_at": _TS, "sequence": 412}),
    EventType("cc.survey.answered.v1", "cc.surveys.v1", surveys.SurveyAnswered, ("interaction_id",),
              {"survey_id": "s-88", "interaction_id": "c-1001", "agent_id": "a-17", "occurred_at": _TS,
               "csat": 5, "nps": 9, "ces": 6, "resolved": True, "dimensions": {"friendliness": 5}}),
    EventType("qa.evaluation.submitted.v1", "qa.evaluations.v1", evaluations.EvaluationSubmitted, ("agent_id",),
              {"evaluation_id": "e-5", "interaction_id": "c-1001", "agent_id": "a-17", "evaluator_id": "q-2",
               "scorecard_id": "sc-voice", "scorecard_version": 3, "score": "87.50", "critical_failed": False,
               "submitted_at": _TS, "team_id": "t-north", "kind": "standard",
               "sections": [{"section_id": "greeting", "goal": "quality", "score": "87.50", "weight": "1",
                             "critical_failed": False}],
               "criteria": [{"criterion_id": "used-name", "section_id": "greeting", "applicable": True,
                             "earned": "7", "possible": "8", "critical_failed": False}]}),
    EventType("qa.evaluation.assigned.v1", "qa.evaluations.v1", evaluations.EvaluationAssigned, ("agent_id",),
              {"evaluation_id": "e-5", "agent_id": "a-17", "team_id": "t-north", "kind": "standard",
               "interaction_id": "c-1001", "evaluator_id": "q-2", "scorecard_id": "sc-voice", "scorecard_version": 3,
               "policy_id": "weekly-4", "due_on": "2026-11-27", "assigned_at": _TS}),
    EventType("qa.evaluation.released.v1", "qa.evaluations.v1", evaluations.EvaluationReleased, ("agent_id",),
              {"evaluation_id": "e-5", "agent_id": "a-17", "team_id": "t-north", "kind": "standard",
               "score": "87.50", "released_at": _TS}),
    EventType("qa.evaluation.acknowledged.v1", "qa.evaluations.v1", evaluations.EvaluationAcknowledged,
              ("agent_id",),
              {"evaluation_id": "e-5", "agent_id": "a-17", "team_id": "t-north", "kind": "standard",
               "acknowledged_at": _TS}),
    EventType("qa.evaluation.disputed.v1", "qa.evaluations.v1", evaluations.EvaluationDisputed, ("agent_id",),
              {"evaluation_id": "e-5", "agent_id": "a-17", "team_id": "t-north", "kind": "standard",
               "dispute_id": "d-1", "criteria": [{"criterion_id": "used-name", "proposed": "8",
                                                  "reason": "I used the name at 00:42."}],
               "routed_to": "q-2", "disputed_at": _TS}),
    EventType("qa.evaluation.dispute-resolved.v1", "qa.evaluations.v1", evaluations.EvaluationDisputeResolved,
              ("agent_id",),
              {"evaluation_id": "e-5", "agent_id": "a-17", "team_id": "t-north", "kind": "standard",
               "dispute_id": "d-1", "interaction_id": "c-1001", "scorecard_id": "sc-voice", "scorecard_version": 3,
               "outcome": "rescored", "score": "100.00", "critical_failed": False, "resolved_at": _TS,
               "decision": {"decided_by": "q-2", "decided_at": _TS, "reason": "Name used at 00:42.",
                            "previous_score": "87.50", "score": "100.00", "changed_criteria": ["used-name"]},
               "sections": [], "criteria": []}),
    EventType("qa.evaluation.calibration-completed.v1", "qa.evaluations.v1", evaluations.CalibrationCompleted,
              ("agent_id",),
              {"calibration_id": "cal-1", "interaction_id": "c-1001", "agent_id": "a-17", "scorecard_id": "sc-voice",
               "scorecard_version": 3, "evaluator_ids": ["q-2", "q-3"], "evaluation_ids": ["e-6", "e-7"],
               "reference_score": "90.00", "alpha": "0.8120", "interpretation": "reliable",
               "criteria": [{"criterion_id": "used-name", "alpha": "0.7500", "spread": "1",
                             "within_tolerance": "1.0000"}], "completed_at": _TS}),
    EventType("coaching.session.recorded.v1", "coaching.v1", coaching.CoachingSessionRecorded, ("agent_id",),
              {"session_id": "cs-12", "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one",
               "planned_on": "2026-11-23", "held_at": _TS, "summary": "Agreed to summarise the next step.",
               "evaluation_ids": ["e-5"]}),
    EventType("coaching.period.started.v1", "coaching.v1", coaching.CoachingPeriodStarted, ("agent_id",),
              {"period_id": "cp-4", "agent_id": "a-17", "team_id": "t-north", "starts_on": "2026-11-23",
               "ends_on": "2026-12-13", "participants": [{"person_id": "tl-3", "role": "team_lead"},
                                                         {"person_id": "sc-1", "role": "sales_coach"}],
               "human_review_required": True}),
    EventType("coaching.period.closed.v1", "coaching.v1", coaching.CoachingPeriodClosed, ("agent_id",),
              {"period_id": "cp-4", "agent_id": "a-17", "starts_on": "2026-11-23", "ends_on": "2026-12-13",
               "closed_on": "2026-12-14", "goals_achieved": 1, "goals_missed": 1, "sessions_held": 3,
               "sessions_missed": 0, "human_review_required": True}),
    EventType("coaching.session.scheduled.v1", "coaching.v1", coaching.CoachingSessionScheduled, ("agent_id",),
              {"session_id": "cs-12", "period_id": "cp-4", "agent_id": "a-17", "coach_id": "tl-3",
               "kind": "one_to_one", "planned_on": "2026-11-23", "human_review_required": True}),
    EventType("coaching.session.held.v1", "coaching.v1", coaching.CoachingSessionHeld, ("agent_id",),
              {"session_id": "cs-12", "period_id": "cp-4", "agent_id": "a-17", "coach_id": "tl-3",
               "kind": "one_to_one", "planned_on": "2026-11-23", "held_on": "2026-11-23", "held_at": _TS,
               "on_time": True, "evaluation_ids": ["e-5"], "actions_agreed": 2, "notes": None,
               "human_review_required": True}),
    EventType("coaching.session.missed.v1", "coaching.v1", coaching.CoachingSessionMissed, ("agent_id",),
              {"session_id": "cs-13", "period_id": "cp-4", "agent_id": "a-17", "coach_id": "tl-3",
               "kind": "side_by_side", "planned_on": "2026-11-30", "missed_on": "2026-12-01",
               "human_review_required": True}),
    EventType("coaching.goal.set.v1", "coaching.v1", coaching.CoachingGoalSet, ("agent_id",),
              {"goal_id": "g-7", "period_id": "cp-4", "agent_id": "a-17", "kind": "kpi", "corner": "efficiency",
               "kpi": "aht_s", "target": "300", "due_on": "2026-12-13", "human_review_required": True}),
    EventType("coaching.goal.achieved.v1", "coaching.v1", coaching.CoachingGoalAchieved, ("agent_id",),
              {"goal_id": "g-7", "period_id": "cp-4", "agent_id": "a-17", "kind": "kpi", "corner": "efficiency",
               "kpi": "aht_s", "target": "300", "value": "287.5", "decided_on": "2026-12-14",
               "human_review_required": True}),
    EventType("coaching.goal.missed.v1", "coaching.v1", coaching.CoachingGoalMissed, ("agent_id",),
              {"goal_id": "g-8", "period_id": "cp-4", "agent_id": "a-17", "kind": "behavioural",
               "corner": "quality", "kpi": None, "target": None, "value": None, "decided_on": "2026-12-14",
               "human_review_required": True}),
    EventType("coaching.action.agreed.v1", "coaching.v1", coaching.CoachingActionAgreed, ("agent_id",),
              {"action_id": "ac-3", "session_id": "cs-12", "period_id": "cp-4", "agent_id": "a-17",
               "owner": "agent", "due_on": "2026-11-27", "description": None, "human_review_required": True}),
    EventType("coaching.action.completed.v1", "coaching.v1", coaching.CoachingActionCompleted, ("agent_id",),
              {"action_id": "ac-3", "session_id": "cs-12", "period_id": "cp-4", "agent_id": "a-17",
               "owner": "agent", "due_on": "2026-11-27", "completed_on": "2026-11-26",
               "human_review_required": True}),
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
    EventType("notifications.banner.published.v1", "notifications.v1", notifications.WallboardBannerPublished,
              ("scope_id",),
              {"banner_id": "bn-7", "kind": "service_level_alert", "severity": "warning", "scope": "queue",
               "scope_id": "billing", "title": "Service level below target", "text": "Billing: 74 % (target 80 %)",
               "language": "en", "source_event_id": "al-1", "published_at": _TS,
               "expires_at": "2026-11-23T09:30:00Z"}),
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


