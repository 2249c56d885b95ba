"""Reference test through the live service and through ``coachline kpi rebuild``: a simulated day,
written to the topics as intake would publish it, gives the simulator's ground truth in every scope and window."""

from datetime import datetime

import pytest

from coachline.persistence import create_pool
from coachline.sim.output import KafkaSink, play
from coachline.sim.truth import ground_truth
from coachline.testing import eventually
from coachline_kpi.app import create_app
from coachline_kpi.cli import rebuild
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.repository import find_keys
from coachline_kpi.service import view
from coachline_kpi.settings import Settings
from services.kpi.tests.kpi_reference import differences, simulated_day

pytestmark = pytest.mark.integration


async def figures_in(settings: Settings, truth: dict) -> dict:
    """The figures as read at the end of the run, the moment the ground truth is computed for."""
    policy = TenantPolicy()
    pool = await create_pool(settings.database_url, settings.db_schema)
    try:
        keys = [(r["scope"], r["scope_id"], r["window"]) for r in truth["tenants"]["demo"]["figures"]]
        rows = await find_keys(pool, "demo", keys, policy, as_of=datetime.fromisoformat(truth["end"]))
    finally:
        await pool.close()
    return {(r["scope"], r["scope_id"], r["window_key"]): view(r, 5, policy).figures for r in rows}


async def test_a_simulated_day_equals_its_ground_truth_live_and_after_a_rebuild(settings_for, run_app,
                                                                                service_env) -> None:
    outcome = simulated_day()
    truth = ground_truth(outcome)
    settings = settings_for(Settings)
    await run_app(create_app(settings))
    sink = KafkaSink(service_env["KAFKA_BOOTSTRAP_SERVERS"], service_env["COACHLINE_TOPIC_PREFIX"])
    await sink.start()
    try:
        await play(outcome.events, sink, speed=None)
    finally:
        await sink.close()

    async def folded_all() -> bool:
        pool = await create_pool(settings.database_url, settings.db_schema)
        try:
            return await pool.fetchval("SELECT count(*) FROM inbox") == len(outcome.events)
        finally:
            await pool.close()

    await eventually(folded_all, timeout=120)
    live = await figures_in(settings, truth)
    assert differences(truth, lambda s, i, w: live.get((s, i, w))) == []

    report = await rebuild(settings)
    assert report.events == len(outcome.events)
    rebuilt = await figures_in(settings, truth)
    assert rebuilt == live
    pool = await create_pool(settings.database_url, settings.db_schema)
    try:
        await pool.execute(f'DROP SCHEMA "{report.replaced}" CASCADE')
    finally:
        await pool.close()
