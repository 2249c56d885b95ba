"""The KPI service's SQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg

from coachline import persistence
from coachline.contracts.kpi import Scope
from coachline_kpi import codec
from coachline_kpi.domain.figures import summed
from coachline_kpi.domain.fold import ZERO, Counters, EntityRef, Key, Mark
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.domain.views import ScopeKey, assemble, stored_keys
from coachline_kpi.domain.windows import bounds

CHANGES_CHANNEL = "kpi_changed"
INBOX_CONSUMER = "kpi-projection"
Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool


def counters(raw: bytes | str | dict[str, Any]) -> Counters:
    """Stored sums as exact decimals (see :mod:`coachline_kpi.codec`)."""
    if isinstance(raw, bytes):
        return codec.decode(raw)
    if isinstance(raw, str):
        return json.loads(raw, parse_float=Decimal, parse_int=Decimal)  # type: ignore[no-any-return]
    return {k: Decimal(str(v)) for k, v in raw.items()}


# -- the projection's writes ----------------------------------------------------------------------


async def first_deliveries(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Record the batch's ids in the inbox; returns those not processed before."""
    return await persistence.first_deliveries(conn, INBOX_CONSUMER, event_ids)


async def positions(conn: asyncpg.Connection, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The next offset to fold of each partition, locked until the batch commits (in one order)."""
    parts = sorted(set(partitions))
    rows = await conn.fetch(
        "SELECT p.topic, p.partition, p.next_offset FROM kpi_positions p "
        "JOIN unnest($1::text[], $2::int[]) AS k(topic, partition) USING (topic, partition) "
        "ORDER BY p.topic, p.partition FOR UPDATE OF p",
        [p[0] for p in parts], [p[1] for p in parts])
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def advance(conn: asyncpg.Connection, next_offsets: dict[tuple[str, int], int]) -> None:
    parts = sorted(next_offsets)
    await conn.execute(
        "INSERT INTO kpi_positions (topic, partition, next_offset) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]) ON CONFLICT (topic, partition) "
        "DO UPDATE SET next_offset = greatest(kpi_positions.next_offset, EXCLUDED.next_offset)",
        [p[0] for p in parts], [p[1] for p in parts], [next_offsets[p] for p in parts])


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
    """Each agent's marks within a span, plus the one just before and the one just after it (one query)."""
    agents = sorted(spans)
    if not agents:
        return {}
    rows = await conn.fetch(
        """
        SELECT k.i, m.at, m.event_id, m.state, m.team_id, m.sequence
        FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY
             AS k(tenant_id, agent_id, first, last, i)
        CROSS JOIN LATERAL (
            (SELECT at, event_id, state, team_id, sequence FROM agent_marks
              WHERE tenant_id = k.tenant_id AND agent_id = k.agent_id AND at < k.first
              ORDER BY at DESC, coalesce(sequence, -1) DESC, event_id DESC LIMIT 1)
            UNION ALL
            (SELECT at, event_id, state, team_id, sequence FROM agent_marks
              WHERE tenant_id = k.tenant_id AND agent_id = k.agent_id AND at BETWEEN k.first AND k.last)
            UNION ALL
            (SELECT at, event_id, state, team_id, sequence FROM agent_marks
              WHERE tenant_id = k.tenant_id AND agent_id = k.agent_id AND at > k.last
              ORDER BY at, coalesce(sequence, -1), event_id LIMIT 1)
        ) AS m
        """,
        [a[0] for a in agents], [a[1] for a in agents], [spans[a][0] for a in agents],
        [spans[a][1] for a in agents])
    out: dict[tuple[str, str], list[Mark]] = {a: [] for a in agents}
    for r in rows:
        out[agents[r["i"] - 1]].append(Mark(r["at"], r["event_id"], r["state"], r["team_id"], r["sequence"]))
    for marks in out.values():
        marks.sort()
    return out


async def add_marks(conn: asyncpg.Connection, marks: Sequence[tuple[str, str, Mark]]) -> None:
    if marks:
        rows = [(t, a, m.at, m.event_id, m.state, m.team_id, m.sequence) for t, a, m in marks]
        await conn.execute(
            "INSERT INTO agent_marks (tenant_id, agent_id, at, event_id, state, team_id, sequence) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], "
            "$7::bigint[]) ON CONFLICT DO NOTHING",
            *(list(column) for column in zip(*rows, strict=True)))


async def add_sums(conn: asyncpg.Connection, deltas: dict[Key, Counters]) -> None:
    """Add a batch's deltas to the stored sums, every changed row at once.

    Stored rows are locked (in key order, so concurrent batches never deadlock), read, added to in
    Python and written back, as the stored form (:mod:`coachline_kpi.codec`) is not something SQL can
    add; rows not stored yet are inserted with their delta. A 15-minute window is a quarter hour of its
    scope's row for the UTC day (see :func:`stored_as`).
    """
    rows: dict[Key, dict[int | None, Counters]] = {}
    for (tenant, scope, scope_id, window), delta in deltas.items():
        if delta:
            (_, _, row_window), quarter = stored_as((scope, scope_id, window))
            rows.setdefault((tenant, scope, scope_id, row_window), {})[quarter] = delta
    if not rows:
        return
    keys = sorted(rows)
    stored = await _locked_sums(conn, keys)
    new = [k for k in keys if k not in stored]
    if new:
        inserted = await conn.fetch(
            """
            INSERT INTO kpi_sums (tenant_id, scope, scope_id, window_key, sums)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])
            ON CONFLICT (tenant_id, scope, scope_id, window_key) DO NOTHING
            RETURNING tenant_id, scope, scope_id, window_key
            """,
            *_columns(new), [_added(None, rows[k]) for k in new])
        if len(inserted) < len(new):
            # Another batch stored some of these rows since they were looked for.
            done = {tuple(r) for r in inserted}
            stored |= await _locked_sums(conn, [k for k in new if k not in done])
    if stored:
        changed = sorted(stored)
        await conn.execute(
            """
            UPDATE kpi_sums s SET sums = k.sums, updated_at = now()
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])
                 AS k(tenant_id, scope, scope_id, window_key, sums)
            WHERE (s.tenant_id, s.scope, s.scope_id, s.window_key) = (k.tenant_id, k.scope, k.scope_id, k.window_key)
            """,
            *_columns(changed), [_added(stored[k], rows[k]) for k in changed])


def _added(stored: bytes | None, deltas: dict[int | None, Counters]) -> bytes:
    """A row's stored value with ``deltas`` added (per quarter hour for a day's 15-minute windows)."""
    if None in deltas:
        total = codec.decode(stored) if stored is not None else {}
        for name, value in deltas[None].items():
            total[name] = total.get(name, ZERO) + value
        return codec.encode(total)
    quarters = codec.unpack(stored) if stored is not None else {}
    for quarter, delta in deltas.items():
        assert quarter is not None
        quarters[quarter] = _added(quarters.get(quarter), {None: delta})
    return codec.pack(quarters)


async def _locked_sums(conn: asyncpg.Connection, keys: Sequence[Key]) -> dict[Key, bytes]:
    rows = await conn.fetch(
        """
        SELECT s.tenant_id, s.scope, s.scope_id, s.window_key, s.sums FROM kpi_sums s
        JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(tenant_id, scope, scope_id, window_key)
          USING (tenant_id, scope, scope_id, window_key)
        ORDER BY s.tenant_id, s.scope, s.scope_id, s.window_key
        FOR UPDATE OF s
        """,
        *_columns(keys))
    return {(r["tenant_id"], r["scope"], r["scope_id"], r["window_key"]): r["sums"] for r in rows}


def stored_as(key: ScopeKey) -> tuple[ScopeKey, int | None]:
    """The row a window's sums are stored in, and the window's quarter hour in it (None: a row of its own).

    ``15m:2026-11-23T09:15`` is quarter 37 of the row ``15m:2026-11-23``.
    """
    scope, scope_id, window = key
    if window.startswith("15m:") and "T" in window:
        day, _, time = window[4:].partition("T")
        return (scope, scope_id, f"15m:{day}"), int(time[:2]) * 4 + int(time[3:5]) // 15
    return key, None


def _quarter_window(row_window: str, quarter: int) -> str:
    hour, part = divmod(quarter, 4)
    return f"{row_window}T{hour:02d}:{part * 15:02d}"


def _windows_in(row: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The windows a stored row holds, with each one's counters as :func:`counters` takes them."""
    window, sums = row["window_key"], row["sums"]
    if window.startswith("15m:") and "T" not in window:
        return [(_quarter_window(window, q), c) for q, c in codec.unpack(sums).items()]
    return [(window, sums)]


def unpacked(rows: Iterable[Mapping[str, Any]]) -> dict[Key, Counters]:
    """Every window's sums in rows of ``kpi_sums`` (``tenant_id``, ``scope``, ``scope_id``, ``window_key``,
    ``sums``), each 15-minute window on its own."""
    return {(r["tenant_id"], r["scope"], r["scope_id"], window): counters(sums)
            for r in rows for window, sums in _windows_in(r)}


def _columns(keys: Sequence[Key]) -> list[list[str]]:
    return [[k[i] for k in keys] for i in range(4)]


async def record_changes(conn: asyncpg.Connection, tenant_id: str, keys: Sequence[ScopeKey]) -> None:
    """Note keys whose snapshot and alerts are due (see :func:`take_changes`)."""
    if keys:
        await conn.execute(
            "INSERT INTO kpi_changed_keys (tenant_id, scope, scope_id, window_key) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])",
            tenant_id, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])


async def take_changes(conn: asyncpg.Connection) -> dict[str, set[ScopeKey]] | None:
    """The noted keys by tenant, removed from the table; None while another replica is taking them."""
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext('kpi-snapshots:' || current_schema()))"):
        return None
    out: dict[str, set[ScopeKey]] = {}
    for r in await conn.fetch("DELETE FROM kpi_changed_keys RETURNING tenant_id, scope, scope_id, window_key"):
        out.setdefault(r["tenant_id"], set()).add((r["scope"], r["scope_id"], r["window_key"]))
    return out


