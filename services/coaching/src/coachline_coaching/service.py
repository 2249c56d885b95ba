"""Use cases of coaching: periods, goals, sessions, agreed actions, the agent's timeline, suggestions.

Every use case runs in one tenant transaction of a unit of work, so a change and the ``coaching.v1``
events announcing it commit together or not at all. Who may do what is decided here from the caller's
token and the roster (see :mod:`coachline_coaching.domain.access`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from coachline.auth import Principal, Role
from coachline.contracts.coaching import GoalKind
from coachline.contracts.evaluations import EvaluationDisputeResolved, EvaluationSubmitted
from coachline.contracts.kpi import KpiAlertRaised, Scope
from coachline.contracts.roster import AgentRostered, TeamRostered
from coachline.envelope import CloudEvent
from coachline_coaching.domain import events
from coachline_coaching.domain.access import Placement, is_the_agent, may_coach, may_view
from coachline_coaching.domain.evidence import AgentEvaluation, agent_evaluation, criterion_results, missing_evidence
from coachline_coaching.domain.goals import (
    Goal,
    GoalDecision,
    GoalProgress,
    GoalStatus,
    Measurement,
    SetGoal,
    decide,
    effect,
    goal_from,
    meets,
    progress,
)
from coachline_coaching.domain.periods import (
    ClosePeriod,
    CoachingPeriod,
    OpenPeriod,
    PeriodLength,
    PeriodStatus,
    PeriodSummary,
    period_end,
    previous_window,
    require_open,
)
from coachline_coaching.domain.sessions import (
    ActionStatus,
    AgreedAction,
    CoachingSession,
    HoldSession,
    PlanSession,
    Reflection,
    SessionStatus,
    TimelineEntry,
    WriteReflection,
    agreed,
    follow_up,
    hold,
    miss,
    planned_session,
    timeline,
)
from coachline_coaching.domain.suggestions import StoredSuggestion, Thresholds, from_alert, from_evaluations

if TYPE_CHECKING:
    # Storage as the use cases see it inside one tenant transaction; PostgreSQL is the one implementation.
    from coachline_coaching.repository import PostgresRepository as Repository

# Inbox names of the projections; they stay fixed when the consumer group is renamed.
AGENT_EVALUATIONS = "agent-evaluations"
KPI_ALERTS = "kpi-alerts"
ROSTER = "roster"


class UnitOfWork(Protocol):
    def transaction(self, tenant_id: str) -> AbstractAsyncContextManager[Repository]:
        """A repository for ``tenant_id`` whose changes commit when the block ends, or roll back if it raises."""
        ...


class KpiSource(Protocol):
    """The port to the KPI service: one KPI of a scope summed over some days, with its sample."""

    async def measure(self, tenant_id: str, kpi: str, scope: Scope, scope_id: str, first: date,
                      last: date) -> Measurement: ...


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class Forbidden(PermissionError):
    pass


class NotFound(LookupError):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class Conflict(Exception):
    """The request is valid but clashes with the current state (409)."""


class Invalid(ValueError):
    """The request is well-formed but names something that does not fit (422, naming the field)."""

    def __init__(self, field: str, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.field = field
        self.extensions = extensions


@dataclass(frozen=True)
class Policy:
    """The service's configurable rules."""

    length: PeriodLength
    thresholds: Thresholds


Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# Access -------------------------------------------------------------------------------------------


async def _may_view(repo: Repository, caller: Principal, agent_id: str) -> Placement:
    agent = await repo.placement(agent_id)
    if not may_view(caller, agent):
        raise Forbidden(f"you may not see the coaching record of {agent_id}")
    return agent


async def _may_coach(repo: Repository, caller: Principal, agent_id: str) -> Placement:
    agent = await repo.placement(agent_id)
    if not may_coach(caller, agent):
        raise Forbidden(f"you do not coach {agent_id}")
    return agent


# Consumers ----------------------------------------------------------------------------------------


