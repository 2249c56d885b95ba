"""PostgreSQL storage of evaluation (asyncpg); the only module with SQL.

Every tenant's work runs in :func:`coachline.persistence.tenant_transaction`, so row-level security
shows and accepts only that tenant's rows whatever a query says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import TypeVar

import asyncpg
from pydantic import BaseModel

from coachline.persistence import Enqueue, TenantStore, tenant_transaction
from coachline_evaluation.domain.evaluations import Evaluation
from coachline_evaluation.domain.sampling import PoolEntry

M = TypeVar("M", bound=BaseModel)

_POOL_COLUMNS = (
    "tenant_id, interaction_id, agent_id, team_id, queue_id, channel, completed_at, talk_s, hold_s,"
    " after_contact_work_s, transferred, customer_ref"
)


class PostgresRepository(TenantStore):
    """Storage on one connection, inside the transaction its unit of work opened for one tenant."""

    # Sampling pool and its inputs -------------------------------------------------------------

    async def save_pool_entry(self, entry: PoolEntry) -> None:
        # A later report of the same agent's handling (a platform correcting its times) replaces the earlier one.
        await self._conn.execute(
            f"INSERT INTO sampling_pool ({_POOL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (tenant_id, interaction_id, agent_id) DO UPDATE SET"
            " team_id = EXCLUDED.team_id, queue_id = EXCLUDED.queue_id, channel = EXCLUDED.channel,"
            " completed_at = EXCLUDED.completed_at, talk_s = EXCLUDED.talk_s, hold_s = EXCLUDED.hold_s,"
            " after_contact_work_s = EXCLUDED.after_contact_work_s, transferred = EXCLUDED.transferred,"
            " customer_ref = EXCLUDED.customer_ref",
            entry.tenant_id, entry.interaction_id, entry.agent_id, entry.team_id, entry.queue_id,
            entry.channel.value, entry.completed_at, entry.talk_s, entry.hold_s, entry.after_contact_work_s,
            entry.transferred, entry.customer_ref,
        )

    async def pool_entries(self, interaction_id: str) -> list[PoolEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_POOL_COLUMNS} FROM sampling_pool WHERE tenant_id = $1 AND interaction_id = $2"
            " ORDER BY agent_id",
            self.tenant_id, interaction_id,
        )
        return [PoolEntry.model_validate(dict(r)) for r in rows]

    async def list_pool(self, agent_id: str | None, limit: int) -> list[PoolEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_POOL_COLUMNS} FROM sampling_pool"
            " WHERE tenant_id = $1 AND ($2::text IS NULL OR agent_id = $2)"
            " ORDER BY completed_at DESC, interaction_id, agent_id LIMIT $3",
            self.tenant_id, agent_id, limit,
        )
        return [PoolEntry.model_validate(dict(r)) for r in rows]

    async def pool_between(self, start: datetime, end: datetime) -> list[PoolEntry]:
        rows = await self._conn.fetch(
            f"SELECT {_POOL_COLUMNS} FROM sampling_pool WHERE tenant_id = $1 AND completed_at >= $2"
            " AND completed_at < $3 ORDER BY agent_id, interaction_id",
            self.tenant_id, start, end,
        )
        return [PoolEntry.model_validate(dict(r)) for r in rows]

    async def save_survey(self, interaction_id: str, csat: int | None, nps: int | None, answered_at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO surveys (tenant_id, interaction_id, csat, nps, answered_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (tenant_id, interaction_id) DO UPDATE SET csat = EXCLUDED.csat, nps = EXCLUDED.nps,"
            " answered_at = EXCLUDED.answered_at WHERE surveys.answered_at <= EXCLUDED.answered_at",
            self.tenant_id, interaction_id, csat, nps, answered_at,
        )

    async def surveys(self, interaction_ids: Collection[str]) -> dict[str, tuple[int | None, int | None]]:
        rows = await self._conn.fetch(
            "SELECT interaction_id, csat, nps FROM surveys WHERE tenant_id = $1 AND interaction_id = ANY($2::text[])",
            self.tenant_id, list(interaction_ids),
        )
        return {r["interaction_id"]: (r["csat"], r["nps"]) for r in rows}

    async def save_agent(self, agent_id: str, team_id: str | None, started_on: date | None, active: bool,
                         as_of: datetime) -> None:
        # The latest roster event per agent is its truth; an older one arriving late changes nothing.
        await self._conn.execute(
            "INSERT INTO roster_agents (tenant_id, agent_id, team_id, started_on, active, as_of)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, agent_id) DO UPDATE SET"
            " team_id = EXCLUDED.team_id, started_on = EXCLUDED.started_on, active = EXCLUDED.active,"
            " as_of = EXCLUDED.as_of WHERE roster_agents.as_of <= EXCLUDED.as_of",
            self.tenant_id, agent_id, team_id, started_on, active, as_of,
        )

    async def agents(self) -> dict[str, tuple[str | None, date | None]]:
        rows = await self._conn.fetch(
            "SELECT agent_id, team_id, started_on FROM roster_agents WHERE tenant_id = $1", self.tenant_id)
        return {r["agent_id"]: (r["team_id"], r["started_on"]) for r in rows}

    async def mark_mystery_contact(self, interaction_id: str) -> None:
        await self._conn.execute(
            "INSERT INTO mystery_contacts (tenant_id, interaction_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            self.tenant_id, interaction_id,
        )

    async def mystery_contacts(self) -> set[str]:
        rows = await self._conn.fetch("SELECT interaction_id FROM mystery_contacts WHERE tenant_id = $1",
                                      self.tenant_id)
        return {r["interaction_id"] for r in rows}

    # Evaluations ---------------------------------------------------------------------------------

    async def save_evaluation(self, evaluation: Evaluation) -> None:
        await self._conn.execute(
            "INSERT INTO evaluations (tenant_id, evaluation_id, interaction_id, agent_id, team_id, evaluator_id,"
            " scorecard_id, scorecard_version, score, critical_failed, submitted_at, kind, state, calibration_id,"
            " release_on, document)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb)"
            " ON CONFLICT (tenant_id, evaluation_id) DO UPDATE SET score = EXCLUDED.score,"
            " critical_failed = EXCLUDED.critical_failed, submitted_at = EXCLUDED.submitted_at,"
            " state = EXCLUDED.state, release_on = EXCLUDED.release_on, document = EXCLUDED.document",
            evaluation.tenant_id, evaluation.evaluation_id, evaluation.interaction_id, evaluation.agent_id,
            evaluation.team_id, evaluation.evaluator_id, evaluation.scorecard_id, evaluation.scorecard_version,
            evaluation.score, evaluation.critical_failed, evaluation.submitted_at, evaluation.kind.value,
            evaluation.state.value, evaluation.calibration_id, evaluation.release_on, evaluation.model_dump_json(),
        )

    async def get_evaluation(self, evaluation_id: str) -> Evaluation | None:
        document = await self._conn.fetchval(
            "SELECT document::text FROM evaluations WHERE tenant_id = $1 AND evaluation_id = $2",
            self.tenant_id, evaluation_id,
        )
        return Evaluation.model_validate_json(document) if document else None

    async def find_evaluations(
        self, *, agent_id: str | None = None, team_ids: Collection[str] | None = None,
        evaluator_id: str | None = None, interaction_id: str | None = None, kind: str | None = None,
        states: Collection[str] | None = None, limit: int = 500,
    ) -> list[Evaluation]:
        rows = await self._conn.fetch(
            "SELECT document::text FROM evaluations WHERE tenant_id = $1"
            " AND ($2::text IS NULL OR agent_id = $2) AND ($3::text[] IS NULL OR team_id = ANY($3::text[]))"
            " AND ($4::text IS NULL OR evaluator_id = $4) AND ($5::text IS NULL OR interaction_id = $5)"
            " AND ($6::text IS NULL OR kind = $6) AND ($7::text[] IS NULL OR state = ANY($7::text[]))"
            " ORDER BY coalesce(submitted_at, (document->>'assigned_at')::timestamptz) DESC, evaluation_id"
            " LIMIT $8",
            self.tenant_id, agent_id, None if team_ids is None else list(team_ids), evaluator_id, interaction_id,
            kind, None if states is None else list(states), limit,
        )
        return [Evaluation.model_validate_json(r["document"]) for r in rows]

    async def evaluated_interactions(self) -> set[tuple[str, str]]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT interaction_id, agent_id FROM evaluations WHERE tenant_id = $1 AND kind = 'standard'",
            self.tenant_id,
        )
        return {(r["interaction_id"], r["agent_id"]) for r in rows}

    # Keyed documents -----------------------------------------------------------------------------

    async def put_record(self, kind: str, key: str, document: BaseModel) -> None:
        await self._conn.execute(
            "INSERT INTO records (tenant_id, kind, key, document) VALUES ($1, $2, $3, $4::jsonb)"
            " ON CONFLICT (tenant_id, kind, key) DO UPDATE SET document = EXCLUDED.document, updated_at = now()",
            self.tenant_id, kind, key, document.model_dump_json(),
        )

    async def get_record(self, kind: str, key: str, model: type[M]) -> M | None:
        document = await self._conn.fetchval(
            "SELECT document::text FROM records WHERE tenant_id = $1 AND kind = $2 AND key = $3",
            self.tenant_id, kind, key,
        )
        return model.model_validate_json(document) if document else None

    async def list_records(self, kind: str, model: type[M], key_prefix: str = "") -> list[M]:
        rows = await self._conn.fetch(
            "SELECT document::text FROM records WHERE tenant_id = $1 AND kind = $2"
            " AND starts_with(key, $3) ORDER BY key",
            self.tenant_id, kind, key_prefix,
        )
        return [model.model_validate_json(r["document"]) for r in rows]

    async def claim(self, kind: str, key: str) -> bool:
        """Record ``key`` once; False if it was recorded already (by this or a concurrent transaction)."""
        claimed = await self._conn.fetchval(
            "INSERT INTO records (tenant_id, kind, key, document) VALUES ($1, $2, $3, '{}'::jsonb)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            self.tenant_id, kind, key,
        )
        return claimed is not None


class PostgresUnitOfWork:
    """Opens a tenant's transaction per use case on the service's pool."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], enqueue: Enqueue) -> None:
        # The pool exists only once the app has started, so it is looked up per transaction.
        self._pool = pool
        self._enqueue = enqueue

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[PostgresRepository]:
        async with tenant_transaction(self._pool(), tenant_id) as conn:
            yield PostgresRepository(conn, tenant_id, self._enqueue)

    async def due_releases(self, today: date) -> list[tuple[str, str]]:
        """(tenant, evaluation) of scheduled releases that are due, across tenants (the service's own job)."""
        rows = await self._pool().fetch(
            "SELECT tenant_id, evaluation_id FROM evaluations WHERE release_on <= $1 AND state = 'submitted'"
            " ORDER BY release_on, tenant_id, evaluation_id LIMIT 1000",
            today,
        )
        return [(r["tenant_id"], r["evaluation_id"]) for r in rows]

    async def weekly_policies(self) -> list[tuple[str, str]]:
        """(tenant, policy) of every sampling policy that runs weekly, across tenants (the service's own job)."""
        rows = await self._pool().fetch(
            "SELECT tenant_id, key FROM records WHERE kind = 'sampling-policy' AND document->>'cadence' = 'weekly'"
            " ORDER BY tenant_id, key"
        )
        return [(r["tenant_id"], r["key"]) for r in rows]