async def announce(conn: asyncpg.Connection, tenant_id: str, keys: Sequence[tuple[str, str, str]]) -> None:
    """Tell every replica's live streams which figures changed; PostgreSQL delivers it on commit only."""
    # NOTIFY payloads are limited to 8000 bytes; a large batch is announced in parts.
    step = 40
    for i in range(0, len(keys), step):
        payload = json.dumps({"tenant_id": tenant_id, "keys": [list(k) for k in keys[i:i + step]]})
        await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, payload)


async def forget_deliveries(conn: asyncpg.Connection, horizon: timedelta) -> int:
    """Forget the ids of events folded longer than ``horizon`` ago (call outside a transaction)."""
    return await persistence.prune_inbox(conn, INBOX_CONSUMER, horizon)


async def forget_quarters(conn: asyncpg.Connection, before: date, *, chunk: int = 10_000) -> int:
    """Delete the 15-minute windows of days before ``before`` (UTC) in chunks; returns how many went.

    Call it outside a transaction, like :func:`coachline.persistence.prune_inbox`.
    """
    removed = 0
    while True:
        status = await conn.execute(
            "DELETE FROM kpi_sums WHERE ctid = ANY(ARRAY(SELECT ctid FROM kpi_sums "
            "WHERE window_key >= '15m:' AND window_key < $1 LIMIT $2))", f"15m:{before.isoformat()}", chunk)
        count = int(status.split()[-1])
        removed += count
        if count < chunk:
            return removed


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


