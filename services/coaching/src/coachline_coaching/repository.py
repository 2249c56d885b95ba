"""PostgreSQL storage of coaching (asyncpg); the only module with SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from coachline.envelope import CloudEvent
from coachline.persistence import first_delivery
from coachline_coaching.domain.evidence import AgentEvaluation
from coachline_coaching.domain.sessions import CoachingSession

Enqueue = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]

_EVALUATION_COLUMNS = (
    "tenant_id, evaluation_id, agent_id, interaction_id, evaluator_id, scorecard_id, scorecard_version, score,"
    " critical_failed, submitted_at"
)
_SESSION_COLUMNS = "tenant_id, session_id, agent_id, coach_id, kind, planned_on, held_at, summary, recorded_at"


class PostgresRepository:
    """Storage on one connection, inside the transaction its unit of work opened."""

    def __init__(self, conn: asyncpg.Connection, enqueue: Enqueue) -> None:
        self._conn = conn
        self._enqueue = enqueue

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        return await first_delivery(self._conn, consumer, event_id)

    async def save_evaluation(self, evaluation: AgentEvaluation) -> None:
        # An evaluation republished under a new event id is still the same evaluation: keep the first.
        await self._conn.execute(
            f"INSERT INTO agent_evaluations ({_EVALUATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (tenant_id, evaluation_id) DO NOTHING",
            evaluation.tenant_id,
            evaluation.evaluation_id,
            evaluation.agent_id,
            evaluation.interaction_id,
            evaluation.evaluator_id,
            evaluation.scorecard_id,
            evaluation.scorecard_version,
            evaluation.score,
            evaluation.critical_failed,
            evaluation.submitted_at,
        )

    async def agent_evaluations(
        self, tenant_id: str, agent_id: str, *, evaluation_ids: list[str] | None = None, limit: int | None = None
    ) -> list[AgentEvaluation]:
        rows = await self._conn.fetch(
            f"SELECT {_EVALUATION_COLUMNS} FROM agent_evaluations"
            " WHERE tenant_id = $1 AND agent_id = $2 AND ($3::text[] IS NULL OR evaluation_id = ANY($3::text[]))"
            " ORDER BY submitted_at DESC, evaluation_id LIMIT $4",
            tenant_id,
            agent_id,
            evaluation_ids,
            limit,
        )
        return [AgentEvaluation.model_validate(dict(r)) for r in rows]

    async def add_session(self, session: CoachingSession) -> None:
        await self._conn.execute(
            f"INSERT INTO coaching_sessions ({_SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            session.tenant_id,
            session.session_id,
            session.agent_id,
            session.coach_id,
            session.kind.value,
            session.planned_on,
            session.held_at,
            session.summary,
            session.recorded_at,
        )
        await self._conn.executemany(
            "INSERT INTO session_evaluations (tenant_id, session_id, evaluation_id, position) VALUES ($1, $2, $3, $4)",
            [(session.tenant_id, session.session_id, e, i) for i, e in enumerate(session.evaluation_ids)],
        )

    async def get_session(self, tenant_id: str, session_id: str) -> CoachingSession | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SESSION_COLUMNS}, ARRAY(SELECT evaluation_id FROM session_evaluations e"
            "  WHERE e.tenant_id = s.tenant_id AND e.session_id = s.session_id ORDER BY position) AS evaluation_ids"
            " FROM coaching_sessions s WHERE tenant_id = $1 AND session_id = $2",
            tenant_id,
            session_id,
        )
        return CoachingSession.model_validate(dict(row)) if row else None

    async def enqueue(self, event: CloudEvent) -> None:
        await self._enqueue(self._conn, event)


class PostgresUnitOfWork:
    """Opens a transaction per use case on the service's pool."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], enqueue: Enqueue) -> None:
        # The pool exists only once the app has started, so it is looked up per transaction.
        self._pool = pool
        self._enqueue = enqueue

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresRepository]:
        async with self._pool().acquire() as conn, conn.transaction():
            yield PostgresRepository(conn, self._enqueue)