async def take_evaluation(uow: UnitOfWork, event: CloudEvent, thresholds: Thresholds,
                          clock: Clock = _now) -> Outcome:
    """Keep an evaluation as evidence (a resolved dispute replaces its score), then re-run the rules."""
    data = event.data
    if not isinstance(data, EvaluationSubmitted | EvaluationDisputeResolved):
        return Outcome.IGNORED
    async with uow.transaction(event.tenant_id) as repo:
        if not await repo.first_delivery(AGENT_EVALUATIONS, event.id):
            return Outcome.DUPLICATE
        if isinstance(data, EvaluationSubmitted):
            await repo.save_evaluation(agent_evaluation(event.tenant_id, data),
                                       criterion_results(data.evaluation_id, data))
        else:
            criteria = criterion_results(data.evaluation_id, data)  # type: ignore[arg-type]
            if not await repo.rescore_evaluation(data.evaluation_id, data.score, data.critical_failed, criteria):
                return Outcome.IGNORED
        evaluations = await repo.scored_evaluations(data.agent_id, limit=max(50, thresholds.lookback * 3))
        for suggestion in from_evaluations(data.agent_id, evaluations, thresholds):
            await repo.raise_suggestion(_new_id("sg"), suggestion, clock())
    return Outcome.RECORDED


async def take_alert(uow: UnitOfWork, event: CloudEvent, clock: Clock = _now) -> Outcome:
    """An agent's KPI alert becomes a suggested focus for their next session."""
    if not isinstance(event.data, KpiAlertRaised):
        return Outcome.IGNORED
    suggestion = from_alert(event.data.alert_id, event.data)
    if suggestion is None:
        return Outcome.IGNORED
    async with uow.transaction(event.tenant_id) as repo:
        if not await repo.first_delivery(KPI_ALERTS, event.id):
            return Outcome.DUPLICATE
        await repo.raise_suggestion(_new_id("sg"), suggestion, clock())
    return Outcome.RECORDED


async def take_roster(uow: UnitOfWork, event: CloudEvent) -> Outcome:
    """Agents' teams and teams' units decide who coaches and sees whom."""
    data = event.data
    if not isinstance(data, AgentRostered | TeamRostered):
        return Outcome.IGNORED
    async with uow.transaction(event.tenant_id) as repo:
        if not await repo.first_delivery(ROSTER, event.id):
            return Outcome.DUPLICATE
        if isinstance(data, AgentRostered):
            await repo.roster_agent(data.agent_id, data.team_id, data.active, data.occurred_at)
        else:
            await repo.roster_team(data.team_id, data.unit_id, data.occurred_at)
    return Outcome.RECORDED


# Periods and goals --------------------------------------------------------------------------------


class PeriodView(BaseModel):
    period: CoachingPeriod
    goals: list[Goal]
    sessions: list[CoachingSession]
    actions: list[AgreedAction]
    summary: PeriodSummary | None


async def open_period(uow: UnitOfWork, caller: Principal, command: OpenPeriod, length: PeriodLength,
                      clock: Clock = _now) -> CoachingPeriod:
    try:
        ends_on = period_end(command, length)
    except ValueError as exc:
        raise Invalid("ends_on", str(exc)) from None
    async with uow.transaction(caller.tenant_id) as repo:
        agent = await _may_coach(repo, caller, command.agent_id)
        period = CoachingPeriod(
            period_id=_new_id("cp"), agent_id=command.agent_id, team_id=agent.team_id, starts_on=command.starts_on,
            ends_on=ends_on, status=PeriodStatus.OPEN, opened_by=caller.subject, opened_at=clock(),
            participants=command.participants,
        )
        if not await repo.add_period(period):
            raise Conflict(f"{command.agent_id} already has an open coaching period; close it first")
        await repo.enqueue(events.period_started(caller.tenant_id, period))
    return period


async def _period(repo: Repository, caller: Principal, period_id: str, *, coach: bool,
                  lock: bool = False) -> CoachingPeriod:
    period = await repo.get_period(period_id, lock=lock)
    if period is None:
        raise NotFound("coaching period")
    await (_may_coach if coach else _may_view)(repo, caller, period.agent_id)
    return period


async def view_period(uow: UnitOfWork, caller: Principal, period_id: str) -> PeriodView:
    async with uow.transaction(caller.tenant_id) as repo:
        period = await _period(repo, caller, period_id, coach=False)
        return PeriodView(period=period, goals=await repo.period_goals(period_id),
                          sessions=await repo.sessions(period_id=period_id),
                          actions=await repo.actions(period_id=period_id),
                          summary=await repo.period_summary(period_id))


async def agent_periods(uow: UnitOfWork, caller: Principal, agent_id: str) -> list[CoachingPeriod]:
    async with uow.transaction(caller.tenant_id) as repo:
        await _may_view(repo, caller, agent_id)
        return await repo.agent_periods(agent_id)


