"""The KPI service's SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from coachline_kpi.domain.figures import Contribution

CHANGES_CHANNEL = "kpi_changed"


async def add(conn: asyncpg.Connection, tenant_id: str, items: Sequence[Contribution]) -> list[asyncpg.Record]:
    """Add contributions to their sums; returns the updated rows."""
    rows = []
    for c in items:
        rows.append(await conn.fetchrow(
            """
            INSERT INTO kpi_sums AS s (tenant_id, scope, scope_id, window_key, offered, answered, abandoned,
                                       handled, handle_time_s)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (tenant_id, scope, scope_id, window_key) DO UPDATE SET
                offered = s.offered + EXCLUDED.offered,
                answered = s.answered + EXCLUDED.answered,
                abandoned = s.abandoned + EXCLUDED.abandoned,
                handled = s.handled + EXCLUDED.handled,
                handle_time_s = s.handle_time_s + EXCLUDED.handle_time_s,
                updated_at = now()
            RETURNING *
            """,
            tenant_id, c.scope.value, c.scope_id, c.window, c.offered, c.answered, c.abandoned, c.handled,
            c.handle_time_s,
        ))
    return rows


async def announce(conn: asyncpg.Connection, tenant_id: str, keys: Sequence[tuple[str, str, str]]) -> None:
    """Tell every replica's live streams which figures changed; PostgreSQL delivers it on commit only."""
    payload = json.dumps({"tenant_id": tenant_id, "keys": [list(k) for k in keys]})
    await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, payload)


async def find(pool: asyncpg.Pool, tenant_id: str, scope: str | None, scope_id: str | None,
               window: str | None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """
        SELECT * FROM kpi_sums
        WHERE tenant_id = $1 AND ($2::text IS NULL OR scope = $2) AND ($3::text IS NULL OR scope_id = $3)
          AND ($4::text IS NULL OR window_key = $4)
        ORDER BY scope, scope_id, window_key
        LIMIT 1000
        """,
        tenant_id, scope, scope_id, window,
    )


async def find_keys(pool: asyncpg.Pool, tenant_id: str, keys: Sequence[Sequence[str]]) -> list[asyncpg.Record]:
    return await pool.fetch(
        """
        SELECT s.* FROM kpi_sums s
        JOIN unnest($2::text[], $3::text[], $4::text[]) AS k(scope, scope_id, window_key)
          USING (scope, scope_id, window_key)
        WHERE s.tenant_id = $1
        """,
        tenant_id, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
    )
