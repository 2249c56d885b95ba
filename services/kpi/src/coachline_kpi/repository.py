"""The KPI service's SQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg

from coachline.contracts.kpi import Scope
from coachline_kpi.domain.fold import Counters, EntityRef, Key, Mark
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.domain.views import assemble, stored_keys

CHANGES_CHANNEL = "kpi_changed"
INBOX_CONSUMER = "kpi-projection"
Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool


def counters(raw: str | dict[str, Any]) -> Counters:
    if isinstance(raw, str):
        return json.loads(raw, parse_float=Decimal, parse_int=Decimal)  # type: ignore[no-any-return]
    return {k: Decimal(str(v)) for k, v in raw.items()}


def _counters_json(values: Counters) -> str:
    # Decimal's own text is a valid JSON number, and exact; json.dumps would go through float.
    return "{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in sorted(values.items())) + "}"


# -- the projection's writes ----------------------------------------------------------------------


async def first_deliveries(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Record the batch's ids in the inbox; returns those not processed before."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING "
        "RETURNING event_id", INBOX_CONSUMER, list(event_ids))
    return {r["event_id"] for r in rows}


async def lock(conn: asyncpg.Connection, names: Iterable[str]) -> None:
    """Serialise batches touching the same entity or agent timeline, in one order so they never deadlock."""
    ordered = sorted(set(names))
    if ordered:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(n, 0)) FROM unnest($1::text[]) AS n "
                           "ORDER BY n", ordered)


async def load_entities(conn: asyncpg.Connection, refs: Iterable[EntityRef]) -> dict[EntityRef, dict[str, Any]]:
    refs = sorted(set(refs))
    if not refs:
        return {}
    rows = await conn.fetch(
        "SELECT e.tenant_id, e.kind, e.entity_id, e.state FROM kpi_entities e "
        "JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(t, kind, id) "
        "ON e.tenant_id = k.t AND e.kind = k.kind AND e.entity_id = k.id",
        [r[0] for r in refs], [r[1] for r in refs], [r[2] for r in refs])
    return {(r["tenant_id"], r["kind"], r["entity_id"]): json.loads(r["state"]) for r in rows}


async def save_entities(conn: asyncpg.Connection, entities: dict[EntityRef, dict[str, Any]]) -> None:
    if not entities:
        return
    refs = sorted(entities)
    await conn.execute(
        "INSERT INTO kpi_entities (tenant_id, kind, entity_id, state) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) "
        "ON CONFLICT (tenant_id, kind, entity_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
        [r[0] for r in refs], [r[1] for r in refs], [r[2] for r in refs],
        [json.dumps(entities[r]) for r in refs])


async def load_marks(conn: asyncpg.Connection, spans: dict[tuple[str, str], tuple[datetime, datetime]]
                     ) -> dict[tuple[str, str], list[Mark]]:
    """Each agent's marks within a span, plus the one just before and the one just after it."""
    out: dict[tuple[str, str], list[Mark]] = {}
    for (tenant, agent), (first, last) in sorted(spans.items()):
        rows = await conn.fetch(
            """
            (SELECT at, event_id, state, team_id FROM agent_marks
              WHERE tenant_id = $1 AND agent_id = $2 AND at < $3 ORDER BY at DESC, event_id DESC LIMIT 1)
            UNION ALL
            (SELECT at, event_id, state, team_id FROM agent_marks
              WHERE tenant_id = $1 AND agent_id = $2 AND at BETWEEN $3 AND $4)
            UNION ALL
            (SELECT at, event_id, state, team_id FROM agent_marks
              WHERE tenant_id = $1 AND agent_id = $2 AND at > $4 ORDER BY at, event_id LIMIT 1)
            """, tenant, agent, first, last)
        out[(tenant, agent)] = sorted(Mark(r["at"], r["event_id"], r["state"], r["team_id"]) for r in rows)
    return out