async def set_goal(uow: UnitOfWork, caller: Principal, period_id: str, command: SetGoal,
                   clock: Clock = _now) -> Goal:
    async with uow.transaction(caller.tenant_id) as repo:
        period = await _period(repo, caller, period_id, coach=True, lock=True)
        require_open(period, "given new goals")
        if not period.starts_on <= command.due_on <= period.ends_on:
            raise Invalid("due_on", f"a goal is due within its period ({period.starts_on} to {period.ends_on})")
        if command.scope is Scope.TEAM and period.team_id is None:
            raise Invalid("scope", "the agent has no team in the roster, so a team goal has nothing to measure")
        goal = goal_from(command, goal_id=_new_id("g"), period_id=period_id, agent_id=period.agent_id, now=clock())
        await repo.save_goal(goal)
        await repo.enqueue(events.goal_set(caller.tenant_id, goal))
    return goal


async def decide_goal(uow: UnitOfWork, caller: Principal, goal_id: str, outcome: GoalDecision,
                      clock: Clock = _now) -> Goal:
    async with uow.transaction(caller.tenant_id) as repo:
        goal = await repo.get_goal(goal_id, lock=True)
        if goal is None:
            raise NotFound("goal")
        await _may_coach(repo, caller, goal.agent_id)
        now = clock()
        decided = decide(goal, outcome, on=now.date())
        await repo.save_goal(decided)
        await repo.enqueue(events.goal_decided(caller.tenant_id, decided, now))
    return decided


def _scope_id(goal: Goal, period: CoachingPeriod) -> str:
    return period.team_id if goal.scope is Scope.TEAM and period.team_id else period.agent_id


async def goal_progress(uow: UnitOfWork, kpis: KpiSource, caller: Principal, goal_id: str,
                        clock: Clock = _now) -> GoalProgress:
    """A KPI goal's figure from the start of its period to today (or the period's end), from the KPI service."""
    async with uow.transaction(caller.tenant_id) as repo:
        goal = await repo.get_goal(goal_id)
        if goal is None:
            raise NotFound("goal")
        period = await _period(repo, caller, goal.period_id, coach=False)
    if goal.kind is not GoalKind.KPI or goal.kpi is None:
        raise Conflict("a behavioural goal is observed, not measured; it has no KPI progress")
    last = min(clock().date(), period.ends_on)
    current = await kpis.measure(caller.tenant_id, goal.kpi, goal.scope or Scope.AGENT, _scope_id(goal, period),
                                 period.starts_on, last)
    return progress(goal, current, measured_from=period.starts_on, measured_to=last)


async def close_period(uow: UnitOfWork, kpis: KpiSource, caller: Principal, period_id: str, command: ClosePeriod,
                       clock: Clock = _now) -> PeriodSummary:
    """Close with the look back: goals decided (KPI goals left open by their measured value), and the effect
    of each KPI goal over the period against the same number of days before it, with both sample sizes."""
    async with uow.transaction(caller.tenant_id) as repo:
        period = await _period(repo, caller, period_id, coach=True)
        require_open(period, "closed again")
        goals = await repo.period_goals(period_id)
    unknown = sorted(set(command.decisions) - {g.goal_id for g in goals})
    if unknown:
        raise Invalid("decisions", "these goals are not goals of this period", goal_ids=unknown)
    # Measured outside the transaction: the KPI service may be slow, and no row is held meanwhile.
    before_from, before_to = previous_window(period.starts_on, period.ends_on)
    measured: dict[str, tuple[Measurement, Measurement]] = {}
    for goal in goals:
        if goal.kpi is not None:
            scope, scope_id = goal.scope or Scope.AGENT, _scope_id(goal, period)
            before = await kpis.measure(caller.tenant_id, goal.kpi, scope, scope_id, before_from, before_to)
            during = await kpis.measure(caller.tenant_id, goal.kpi, scope, scope_id, period.starts_on, period.ends_on)
            measured[goal.goal_id] = (before, during)
    now = clock()
    decided: list[Goal] = []
    undecidable: list[str] = []
    for goal in goals:
        if goal.status is not GoalStatus.OPEN:
            decided.append(goal)
            continue
        value = measured[goal.goal_id][1].value if goal.goal_id in measured else None
        outcome = command.decisions.get(goal.goal_id)
        if outcome is None and value is not None and goal.kpi is not None and goal.target is not None:
            outcome = "achieved" if meets(goal.kpi, value, goal.target) else "missed"
        if outcome is None:
            undecidable.append(goal.goal_id)
            continue
        decided.append(decide(goal, outcome, on=now.date(), value=value))
    if undecidable:
        raise Invalid("decisions", "decide these goals: behavioural goals, or KPI goals without enough data",
                      goal_ids=undecidable)
    async with uow.transaction(caller.tenant_id) as repo:
        period = await _period(repo, caller, period_id, coach=True, lock=True)
        require_open(period, "closed again")
        sessions = await repo.sessions(period_id=period_id)
        summary = PeriodSummary(
            period_id=period_id, closed_on=now.date(),
            goals_achieved=sum(g.status is GoalStatus.ACHIEVED for g in decided),
            goals_missed=sum(g.status is GoalStatus.MISSED for g in decided),
            sessions_held=sum(s.status is SessionStatus.HELD for s in sessions),
            sessions_missed=sum(s.status is SessionStatus.MISSED for s in sessions),
            goals=decided,
            effects=[effect(g, before_from=before_from, before_to=before_to, before=measured[g.goal_id][0],
                            during=measured[g.goal_id][1]) for g in decided if g.goal_id in measured],
        )
        previous = {g.goal_id: g for g in goals}
        for goal in decided:
            if previous[goal.goal_id].status is GoalStatus.OPEN:
                await repo.save_goal(goal)
                await repo.enqueue(events.goal_decided(caller.tenant_id, goal, now))
        await repo.close_period(period_id, summary)
        await repo.enqueue(events.period_closed(caller.tenant_id, period, summary, now))
    return summary


