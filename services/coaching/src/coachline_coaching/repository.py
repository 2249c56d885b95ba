"""PostgreSQL storage of coaching (asyncpg); the only module with SQL.

Every transaction runs for one tenant under row-level security (``tenant_transaction``), so a query
that forgot its tenant still cannot read or write another tenant's rows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from coachline.contracts.coaching import Participant
from coachline.persistence import Enqueue, TenantStore, tenant_transaction
from coachline_coaching.domain.access import Placement
from coachline_coaching.domain.evidence import AgentEvaluation
from coachline_coaching.domain.goals import Goal
from coachline_coaching.domain.periods import CoachingPeriod, PeriodSummary
from coachline_coaching.domain.sessions import AgreedAction, CoachingSession, Reflection
from coachline_coaching.domain.suggestions import (
    CriterionResult,
    Evidence,
    ScoredEvaluation,
    StoredSuggestion,
    Suggestion,
)

_EVALUATION_COLUMNS = (
    "tenant_id, evaluation_id, agent_id, interaction_id, evaluator_id, scorecard_id, scorecard_version, score,"
    " critical_failed, submitted_at, kind"
)
_SESSION_COLUMNS = (
    "tenant_id, session_id, agent_id, coach_id, kind, period_id, status, planned_on, held_at, missed_on, summary,"
    " interaction_ids, recorded_at"
)
_SESSION_SELECT = (
    f"SELECT {_SESSION_COLUMNS}, ARRAY(SELECT evaluation_id FROM session_evaluations e"
    "  WHERE e.tenant_id = s.tenant_id AND e.session_id = s.session_id ORDER BY position) AS evaluation_ids"
    " FROM coaching_sessions s"
)
_PERIOD_COLUMNS = "period_id, agent_id, team_id, starts_on, ends_on, status, opened_by, opened_at, closed_on"
_GOAL_COLUMNS = (
    "goal_id, period_id, agent_id, kind, corner, kpi, target, due_on, description, observed_by, status, value,"
    " decided_on, set_at"
)
_ACTION_COLUMNS = (
    "action_id, session_id, period_id, agent_id, owner, description, due_on, status, completed_on, followed_up_in,"
    " agreed_at"
)


def _goal(row: asyncpg.Record) -> Goal:
    return Goal.model_validate(dict(row))


class PostgresRepository(TenantStore):
    """Storage on one connection, inside the tenant transaction its unit of work opened."""

    # Evidence -------------------------------------------------------------------------------------

    async def save_evaluation(self, evaluation: AgentEvaluation, criteria: list[CriterionResult]) -> bool:
        """Store an evaluation and its criteria; False if it was stored before (the first version stays)."""
        inserted = await self._conn.fetchval(
            f"INSERT INTO agent_evaluations ({_EVALUATION_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (tenant_id, evaluation_id) DO NOTHING RETURNING 1",
            evaluation.tenant_id, evaluation.evaluation_id, evaluation.agent_id, evaluation.interaction_id,
            evaluation.evaluator_id, evaluation.scorecard_id, evaluation.scorecard_version, evaluation.score,
            evaluation.critical_failed, evaluation.submitted_at, evaluation.kind.value,
        )
        if inserted:
            await self._replace_criteria(evaluation.evaluation_id, criteria)
        return inserted is not None

    async def _replace_criteria(self, evaluation_id: str, criteria: list[CriterionResult]) -> None:
        await self._conn.execute("DELETE FROM evaluation_criteria WHERE tenant_id = $1 AND evaluation_id = $2",
                                 self.tenant_id, evaluation_id)
        await self._conn.executemany(
            "INSERT INTO evaluation_criteria (tenant_id, evaluation_id, criterion_id, section_id, applicable, earned,"
            " possible, critical_failed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (tenant_id, evaluation_id, criterion_id) DO NOTHING",
            [(self.tenant_id, evaluation_id, c.criterion_id, c.section_id, c.applicable, c.earned, c.possible,
              c.critical_failed) for c in criteria],
        )

    async def rescore_evaluation(self, evaluation_id: str, score: Any, critical_failed: bool,
                                 criteria: list[CriterionResult]) -> bool:
        """A resolved dispute's final score and criteria replace the earlier ones; False if unknown here."""
        updated = await self._conn.fetchval(
            "UPDATE agent_evaluations SET score = $3, critical_failed = $4"
            " WHERE tenant_id = $1 AND evaluation_id = $2 RETURNING 1",
            self.tenant_id, evaluation_id, score, critical_failed,
        )
        if updated:
            await self._replace_criteria(evaluation_id, criteria)
        return updated is not None

    async def agent_evaluations(
        self, agent_id: str, *, evaluation_ids: list[str] | None = None, limit: int | None = None
    ) -> list[AgentEvaluation]:
        rows = await self._conn.fetch(
            f"SELECT {_EVALUATION_COLUMNS} FROM agent_evaluations"
            " WHERE tenant_id = $1 AND agent_id = $2 AND ($3::text[] IS NULL OR evaluation_id = ANY($3::text[]))"
            " ORDER BY submitted_at DESC, evaluation_id LIMIT $4",
            self.tenant_id, agent_id, evaluation_ids, limit,
        )
        return [AgentEvaluation.model_validate(dict(r)) for r in rows]

    async def scored_evaluations(self, agent_id: str, limit: int) -> list[ScoredEvaluation]:
        """The agent's latest evaluations of every kind, with their criteria, for the suggestion rules."""
        rows = await self._conn.fetch(
            "SELECT evaluation_id, interaction_id, agent_id, kind, score, submitted_at,"
            " COALESCE((SELECT jsonb_agg(jsonb_build_object('evaluation_id', c.evaluation_id, 'criterion_id',"
            "   c.criterion_id, 'section_id', c.section_id, 'applicable', c.applicable, 'earned', c.earned::text,"
            "   'possible', c.possible::text, 'critical_failed', c.critical_failed) ORDER BY c.criterion_id)"
            "   FROM evaluation_criteria c WHERE c.tenant_id = a.tenant_id AND c.evaluation_id = a.evaluation_id),"
            "  '[]'::jsonb) AS criteria"
            " FROM agent_evaluations a WHERE tenant_id = $1 AND agent_id = $2"
            " ORDER BY submitted_at DESC, evaluation_id LIMIT $3",
            self.tenant_id, agent_id, limit,
        )
        return [ScoredEvaluation.model_validate({**dict(r), "criteria": json.loads(r["criteria"])}) for r in rows]

    # Roster and settings --------------------------------------------------------------------------

    async def roster_agent(self, agent_id: str, team_id: str | None, active: bool, at: datetime) -> None:
        # Roster events are compacted and may be replayed out of order: only a newer fact replaces.
        await self._conn.execute(
            "INSERT INTO roster_agents (tenant_id, agent_id, team_id, active, occurred_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (tenant_id, agent_id) DO UPDATE SET team_id = EXCLUDED.team_id, active = EXCLUDED.active,"
            "  occurred_at = EXCLUDED.occurred_at WHERE roster_agents.occurred_at <= EXCLUDED.occurred_at",
            self.tenant_id, agent_id, team_id, active, at,
        )

    async def roster_team(self, team_id: str, unit_id: str | None, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO roster_teams (tenant_id, team_id, unit_id, occurred_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (tenant_id, team_id) DO UPDATE SET unit_id = EXCLUDED.unit_id,"
            "  occurred_at = EXCLUDED.occurred_at WHERE roster_teams.occurred_at <= EXCLUDED.occurred_at",
            self.tenant_id, team_id, unit_id, at,
        )

    async def placement(self, agent_id: str) -> Placement:
        row = await self._conn.fetchrow(
            "SELECT a.team_id, t.unit_id FROM roster_agents a"
            " LEFT JOIN roster_teams t ON t.tenant_id = a.tenant_id AND t.team_id = a.team_id"
            " WHERE a.tenant_id = $1 AND a.agent_id = $2",
            self.tenant_id, agent_id,
        )
        if row is None:
            return Placement(agent_id)
        return Placement(agent_id, row["team_id"], row["unit_id"])

    async def notes_in_events(self) -> bool:
        value = await self._conn.fetchval("SELECT notes_in_events FROM tenant_settings WHERE tenant_id = $1",
                                          self.tenant_id)
        return bool(value)

    async def set_notes_in_events(self, value: bool) -> None:
        await self._conn.execute(
            "INSERT INTO tenant_settings (tenant_id, notes_in_events) VALUES ($1, $2)"
            " ON CONFLICT (tenant_id) DO UPDATE SET notes_in_events = EXCLUDED.notes_in_events",
            self.tenant_id, value,
        )

    # Periods and goals ----------------------------------------------------------------------------

    async def add_period(self, period: CoachingPeriod) -> bool:
        """Store a period; False if the agent already has an open one."""
        try:
            async with self._conn.transaction():
                await self._conn.execute(
                    f"INSERT INTO coaching_periods (tenant_id, {_PERIOD_COLUMNS})"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    self.tenant_id, period.period_id, period.agent_id, period.team_id, period.starts_on,
                    period.ends_on, period.status.value, period.opened_by, period.opened_at, period.closed_on,
                )
        except asyncpg.UniqueViolationError:
            return False
        await self._conn.executemany(
            "INSERT INTO period_participants (tenant_id, period_id, person_id, role, position)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(self.tenant_id, period.period_id, p.person_id, p.role.value, i)
             for i, p in enumerate(period.participants)],
        )
        return True

    async def get_period(self, period_id: str, *, lock: bool = False) -> CoachingPeriod | None:
        row = await self._conn.fetchrow(
            f"SELECT {_PERIOD_COLUMNS} FROM coaching_periods WHERE tenant_id = $1 AND period_id = $2"
            + (" FOR UPDATE" if lock else ""),
            self.tenant_id, period_id,
        )
        if row is None:
            return None
        people = await self._conn.fetch(
            "SELECT person_id, role FROM period_participants WHERE tenant_id = $1 AND period_id = $2 ORDER BY position",
            self.tenant_id, period_id,
        )
        return CoachingPeriod.model_validate({**dict(row), "participants": [Participant(**dict(p)) for p in people]})

    async def agent_periods(self, agent_id: str) -> list[CoachingPeriod]:
        ids = await self._conn.fetch(
            "SELECT period_id FROM coaching_periods WHERE tenant_id = $1 AND agent_id = $2 ORDER BY starts_on DESC",
            self.tenant_id, agent_id,
        )
        periods = [await self.get_period(r["period_id"]) for r in ids]
        return [p for p in periods if p is not None]

    async def close_period(self, period_id: str, summary: PeriodSummary) -> None:
        await self._conn.execute(
            "UPDATE coaching_periods SET status = 'closed', closed_on = $3, summary = $4::jsonb"
            " WHERE tenant_id = $1 AND period_id = $2",
            self.tenant_id, period_id, summary.closed_on, summary.model_dump_json(),
        )

    async def period_summary(self, period_id: str) -> PeriodSummary | None:
        raw = await self._conn.fetchval(
            "SELECT summary FROM coaching_periods WHERE tenant_id = $1 AND period_id = $2", self.tenant_id, period_id
        )
        return PeriodSummary.model_validate_json(raw) if raw else None

    async def save_goal(self, goal: Goal) -> None:
        await self._conn.execute(
            f"INSERT INTO goals (tenant_id, {_GOAL_COLUMNS}, scope)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            " ON CONFLICT (tenant_id, goal_id) DO UPDATE SET status = EXCLUDED.status, value = EXCLUDED.value,"
            "  decided_on = EXCLUDED.decided_on",
            self.tenant_id, goal.goal_id, goal.period_id, goal.agent_id, goal.kind.value, goal.corner.value, goal.kpi,
            goal.target, goal.due_on, goal.description, goal.observed_by, goal.status.value, goal.value,
            goal.decided_on, goal.set_at, goal.scope.value if goal.scope else None,
        )

    async def get_goal(self, goal_id: str, *, lock: bool = False) -> Goal | None:
        row = await self._conn.fetchrow(
            f"SELECT {_GOAL_COLUMNS}, scope FROM goals WHERE tenant_id = $1 AND goal_id = $2"
            + (" FOR UPDATE" if lock else ""),
            self.tenant_id, goal_id,
        )
        return _goal(row) if row else None

    async def period_goals(self, period_id: str) -> list[Goal]:
        rows = await self._conn.fetch(
            f"SELECT {_GOAL_COLUMNS}, scope FROM goals WHERE tenant_id = $1 AND period_id = $2"
            " ORDER BY set_at, goal_id",
            self.tenant_id, period_id,
        )
        return [_goal(r) for r in rows]

    # Sessions, actions, reflections ---------------------------------------------------------------

    async def save_session(self, session: CoachingSession) -> None:
        await self._conn.execute(
            f"INSERT INTO coaching_sessions ({_SESSION_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " ON CONFLICT (tenant_id, session_id) DO UPDATE SET status = EXCLUDED.status, held_at = EXCLUDED.held_at,"
            "  missed_on = EXCLUDED.missed_on, summary = EXCLUDED.summary, interaction_ids = EXCLUDED.interaction_ids",
            session.tenant_id, session.session_id, session.agent_id, session.coach_id, session.kind.value,
            session.period_id, session.status.value, session.planned_on, session.held_at, session.missed_on,
            session.summary, session.interaction_ids, session.recorded_at,
        )
        await self._conn.executemany(
            "INSERT INTO session_evaluations (tenant_id, session_id, evaluation_id, position) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING",
            [(session.tenant_id, session.session_id, e, i) for i, e in enumerate(session.evaluation_ids)],
        )

    async def get_session(self, session_id: str, *, lock: bool = False) -> CoachingSession | None:
        row = await self._conn.fetchrow(
            f"{_SESSION_SELECT} WHERE tenant_id = $1 AND session_id = $2" + (" FOR UPDATE" if lock else ""),
            self.tenant_id, session_id,
        )
        return CoachingSession.model_validate(dict(row)) if row else None

    async def sessions(self, *, agent_id: str | None = None, period_id: str | None = None) -> list[CoachingSession]:
        rows = await self._conn.fetch(
            f"{_SESSION_SELECT} WHERE tenant_id = $1 AND ($2::text IS NULL OR agent_id = $2)"
            " AND ($3::text IS NULL OR period_id = $3) ORDER BY recorded_at, session_id",
            self.tenant_id, agent_id, period_id,
        )
        return [CoachingSession.model_validate(dict(r)) for r in rows]

    async def save_action(self, action: AgreedAction) -> None:
        await self._conn.execute(
            f"INSERT INTO agreed_actions (tenant_id, {_ACTION_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (tenant_id, action_id) DO UPDATE SET status = EXCLUDED.status,"
            "  completed_on = EXCLUDED.completed_on, followed_up_in = EXCLUDED.followed_up_in",
            self.tenant_id, action.action_id, action.session_id, action.period_id, action.agent_id, action.owner.value,
            action.description, action.due_on, action.status.value, action.completed_on, action.followed_up_in,
            action.agreed_at,
        )

    async def get_action(self, action_id: str, *, lock: bool = False) -> AgreedAction | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ACTION_COLUMNS} FROM agreed_actions WHERE tenant_id = $1 AND action_id = $2"
            + (" FOR UPDATE" if lock else ""),
            self.tenant_id, action_id,
        )
        return AgreedAction.model_validate(dict(row)) if row else None

    async def actions(self, *, agent_id: str | None = None, period_id: str | None = None) -> list[AgreedAction]:
        rows = await self._conn.fetch(
            f"SELECT {_ACTION_COLUMNS} FROM agreed_actions WHERE tenant_id = $1"
            " AND ($2::text IS NULL OR agent_id = $2) AND ($3::text IS NULL OR period_id = $3)"
            " ORDER BY agreed_at, action_id",
            self.tenant_id, agent_id, period_id,
        )
        return [AgreedAction.model_validate(dict(r)) for r in rows]

    async def add_reflection(self, reflection: Reflection) -> None:
        await self._conn.execute(
            "INSERT INTO reflections (tenant_id, reflection_id, session_id, agent_id, text, written_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            self.tenant_id, reflection.reflection_id, reflection.session_id, reflection.agent_id, reflection.text,
            reflection.written_at,
        )

    async def reflections(self, agent_id: str) -> list[Reflection]:
        rows = await self._conn.fetch(
            "SELECT reflection_id, session_id, agent_id, text, written_at FROM reflections"
            " WHERE tenant_id = $1 AND agent_id = $2 ORDER BY written_at, reflection_id",
            self.tenant_id, agent_id,
        )
        return [Reflection.model_validate(dict(r)) for r in rows]

    # Suggestions ----------------------------------------------------------------------------------

    async def raise_suggestion(self, suggestion_id: str, suggestion: Suggestion, at: datetime) -> bool:
        """Store a suggestion, or refresh the evidence of the open one with the same focus; True if new."""
        evidence = json.dumps([e.model_dump() for e in suggestion.evidence])
        inserted = await self._conn.fetchval(
            "INSERT INTO suggestions (tenant_id, suggestion_id, agent_id, rule, focus, evidence, raised_at)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
            " ON CONFLICT (tenant_id, agent_id, rule, focus) DO UPDATE SET evidence = EXCLUDED.evidence"
            " RETURNING (xmax = 0)",
            self.tenant_id, suggestion_id, suggestion.agent_id, suggestion.rule.value, suggestion.focus, evidence, at,
        )
        return bool(inserted)

    async def suggestions(self, agent_id: str) -> list[StoredSuggestion]:
        rows = await self._conn.fetch(
            "SELECT suggestion_id, agent_id, rule, focus, evidence, raised_at FROM suggestions"
            " WHERE tenant_id = $1 AND agent_id = $2 ORDER BY raised_at DESC, suggestion_id",
            self.tenant_id, agent_id,
        )
        return [StoredSuggestion.model_validate({
            **dict(r), "evidence": [Evidence.model_validate(e) for e in json.loads(r["evidence"])]}) for r in rows]


class PostgresUnitOfWork:
    """Opens one tenant transaction per use case on the service's pool."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], enqueue: Enqueue) -> None:
        # The pool exists only once the app has started, so it is looked up per transaction.
        self._pool = pool
        self._enqueue = enqueue

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[PostgresRepository]:
        async with tenant_transaction(self._pool(), tenant_id) as conn:
            yield PostgresRepository(conn, tenant_id, self._enqueue)