async def add_marks(conn: asyncpg.Connection, marks: Sequence[tuple[str, str, Mark]]) -> None:
    if marks:
        await conn.executemany(
            "INSERT INTO agent_marks (tenant_id, agent_id, at, event_id, state, team_id) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            [(t, a, m.at, m.event_id, m.state, m.team_id) for t, a, m in marks])


async def add_sums(conn: asyncpg.Connection, deltas: dict[Key, Counters]) -> None:
    """One upsert for all changed keys of a batch; key order is fixed so concurrent batches never deadlock."""
    keys = sorted(k for k, v in deltas.items() if v)
    if not keys:
        return
    await conn.execute(
        """
        INSERT INTO kpi_sums AS s (tenant_id, scope, scope_id, window_key, sums)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
        ON CONFLICT (tenant_id, scope, scope_id, window_key)
        DO UPDATE SET sums = kpi_add(s.sums, EXCLUDED.sums), updated_at = now()
        """,
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [k[3] for k in keys],
        [_counters_json(deltas[k]) for k in keys])


async def announce(conn: asyncpg.Connection, tenant_id: str, keys: Sequence[tuple[str, str, str]]) -> None:
    """Tell every replica's live streams which figures changed; PostgreSQL delivers it on commit only."""
    # NOTIFY payloads are limited to 8000 bytes; a large batch is announced in parts.
    step = 40
    for i in range(0, len(keys), step):
        payload = json.dumps({"tenant_id": tenant_id, "keys": [list(k) for k in keys[i:i + step]]})
        await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, payload)


# -- policies -------------------------------------------------------------------------------------


async def policies(conn: Connection, tenants: Iterable[str]) -> dict[str, TenantPolicy]:
    rows = await conn.fetch("SELECT tenant_id, policy FROM tenant_policies WHERE tenant_id = ANY($1::text[])",
                            sorted(set(tenants)))
    return {r["tenant_id"]: TenantPolicy.model_validate_json(r["policy"]) for r in rows}


async def save_policy(conn: asyncpg.Connection, tenant_id: str, policy: TenantPolicy, by: str) -> None:
    await conn.execute(
        "INSERT INTO tenant_policies (tenant_id, policy, updated_by) VALUES ($1, $2::jsonb, $3) "
        "ON CONFLICT (tenant_id) DO UPDATE SET policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, "
        "updated_at = now()", tenant_id, policy.model_dump_json(), by)


# -- reads ----------------------------------------------------------------------------------------


async def team_members(conn: Connection, tenant_id: str, team_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each team's agents, by the latest team the roster (or the agent's own events) gave them."""
    rows = await conn.fetch(
        "SELECT entity_id, state ->> 'team_id' AS team_id FROM kpi_entities "
        "WHERE tenant_id = $1 AND kind = 'agent' AND state ->> 'team_id' = ANY($2::text[]) ORDER BY entity_id",
        tenant_id, list(team_ids))
    out: dict[str, list[str]] = {t: [] for t in team_ids}
    for r in rows:
        out[r["team_id"]].append(r["entity_id"])
    return out


async def agent_teams(conn: Connection, tenant_id: str, agent_ids: Sequence[str]) -> dict[str, str]:
    """The current team of each agent that has one."""
    rows = await conn.fetch(
        "SELECT entity_id, state ->> 'team_id' AS team_id FROM kpi_entities "
        "WHERE tenant_id = $1 AND kind = 'agent' AND entity_id = ANY($2::text[]) AND state ? 'team_id'",
        tenant_id, list(agent_ids))
    return {r["entity_id"]: r["team_id"] for r in rows}


async def _stored(conn: Connection, tenant_id: str, keys: Sequence[tuple[str, str, str]]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT s.scope, s.scope_id, s.window_key, s.sums, s.updated_at FROM kpi_sums s
        JOIN unnest($2::text[], $3::text[], $4::text[]) AS k(scope, scope_id, window_key)
          USING (scope, scope_id, window_key)
        WHERE s.tenant_id = $1
        """,
        tenant_id, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])