# Sessions and actions -----------------------------------------------------------------------------


async def _check_evidence(repo: Repository, agent_id: str, evaluation_ids: list[str]) -> None:
    if evaluation_ids:
        evidence = await repo.agent_evaluations(agent_id, evaluation_ids=evaluation_ids)
        if missing := missing_evidence(evaluation_ids, evidence):
            raise Invalid("evaluation_ids", "these are not evaluations of this agent that coaching has received",
                          evaluation_ids=missing)


async def _hold(repo: Repository, caller: Principal, session: CoachingSession, command: HoldSession,
                now: datetime) -> CoachingSession:
    if command.held_at > now:
        raise Invalid("held_at", "a session cannot be recorded as held in the future")
    await _check_evidence(repo, session.agent_id, command.evaluation_ids)
    held = hold(session, command)
    followed: list[AgreedAction] = []
    for item in command.follow_ups:
        action = await repo.get_action(item.action_id, lock=True)
        if action is None or action.agent_id != session.agent_id:
            raise Invalid("follow_ups", f"{item.action_id} is not an action agreed with this agent")
        if item.status is ActionStatus.OPEN:
            continue
        followed.append(follow_up(action, item.status, session_id=session.session_id, on=held.held_at.date()))  # type: ignore[union-attr]
    await repo.save_session(held)
    notes_in_events = await repo.notes_in_events()
    new_actions = [agreed(a, action_id=_new_id("ac"), session=held, now=now) for a in command.actions]
    for action in new_actions:
        await repo.save_action(action)
    for action in followed:
        await repo.save_action(action)
    for event in events.session_held(held, actions_agreed=len(new_actions), notes_in_events=notes_in_events, at=now):
        await repo.enqueue(event)
    for action in new_actions:
        await repo.enqueue(events.action_agreed(caller.tenant_id, action, notes_in_events=notes_in_events))
    for action in followed:
        if action.status is ActionStatus.COMPLETED:
            await repo.enqueue(events.action_completed(caller.tenant_id, action, now))
    return held


async def plan_session(uow: UnitOfWork, caller: Principal, command: PlanSession,
                       clock: Clock = _now) -> CoachingSession:
    """Schedule a session (``coaching.session.scheduled.v1``), or record one held already."""
    now = clock()
    async with uow.transaction(caller.tenant_id) as repo:
        await _may_coach(repo, caller, command.agent_id)
        if command.period_id is not None:
            period = await repo.get_period(command.period_id, lock=True)
            if period is None or period.agent_id != command.agent_id:
                raise Invalid("period_id", "not a coaching period of this agent")
            require_open(period, "given new sessions")
        session = planned_session(command, tenant_id=caller.tenant_id, session_id=_new_id("cs"), now=now)
        if command.held is None:
            await repo.save_session(session)
            await repo.enqueue(events.session_scheduled(session))
            return session
        if session.planned_on is not None:
            await repo.save_session(session)
            await repo.enqueue(events.session_scheduled(session))
        return await _hold(repo, caller, session, command.held, now)