async def _stored(conn: Connection, tenant_id: str, keys: Sequence[ScopeKey]) -> list[dict[str, Any]]:
    """The stored sums of ``keys`` that have any, as rows of ``scope``, ``scope_id``, ``window_key``,
    ``sums`` and ``updated_at`` (a 15-minute window's is its day row's)."""
    wanted: dict[ScopeKey, set[int | None]] = {}
    for key in keys:
        row, quarter = stored_as(key)
        wanted.setdefault(row, set()).add(quarter)
    rows = await conn.fetch(
        """
        SELECT s.scope, s.scope_id, s.window_key, s.sums, s.updated_at FROM kpi_sums s
        JOIN unnest($2::text[], $3::text[], $4::text[]) AS k(scope, scope_id, window_key)
          USING (scope, scope_id, window_key)
        WHERE s.tenant_id = $1
        """,
        tenant_id, *([k[i] for k in wanted] for i in range(3)))
    out = []
    for r in rows:
        asked = wanted[(r["scope"], r["scope_id"], r["window_key"])]
        for window, sums in _windows_in(r):
            if stored_as((r["scope"], r["scope_id"], window))[1] in asked:
                out.append({"scope": r["scope"], "scope_id": r["scope_id"], "window_key": window, "sums": sums,
                            "updated_at": r["updated_at"]})
    return out


async def current_states(conn: Connection, tenant_id: str, keys: Sequence[ScopeKey], policy: TenantPolicy,
                         as_of: datetime) -> dict[ScopeKey, tuple[Counters, datetime]]:
    """Time so far in each agent's current state, per agent, team and tenant key it falls in.

    The stored sums hold closed intervals only (an interval closes with the agent's next change);
    the state an agent is in at ``as_of`` counts up to ``as_of``, like the closed ones: split by window.
    Each key also gets the latest moment such a state began.
    """
    spans = [(scope, sid, w, *bounds(w, policy)) for scope, sid, w in keys
             if scope in (Scope.AGENT, Scope.TEAM, Scope.TENANT)]
    spans = [span for span in spans if span[3] < as_of]
    if not spans:
        return {}
    rows = await conn.fetch(
        """
        SELECT k.scope, k.scope_id, k.window_key, a.state ->> 'state' AS state,
               sum(extract(epoch FROM least($2, k.ends) - greatest((a.state ->> 'state_at')::timestamptz, k.starts)))
                 AS seconds,
               max((a.state ->> 'state_at')::timestamptz) AS since
        FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
             AS k(scope, scope_id, window_key, starts, ends)
        JOIN kpi_entities a ON a.tenant_id = $1 AND a.kind = 'agent' AND a.state ->> 'state' <> 'logged_out'
         AND (a.state ->> 'state_at')::timestamptz < least($2, k.ends)
         AND CASE k.scope WHEN 'tenant' THEN true
                          WHEN 'team' THEN a.state ->> 'state_team' = k.scope_id
                          ELSE a.entity_id = k.scope_id END
        GROUP BY 1, 2, 3, 4
        """,
        tenant_id, as_of, *([span[i] for span in spans] for i in range(5)))
    out: dict[ScopeKey, tuple[Counters, datetime]] = {}
    for r in rows:
        key = (r["scope"], r["scope_id"], r["window_key"])
        sums, since = out.get(key, ({}, r["since"]))
        out[key] = ({**sums, f"state_s.{r['state']}": r["seconds"]}, max(since, r["since"]))
    return out


