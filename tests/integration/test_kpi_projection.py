"""The KPI projection against real PostgreSQL: batches, redeliveries and any order give the offline fold's figures."""

import random
from datetime import UTC, datetime

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.persistence import create_pool, migrate
from coachline_kpi.app import MIGRATIONS
from coachline_kpi.domain.fold import Fold, normalised
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.repository import counters
from coachline_kpi.service import Projection
from services.kpi.tests.kpi_events import day_of_events, event

pytestmark = pytest.mark.integration
POLICY = TenantPolicy()


async def _enqueue(_conn: asyncpg.Connection, _event: object) -> None:
    return None


@pytest.fixture
async def kpi_pool(infrastructure, isolation):
    schema = f"kpi_p_{isolation}"
    pool = await create_pool(infrastructure.database_url, schema)
    await migrate(pool, schema, MIGRATIONS)
    yield pool
    async with pool.acquire() as conn:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await pool.close()


async def stored_sums(pool: asyncpg.Pool) -> dict:
    rows = await pool.fetch("SELECT tenant_id, scope, scope_id, window_key, sums FROM kpi_sums")
    return normalised({(r[0], r[1], r[2], r[3]): counters(r[4]) for r in rows})


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=day_of_events(max_contacts=8, max_outcomes=10), seed=st.integers(0, 2**32),
       batch=st.integers(1, 40))
async def test_batches_redeliveries_and_any_order_give_the_offline_figures(kpi_pool, events, seed, batch) -> None:
    async with kpi_pool.acquire() as conn:
        await conn.execute("TRUNCATE kpi_sums, kpi_entities, agent_marks, inbox")
    projection = Projection(lambda: kpi_pool, _enqueue, POLICY)
    delivered = events + events  # every event twice
    random.Random(seed).shuffle(delivered)
    for i in range(0, len(delivered), batch):
        await projection.apply_batch(delivered[i:i + batch])
    offline = Fold(lambda _t: POLICY)
    offline.apply_all(events)
    assert await stored_sums(kpi_pool) == normalised(offline.deltas)


async def test_a_batch_counts_each_event_once(kpi_pool) -> None:
    events = [event("cc.interaction.offered.v1", "acme", {
        "interaction_id": f"c-{n}", "queue_id": "billing", "channel": "voice",
        "occurred_at": datetime(2026, 11, 23, 9, n, tzinfo=UTC)}, f"o-{n}") for n in range(3)]
    projection = Projection(lambda: kpi_pool, _enqueue, POLICY)
    assert await projection.apply_batch(events + events) == 3
    assert await projection.apply_batch(events) == 0
    sums = await stored_sums(kpi_pool)
    assert sums[("acme", "queue", "billing", "day:2026-11-23")] == {"offered": 3}