async def _session(repo: Repository, caller: Principal, session_id: str, *, coach: bool,
                   lock: bool = False) -> CoachingSession:
    session = await repo.get_session(session_id, lock=lock)
    if session is None:
        raise NotFound("coaching session")
    await (_may_coach if coach else _may_view)(repo, caller, session.agent_id)
    return session


async def hold_session(uow: UnitOfWork, caller: Principal, session_id: str, command: HoldSession,
                       clock: Clock = _now) -> CoachingSession:
    async with uow.transaction(caller.tenant_id) as repo:
        session = await _session(repo, caller, session_id, coach=True, lock=True)
        return await _hold(repo, caller, session, command, clock())


async def miss_session(uow: UnitOfWork, caller: Principal, session_id: str, clock: Clock = _now) -> CoachingSession:
    now = clock()
    async with uow.transaction(caller.tenant_id) as repo:
        session = await _session(repo, caller, session_id, coach=True, lock=True)
        missed = miss(session, now.date())
        await repo.save_session(missed)
        await repo.enqueue(events.session_missed(missed, now))
    return missed


async def find_session(uow: UnitOfWork, caller: Principal, session_id: str) -> CoachingSession:
    async with uow.transaction(caller.tenant_id) as repo:
        return await _session(repo, caller, session_id, coach=False)


async def complete_action(uow: UnitOfWork, caller: Principal, action_id: str, clock: Clock = _now) -> AgreedAction:
    """The coach marks any action done; the agent their own (owner ``agent``)."""
    now = clock()
    async with uow.transaction(caller.tenant_id) as repo:
        action = await repo.get_action(action_id, lock=True)
        if action is None:
            raise NotFound("agreed action")
        agent = await _may_view(repo, caller, action.agent_id)
        if not may_coach(caller, agent) and action.owner.value != "agent":
            raise Forbidden("only the coach marks the coach's actions done")
        done = follow_up(action, ActionStatus.COMPLETED, session_id=None, on=now.date())
        await repo.save_action(done)
        await repo.enqueue(events.action_completed(caller.tenant_id, done, now))
    return done


async def write_reflection(uow: UnitOfWork, caller: Principal, session_id: str, command: WriteReflection,
                           clock: Clock = _now) -> Reflection:
    """The agent's own reflection on a session: only the agent writes on their timeline."""
    async with uow.transaction(caller.tenant_id) as repo:
        session = await _session(repo, caller, session_id, coach=False)
        if not is_the_agent(caller, await repo.placement(session.agent_id)):
            raise Forbidden("only the agent writes reflections on their own sessions")
        reflection = Reflection(reflection_id=_new_id("rf"), session_id=session_id, agent_id=session.agent_id,
                                text=command.text, written_at=clock())
        await repo.add_reflection(reflection)
    return reflection


async def agent_timeline(uow: UnitOfWork, caller: Principal, agent_id: str) -> list[TimelineEntry]:
    async with uow.transaction(caller.tenant_id) as repo:
        await _may_view(repo, caller, agent_id)
        return timeline(await repo.sessions(agent_id=agent_id), await repo.actions(agent_id=agent_id),
                        await repo.reflections(agent_id))


async def agent_actions(uow: UnitOfWork, caller: Principal, agent_id: str) -> list[AgreedAction]:
    async with uow.transaction(caller.tenant_id) as repo:
        await _may_view(repo, caller, agent_id)
        return await repo.actions(agent_id=agent_id)


async def agent_evaluations(uow: UnitOfWork, caller: Principal, agent_id: str, limit: int) -> list[AgentEvaluation]:
    """The agent's evaluations, most recently submitted first."""
    async with uow.transaction(caller.tenant_id) as repo:
        await _may_view(repo, caller, agent_id)
        return await repo.agent_evaluations(agent_id, limit=limit)


async def agent_suggestions(uow: UnitOfWork, caller: Principal, agent_id: str) -> list[StoredSuggestion]:
    """Focus areas the rules propose for the agent's next session; for their coaches."""
    async with uow.transaction(caller.tenant_id) as repo:
        await _may_coach(repo, caller, agent_id)
        return await repo.suggestions(agent_id)


async def set_notes_in_events(uow: UnitOfWork, caller: Principal, value: bool) -> None:
    if not caller.has(Role.ADMIN):
        raise Forbidden("only an admin changes the tenant's settings")
    async with uow.transaction(caller.tenant_id) as repo:
        await repo.set_notes_in_events(value)


async def notes_in_events(uow: UnitOfWork, caller: Principal) -> bool:
    async with uow.transaction(caller.tenant_id) as repo:
        return await repo.notes_in_events()