async def find_keys(pool: Connection, tenant_id: str, keys: Sequence[Sequence[str]], policy: TenantPolicy, *,
                    as_of: datetime | None = None) -> list[dict[str, Any]]:
    """The sums of ``[scope, scope_id, window]`` keys as figures are read from them (see ``domain.views``),
    with each agent's current state counted up to ``as_of`` (default: now; see :func:`current_states`).

    Keys with no data are left out.
    """
    wanted = [(k[0], k[1], k[2]) for k in keys]
    teams = sorted({sid for scope, sid, _ in wanted if scope == Scope.TEAM})
    members = await team_members(pool, tenant_id, teams) if teams else {}
    needed = stored_keys(wanted, members)
    rows = await _stored(pool, tenant_id, needed) if needed else []
    by_key = {(r["scope"], r["scope_id"], r["window_key"]): (counters(r["sums"]), r["updated_at"]) for r in rows}
    current = await current_states(pool, tenant_id, stored_keys(wanted, {}), policy, as_of or datetime.now(UTC))
    for key, (state_sums, since) in current.items():
        sums, updated_at = by_key.get(key, ({}, since))
        by_key[key] = (summed([sums, state_sums]), updated_at)
    return assemble(wanted, by_key.get, members)


async def find(conn: Connection, tenant_id: str, scope: str | None, scope_id: str | None,
               window: str | None, policy: TenantPolicy, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Figures' sums by any of scope, scope id and window (a ``30d:`` window needs scope and scope id)."""
    if window and window.startswith("30d:"):
        if not (scope and scope_id):
            return []
        return await find_keys(conn, tenant_id, [(scope, scope_id, window)], policy)
    row_window = stored_as(("", "", window))[0][2] if window else None
    rows = await conn.fetch(
        """
        SELECT scope, scope_id, window_key, CASE WHEN window_key LIKE '15m:%' THEN sums END AS sums FROM kpi_sums
        WHERE tenant_id = $1 AND ($2::text IS NULL OR scope = $2) AND ($3::text IS NULL OR scope_id = $3)
          AND ($4::text IS NULL OR window_key = $4)
        ORDER BY scope, scope_id, window_key
        LIMIT $5
        """,
        tenant_id, scope, scope_id, row_window, limit)
    keys = sorted((r["scope"], r["scope_id"], w) for r in rows for w, _ in _windows_in(r) if window in (None, w))
    return await find_keys(conn, tenant_id, keys[:limit], policy)


async def series(conn: Connection, tenant_id: str, scope: str, scope_id: str, kind: str, since: str,
                 until: str, policy: TenantPolicy) -> list[dict[str, Any]]:
    """One scope's windows of one kind between two window keys, oldest first."""
    first, last = f"{kind}:{since}", f"{kind}:{until}"
    # 15-minute windows are looked for through the rows of their days.
    rows = await conn.fetch(
        "SELECT window_key, CASE WHEN window_key LIKE '15m:%' THEN sums END AS sums FROM kpi_sums "
        "WHERE tenant_id = $1 AND scope = $2 AND scope_id = $3 AND window_key >= $4 AND window_key <= $5 "
        "ORDER BY window_key LIMIT 2000",
        tenant_id, scope, scope_id, first[:14] if kind == "15m" else first, last)
    windows = sorted(w for r in rows for w, _ in _windows_in(r) if first <= w <= last)
    return await find_keys(conn, tenant_id, [(scope, scope_id, w) for w in windows[:2000]], policy)


async def team_agents_sums(conn: Connection, tenant_id: str, team_id: str, window: str,
                           policy: TenantPolicy) -> list[dict[str, Any]]:
    """Each member's sums in ``window`` (for a leaderboard)."""
    members = (await team_members(conn, tenant_id, [team_id]))[team_id]
    return await find_keys(conn, tenant_id, [(Scope.AGENT.value, a, window) for a in members], policy)


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