async def find_keys(pool: Connection, tenant_id: str, keys: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """The sums of ``[scope, scope_id, window]`` keys as figures are read from them (see ``domain.views``).

    Keys with no data are left out.
    """
    wanted = [(k[0], k[1], k[2]) for k in keys]
    teams = sorted({sid for scope, sid, _ in wanted if scope == Scope.TEAM})
    members = await team_members(pool, tenant_id, teams) if teams else {}
    needed = stored_keys(wanted, members)
    rows = await _stored(pool, tenant_id, needed) if needed else []
    by_key = {(r["scope"], r["scope_id"], r["window_key"]): (counters(r["sums"]), r["updated_at"]) for r in rows}
    return assemble(wanted, by_key.get, members)


async def find(conn: Connection, tenant_id: str, scope: str | None, scope_id: str | None,
               window: str | None, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Figures' sums by any of scope, scope id and window (a ``30d:`` window needs scope and scope id)."""
    if window and window.startswith("30d:"):
        if not (scope and scope_id):
            return []
        return await find_keys(conn, tenant_id, [(scope, scope_id, window)])
    rows = await conn.fetch(
        """
        SELECT scope, scope_id, window_key FROM kpi_sums
        WHERE tenant_id = $1 AND ($2::text IS NULL OR scope = $2) AND ($3::text IS NULL OR scope_id = $3)
          AND ($4::text IS NULL OR window_key = $4)
        ORDER BY scope, scope_id, window_key
        LIMIT $5
        """,
        tenant_id, scope, scope_id, window, limit)
    return await find_keys(conn, tenant_id, [(r["scope"], r["scope_id"], r["window_key"]) for r in rows])


async def series(conn: Connection, tenant_id: str, scope: str, scope_id: str, kind: str, since: str,
                 until: str) -> list[dict[str, Any]]:
    """One scope's windows of one kind between two window keys, oldest first."""
    rows = await conn.fetch(
        "SELECT window_key FROM kpi_sums WHERE tenant_id = $1 AND scope = $2 AND scope_id = $3 "
        "AND window_key >= $4 AND window_key <= $5 ORDER BY window_key LIMIT 2000",
        tenant_id, scope, scope_id, f"{kind}:{since}", f"{kind}:{until}")
    return await find_keys(conn, tenant_id, [(scope, scope_id, r["window_key"]) for r in rows])


async def team_agents_sums(conn: Connection, tenant_id: str, team_id: str, window: str) -> list[dict[str, Any]]:
    """Each member's sums in ``window`` (for a leaderboard)."""
    members = (await team_members(conn, tenant_id, [team_id]))[team_id]
    return await find_keys(conn, tenant_id, [(Scope.AGENT.value, a, window) for a in members])


async def live_state(conn: Connection, tenant_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Waiting contacts and every agent's latest state, for the live figures."""
    rows = await conn.fetch(
        "SELECT kind, entity_id, state FROM kpi_entities WHERE tenant_id = $1 AND kind IN ('contact', 'agent') "
        "AND (kind = 'agent' OR NOT (state ? 'done'))", tenant_id)
    contacts, agents = [], []
    for r in rows:
        state = json.loads(r["state"])
        if r["kind"] == "contact":
            if state.get("offered_at"):
                contacts.append(state)
        else:
            agents.append({**state, "agent_id": r["entity_id"]})
    return contacts, agents


async def visibility(conn: Connection, tenant_id: str, team_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT visibility, decided_by, decided_at, decision FROM team_visibility_decisions "
        "WHERE tenant_id = $1 AND team_id = $2 ORDER BY decided_at DESC LIMIT 1", tenant_id, team_id)


async def visibility_history(conn: Connection, tenant_id: str, team_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT visibility, decided_by, decided_at, decision FROM team_visibility_decisions "
        "WHERE tenant_id = $1 AND team_id = $2 ORDER BY decided_at DESC LIMIT 100", tenant_id, team_id)


async def display_names(conn: Connection, tenant_id: str, agent_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT entity_id, state ->> 'display_name' AS name FROM kpi_entities "
        "WHERE tenant_id = $1 AND kind = 'agent' AND entity_id = ANY($2::text[]) AND state ->> 'display_name' <> ''",
        tenant_id, list(agent_ids))
    return {r["entity_id"]: r["name"] for r in rows}


async def record_visibility(conn: asyncpg.Connection, tenant_id: str, team_id: str, visibility: str,
                            decided_by: str, decision: str) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO team_visibility_decisions (tenant_id, team_id, decided_at, visibility, decided_by, decision) "
        "VALUES ($1, $2, clock_timestamp(), $3, $4, $5) RETURNING visibility, decided_by, decided_at, decision",
        tenant_id, team_id, visibility, decided_by, decision)


async def alert_levels(conn: asyncpg.Connection, tenant_id: str,
                       keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    rows = await conn.fetch(
        "SELECT a.kpi, a.scope, a.scope_id, a.level FROM alert_levels a "
        "JOIN unnest($2::text[], $3::text[], $4::text[]) AS k(kpi, scope, scope_id) USING (kpi, scope, scope_id) "
        "WHERE a.tenant_id = $1 FOR UPDATE OF a",
        tenant_id, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
    return {(r["kpi"], r["scope"], r["scope_id"]): r["level"] for r in rows}


async def set_alert_level(conn: asyncpg.Connection, tenant_id: str, key: tuple[str, str, str], level: str) -> None:
    await conn.execute(
        "INSERT INTO alert_levels (tenant_id, kpi, scope, scope_id, level) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (tenant_id, kpi, scope, scope_id) DO UPDATE SET level = EXCLUDED.level, since = now()",
        tenant_id, *key, level)
