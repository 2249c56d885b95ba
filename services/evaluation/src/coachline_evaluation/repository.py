"""PostgreSQL storage of evaluation (asyncpg); the only module with SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from coachline.envelope import CloudEvent
from coachline.persistence import first_delivery
from coachline_evaluation.domain.evaluations import Evaluation
from coachline_evaluation.domain.sampling import PoolEntry

Enqueue = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]

_POOL_COLUMNS = (
    "tenant_id, interaction_id, agent_id, team_id, queue_id, channel, completed_at, talk_s, hold_s,"
    " after_contact_work_s, transferred"
)
_EVALUATION_COLUMNS = (
    "evaluation_id, tenant_id, interaction_id, agent_id, evaluator_id, scorecard_id, scorecard_version, score,"
    " critical_failed, submitted_at"
)


class PostgresRepository:
    """Storage on one connection, inside the transaction its unit of work opened."""

    def __init__(self, conn: asyncpg.Connection, enqueue: Enqueue) -> None:
        self._conn = conn
        self._enqueue = enqueue

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        return await first_delivery(self._conn, consumer, event_id)

    async def save_pool_entry(self, entry: PoolEntry) -> None:
        # A later report of the same agent's handling (a platform correcting its times) replaces the earlier one.
        await self._conn.execute(
            f"INSERT INTO sampling_pool ({_POOL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (tenant_id, interaction_id, agent_id) DO UPDATE SET"
            " team_id = EXCLUDED.team_id, queue_id = EXCLUDED.queue_id, channel = EXCLUDED.channel,"
            " completed_at = EXCLUDED.completed_at, talk_s = EXCLUDED.talk_s, hold_s = EXCLUDED.hold_s,"
            " after_contact_work_s = EXCLUDED.after_contact_work_s, transferred = EXCLUDED.transferred",
            entry.tenant_id,
            entry.interaction_id,
            entry.agent_id,
            entry.team_id,
            entry.queue_id,
            entry.channel.value,
            entry.completed_at,
            entry.talk_s,
            entry.hold_s,
            entry.after_contact_work_s,
            entry.transferred,
        )

    async def pool_entries(self, tenant_id: str, interaction_id: str) -> list[PoolEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_POOL_COLUMNS} FROM sampling_pool WHERE tenant_id = $1 AND interaction_id = $2"
            " ORDER BY agent_id",
            tenant_id,
            interaction_id,
        )
        return [PoolEntry.model_validate(dict(r)) for r in rows]

    async def list_pool(self, tenant_id: str, agent_id: str | None, limit: int) -> list[PoolEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_POOL_COLUMNS} FROM sampling_pool"
            " WHERE tenant_id = $1 AND ($2::text IS NULL OR agent_id = $2)"
            " ORDER BY completed_at DESC, interaction_id, agent_id LIMIT $3",
            tenant_id,
            agent_id,
            limit,
        )
        return [PoolEntry.model_validate(dict(r)) for r in rows]

    async def add_evaluation(self, evaluation: Evaluation) -> None:
        await self._conn.execute(
            f"INSERT INTO evaluations ({_EVALUATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            evaluation.evaluation_id,
            evaluation.tenant_id,
            evaluation.interaction_id,
            evaluation.agent_id,
            evaluation.evaluator_id,
            evaluation.scorecard_id,
            evaluation.scorecard_version,
            evaluation.score,
            evaluation.critical_failed,
            evaluation.submitted_at,
        )

    async def get_evaluation(self, tenant_id: str, evaluation_id: str) -> Evaluation | None:
        row = await self._conn.fetchrow(
            f"SELECT {_EVALUATION_COLUMNS} FROM evaluations WHERE tenant_id = $1 AND evaluation_id = $2",
            tenant_id,
            evaluation_id,
        )
        return Evaluation.model_validate(dict(row)) if row else None

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
