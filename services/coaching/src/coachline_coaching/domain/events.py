"""The ``coaching.v1`` events HR systems read, built from the domain's records.

Free text (session notes, action descriptions) goes out only when the tenant opted in.
"""

from __future__ import annotations

from datetime import date, datetime

from coachline.contracts.coaching import (
    CoachingActionAgreed,
    CoachingActionCompleted,
    CoachingGoalAchieved,
    CoachingGoalMissed,
    CoachingGoalSet,
    CoachingPeriodClosed,
    CoachingPeriodStarted,
    CoachingSessionHeld,
    CoachingSessionMissed,
    CoachingSessionRecorded,
    CoachingSessionScheduled,
)
from coachline.envelope import CloudEvent, new_event
from coachline_coaching.domain.goals import Goal, GoalStatus
from coachline_coaching.domain.periods import CoachingPeriod, PeriodSummary
from coachline_coaching.domain.sessions import AgreedAction, CoachingSession, on_time

SOURCE = "coachline/coaching"


def _event(type_name: str, tenant_id: str, data: object, subject: str, at: datetime) -> CloudEvent:
    return new_event(type_name, tenant_id, data, source=SOURCE, subject=subject, time=at)  # type: ignore[arg-type]


def period_started(tenant_id: str, period: CoachingPeriod) -> CloudEvent:
    return _event("coaching.period.started.v1", tenant_id, CoachingPeriodStarted(
        period_id=period.period_id, agent_id=period.agent_id, team_id=period.team_id, starts_on=period.starts_on,
        ends_on=period.ends_on, participants=period.participants), period.period_id, period.opened_at)


def period_closed(tenant_id: str, period: CoachingPeriod, summary: PeriodSummary, at: datetime) -> CloudEvent:
    return _event("coaching.period.closed.v1", tenant_id, CoachingPeriodClosed(
        period_id=period.period_id, agent_id=period.agent_id, starts_on=period.starts_on, ends_on=period.ends_on,
        closed_on=summary.closed_on, goals_achieved=summary.goals_achieved, goals_missed=summary.goals_missed,
        sessions_held=summary.sessions_held, sessions_missed=summary.sessions_missed), period.period_id, at)


def session_scheduled(session: CoachingSession) -> CloudEvent:
    assert session.planned_on is not None
    return _event("coaching.session.scheduled.v1", session.tenant_id, CoachingSessionScheduled(
        session_id=session.session_id, period_id=session.period_id, agent_id=session.agent_id,
        coach_id=session.coach_id, kind=session.kind, planned_on=session.planned_on),
        session.session_id, session.recorded_at)


def session_held(session: CoachingSession, *, actions_agreed: int, notes_in_events: bool,
                 at: datetime) -> list[CloudEvent]:
    """``coaching.session.held.v1``, and ``coaching.session.recorded.v1`` for its earlier subscribers."""
    assert session.held_at is not None
    notes = session.summary if notes_in_events else None
    held = CoachingSessionHeld(
        session_id=session.session_id, period_id=session.period_id, agent_id=session.agent_id,
        coach_id=session.coach_id, kind=session.kind, planned_on=session.planned_on, held_on=session.held_at.date(),
        held_at=session.held_at, on_time=on_time(session), evaluation_ids=session.evaluation_ids,
        actions_agreed=actions_agreed, notes=notes)
    recorded = CoachingSessionRecorded(
        session_id=session.session_id, agent_id=session.agent_id, coach_id=session.coach_id, kind=session.kind,
        planned_on=session.planned_on, held_at=session.held_at, summary=notes,
        evaluation_ids=session.evaluation_ids)
    return [_event("coaching.session.held.v1", session.tenant_id, held, session.session_id, at),
            _event("coaching.session.recorded.v1", session.tenant_id, recorded, session.session_id, at)]


def session_missed(session: CoachingSession, at: datetime) -> CloudEvent:
    assert session.planned_on is not None and session.missed_on is not None
    return _event("coaching.session.missed.v1", session.tenant_id, CoachingSessionMissed(
        session_id=session.session_id, period_id=session.period_id, agent_id=session.agent_id,
        coach_id=session.coach_id, kind=session.kind, planned_on=session.planned_on, missed_on=session.missed_on),
        session.session_id, at)


def goal_set(tenant_id: str, goal: Goal) -> CloudEvent:
    return _event("coaching.goal.set.v1", tenant_id, CoachingGoalSet(
        goal_id=goal.goal_id, period_id=goal.period_id, agent_id=goal.agent_id, kind=goal.kind, corner=goal.corner,
        kpi=goal.kpi, target=goal.target, due_on=goal.due_on), goal.goal_id, goal.set_at)


def goal_decided(tenant_id: str, goal: Goal, at: datetime) -> CloudEvent:
    assert goal.decided_on is not None
    fields = {"goal_id": goal.goal_id, "period_id": goal.period_id, "agent_id": goal.agent_id, "kind": goal.kind,
              "corner": goal.corner, "kpi": goal.kpi, "target": goal.target, "value": goal.value,
              "decided_on": goal.decided_on}
    if goal.status is GoalStatus.ACHIEVED:
        achieved = CoachingGoalAchieved.model_validate(fields)
        return _event("coaching.goal.achieved.v1", tenant_id, achieved, goal.goal_id, at)
    return _event("coaching.goal.missed.v1", tenant_id, CoachingGoalMissed.model_validate(fields), goal.goal_id, at)


def action_agreed(tenant_id: str, action: AgreedAction, *, notes_in_events: bool) -> CloudEvent:
    return _event("coaching.action.agreed.v1", tenant_id, CoachingActionAgreed(
        action_id=action.action_id, session_id=action.session_id, period_id=action.period_id,
        agent_id=action.agent_id, owner=action.owner, due_on=action.due_on,
        description=action.description if notes_in_events else None), action.action_id, action.agreed_at)


def action_completed(tenant_id: str, action: AgreedAction, at: datetime) -> CloudEvent:
    completed_on: date = action.completed_on or at.date()
    return _event("coaching.action.completed.v1", tenant_id, CoachingActionCompleted(
        action_id=action.action_id, session_id=action.session_id, period_id=action.period_id,
        agent_id=action.agent_id, owner=action.owner, due_on=action.due_on, completed_on=completed_on),
        action.action_id, at)
