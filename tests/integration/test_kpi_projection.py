"""The KPI projection against real PostgreSQL: batches, redeliveries and any order give the offline fold's figures."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.envelope import CloudEvent
from coachline.persistence import create_pool, migrate
from coachline_kpi.app import MIGRATIONS
from coachline_kpi.domain.fold import Fold, normalised
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.repository import unpacked
from coachline_kpi.service import Projection, Retention, Snapshots
from services.kpi.tests.kpi_events import day_of_events, event

pytestmark = pytest.mark.integration
POLICY = TenantPolicy()


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
    return normalised(unpacked(await pool.fetch("SELECT tenant_id, scope, scope_id, window_key, sums FROM kpi_sums")))


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=day_of_events(max_contacts=8, max_outcomes=10), seed=st.integers(0, 2**32),
       batch=st.integers(1, 40))
async def test_batches_redeliveries_and_any_order_give_the_offline_figures(kpi_pool, events, seed, batch) -> None:
    async with kpi_pool.acquire() as conn:
        await conn.execute("TRUNCATE kpi_sums, kpi_entities, agent_marks, inbox")
    projection = Projection(lambda: kpi_pool, POLICY)
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
    projection = Projection(lambda: kpi_pool, POLICY)
    assert await projection.apply_batch(events + events) == 3
    assert await projection.apply_batch(events) == 0
    sums = await stored_sums(kpi_pool)
    assert sums[("acme", "queue", "billing", "day:2026-11-23")] == {"offered": 3}


def offered(n: int, at: datetime, queue: str = "billing") -> CloudEvent:
    return event("cc.interaction.offered.v1", "acme", {"interaction_id": f"c-{n}", "queue_id": queue,
                                                        "channel": "voice", "occurred_at": at}, f"o-{n}")


async def test_a_record_read_again_is_dropped_by_its_position_however_old(kpi_pool) -> None:
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    events = [offered(n, at) for n in range(3)]
    read_at = [("cc.interactions.v1", 4, 100 + n) for n in range(3)]
    projection = Projection(lambda: kpi_pool, POLICY)
    assert await projection.apply_batch(events, read_at) == 3
    async with kpi_pool.acquire() as conn:
        await conn.execute("UPDATE inbox SET processed_at = now() - interval '8 days'")
    assert await Retention(lambda: kpi_pool, timedelta(days=7), None).sweep() == (3, 0)
    # The inbox has forgotten them; a consumer group that lost its offsets reads the partition again.
    assert await projection.apply_batch(events, read_at) == 0
    # Within the horizon, the same event sent again as a new record is the inbox's to drop.
    assert await projection.apply_batch([offered(3, at)], [("cc.interactions.v1", 4, 103)]) == 1
    assert await projection.apply_batch([offered(3, at)], [("cc.interactions.v1", 4, 104)]) == 0
    sums = await stored_sums(kpi_pool)
    assert sums[("acme", "queue", "billing", "day:2026-11-23")] == {"offered": 4}
    assert sums[("acme", "queue", "billing", "15m:2026-11-23T09:00")] == {"offered": 4}


async def test_the_sweep_forgets_quarter_hours_past_their_retention_and_keeps_the_rest(kpi_pool) -> None:
    projection = Projection(lambda: kpi_pool, POLICY)
    await projection.apply_batch([offered(1, datetime(2026, 11, 1, 23, 50, tzinfo=UTC)),
                                  offered(2, datetime(2026, 11, 20, 0, 5, tzinfo=UTC))])
    retention = Retention(lambda: kpi_pool, timedelta(days=7), timedelta(days=14))
    # Quarter hours are kept per scope and UTC day: the tenant's and the queue's of 1 November go.
    assert await retention.sweep(datetime(2026, 11, 23, 12, tzinfo=UTC)) == (0, 2)
    sums = await stored_sums(kpi_pool)
    assert not [k for k in sums if k[3].startswith("15m:2026-11-01")]
    assert sums[("acme", "queue", "billing", "15m:2026-11-20T00:00")] == {"offered": 1}
    assert sums[("acme", "queue", "billing", "day:2026-11-01")] == {"offered": 1}


async def test_snapshots_go_out_once_per_key_however_many_batches_changed_it(kpi_pool) -> None:
    projection = Projection(lambda: kpi_pool, POLICY)
    for n in range(3):
        await projection.apply_batch([offered(n, datetime(2026, 11, 23, 9, n, tzinfo=UTC))])
    published: list[CloudEvent] = []

    async def enqueue(_conn: asyncpg.Connection, sent: CloudEvent) -> None:
        published.append(sent)

    snapshots = Snapshots(lambda: kpi_pool, enqueue, POLICY)
    assert await snapshots.publish() == 8  # the tenant and the queue, in four windows each
    keys = [(e.data.scope.value, e.data.scope_id, e.data.window) for e in published]  # type: ignore[attr-defined]
    assert len(keys) == len(set(keys)) == 8 and ("queue", "billing", "day:2026-11-23") in keys
    assert await snapshots.publish() == 0


async def test_sums_stored_as_jsonb_before_are_carried_over(infrastructure, isolation, tmp_path) -> None:
    schema = f"kpi_m_{isolation}"
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "010":
            (tmp_path / path.name).write_text(path.read_text())
    pool = await create_pool(infrastructure.database_url, schema)
    try:
        await migrate(pool, schema, tmp_path)
        legacy = {"day:2026-11-23": '{"offered": 3, "handle_time_s": 818.598, "state_s.available": 81.402123}',
                  "15m:2026-11-23T09:15": '{"offered": 2}', "15m:2026-11-23T23:45": '{"offered": 1, "dim_n.x": 0}'}
        for window, sums in legacy.items():
            await pool.execute("INSERT INTO kpi_sums (tenant_id, scope, scope_id, window_key, sums) "
                               "VALUES ('acme', 'queue', 'billing', $1, $2::jsonb)", window, sums)
        await migrate(pool, schema, MIGRATIONS)
        rows = await pool.fetch("SELECT tenant_id, scope, scope_id, window_key, sums FROM kpi_sums")
        assert len(rows) == 2
        assert unpacked(rows) == {
            ("acme", "queue", "billing", "day:2026-11-23"): {"offered": 3, "handle_time_s": Decimal("818.598"),
                                                             "state_s.available": Decimal("81.402123")},
            ("acme", "queue", "billing", "15m:2026-11-23T09:15"): {"offered": 2},
            ("acme", "queue", "billing", "15m:2026-11-23T23:45"): {"offered": 1, "dim_n.x": 0}}
        # The projection adds to converted rows as to its own.
        await Projection(lambda: pool, POLICY).apply_batch([offered(1, datetime(2026, 11, 23, 9, 20, tzinfo=UTC))])
        sums = await stored_sums(pool)
        assert sums[("acme", "queue", "billing", "15m:2026-11-23T09:15")] == {"offered": 3}
        assert sums[("acme", "queue", "billing", "day:2026-11-23")]["offered"] == 4
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()
