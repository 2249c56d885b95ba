"""One contract for both storages: the in-memory fake used by fast tests must behave like PostgreSQL."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from coachline.contracts.interactions import Channel
from coachline.persistence import add_to_outbox, create_pool, migrate
from coachline_evaluation.app import MIGRATIONS
from coachline_evaluation.domain import evaluations as lifecycle
from coachline_evaluation.domain.evaluations import Evaluation, Policy
from coachline_evaluation.domain.sampling import PoolEntry
from coachline_evaluation.domain.scorecards import Criterion, ScorecardDefinition, Section
from coachline_evaluation.domain.selection import SamplingPolicy
from coachline_evaluation.repository import PostgresUnitOfWork
from coachline_evaluation.service import UnitOfWork
from coachline_evaluation.settings import Settings

from .evaluation_fakes import FakeUnitOfWork

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CARD = ScorecardDefinition(name="mail", sections=[Section(section_id="s", title="s", goal="quality", criteria=[
    Criterion(criterion_id="tone", title="Tone", points=Decimal(2)),
    Criterion(criterion_id="answer", title="Answer", answer_type="scale", points=Decimal(3))])])


@pytest.fixture(params=["memory", "postgresql"])
async def uow(request: pytest.FixtureRequest, settings_for) -> AsyncIterator[UnitOfWork]:
    if request.param == "memory":
        yield FakeUnitOfWork()
        return
    settings = settings_for(Settings)
    pool = await create_pool(settings.database_url, settings.db_schema)
    try:
        await migrate(pool, settings.db_schema, MIGRATIONS)
        yield PostgresUnitOfWork(lambda: pool, lambda conn, event: add_to_outbox(conn, event.topic, event))
    finally:
        await pool.close()


def entry(interaction: str, agent: str = "a-17", minutes: int = 0, tenant: str = "acme",
          talk_s: str = "310.000") -> PoolEntry:
    return PoolEntry(tenant_id=tenant, interaction_id=interaction, agent_id=agent, team_id=None, queue_id="billing",
                     channel=Channel.EMAIL, completed_at=T0 + timedelta(minutes=minutes), talk_s=Decimal(talk_s),
                     hold_s=Decimal("0.000"), after_contact_work_s=Decimal("12.500"), transferred=False,
                     customer_ref="cust-1")


def evaluation(evaluation_id: str, tenant: str = "acme", team: str = "t-north") -> Evaluation:
    assigned = Evaluation(evaluation_id=evaluation_id, tenant_id=tenant, interaction_id="c-1", agent_id="a-17",
                          team_id=team, evaluator_id="q-2", scorecard_id="sc-mail", scorecard_version=2,
                          assigned_at=T0)
    return lifecycle.submit(assigned, CARD, {"tone": True, "answer": Decimal(4)}, [], Policy(), T0)


async def test_the_inbox_admits_each_event_once_per_consumer(uow: UnitOfWork) -> None:
    async with uow.transaction("acme") as repo:
        assert await repo.first_delivery("sampling-pool", "ev-1")
        assert not await repo.first_delivery("sampling-pool", "ev-1")
        assert await repo.first_delivery("another-projection", "ev-1")


async def test_the_pool_lists_newest_first_and_only_the_tenants_own(uow: UnitOfWork) -> None:
    async with uow.transaction("acme") as repo:
        for e in (entry("c-1", minutes=1), entry("c-2", minutes=3), entry("c-3", "a-20", minutes=2),
                  entry("c-2", "a-20", minutes=3)):
            await repo.save_pool_entry(e)
    async with uow.transaction("other") as repo:
        await repo.save_pool_entry(entry("c-9", tenant="other"))
    async with uow.transaction("acme") as repo:
        everyone = await repo.list_pool(None, 50)
        assert [(e.interaction_id, e.agent_id) for e in everyone] == [
            ("c-2", "a-17"), ("c-2", "a-20"), ("c-3", "a-20"), ("c-1", "a-17")]
        assert [e.interaction_id for e in await repo.list_pool("a-20", 50)] == ["c-2", "c-3"]
        assert len(await repo.list_pool(None, 2)) == 2
        assert [e.agent_id for e in await repo.pool_entries("c-2")] == ["a-17", "a-20"]
        assert await repo.pool_entries("c-9") == []
        assert everyone[-1] == entry("c-1", minutes=1)
        between = await repo.pool_between(T0 + timedelta(minutes=2), T0 + timedelta(minutes=3))
        assert [(e.interaction_id, e.agent_id) for e in between] == [("c-3", "a-20")]


async def test_a_corrected_report_of_the_same_handling_replaces_the_entry(uow: UnitOfWork) -> None:
    async with uow.transaction("acme") as repo:
        await repo.save_pool_entry(entry("c-1", talk_s="310.000"))
        await repo.save_pool_entry(entry("c-1", talk_s="295.250"))
    async with uow.transaction("acme") as repo:
        assert await repo.pool_entries("c-1") == [entry("c-1", talk_s="295.250")]


async def test_surveys_and_roster_keep_the_latest_answer(uow: UnitOfWork) -> None:
    async with uow.transaction("acme") as repo:
        await repo.save_survey("c-1", 2, 3, T0 + timedelta(hours=1))
        await repo.save_survey("c-1", 5, 10, T0)
        await repo.save_agent("a-17", "t-new", date(2026, 11, 2), True, T0 + timedelta(hours=1))
        await repo.save_agent("a-17", "t-old", None, True, T0)
        await repo.mark_mystery_contact("c-5")
    async with uow.transaction("acme") as repo:
        assert await repo.surveys(["c-1", "c-2"]) == {"c-1": (2, 3)}
        assert await repo.agents() == {"a-17": ("t-new", date(2026, 11, 2))}
        assert await repo.mystery_contacts() == {"c-5"}
    async with uow.transaction("other") as repo:
        assert await repo.surveys(["c-1"]) == {} and await repo.agents() == {}
        assert await repo.mystery_contacts() == set()


async def test_an_evaluation_reads_back_whole_filtered_and_only_in_its_tenant(uow: UnitOfWork) -> None:
    async with uow.transaction("acme") as repo:
        await repo.save_evaluation(evaluation("e-1"))
        await repo.save_evaluation(evaluation("e-2", team="t-south"))
        await repo.enqueue(lifecycle.submitted_event(evaluation("e-1")))
    async with uow.transaction("other") as repo:
        await repo.save_evaluation(evaluation("e-1", tenant="other"))
    async with uow.transaction("acme") as repo:
        assert await repo.get_evaluation("e-1") == evaluation("e-1")
        assert [e.evaluation_id for e in await repo.find_evaluations(team_ids=["t-south"])] == ["e-2"]
        assert [e.evaluation_id for e in await repo.find_evaluations(states=["submitted"], agent_id="a-17")] == [
            "e-1", "e-2"]
        assert await repo.find_evaluations(kind="calibration") == []
        assert await repo.evaluated_interactions() == {("c-1", "a-17")}
        released = lifecycle.release(evaluation("e-1"), T0)
        await repo.save_evaluation(released)
    async with uow.transaction("acme") as repo:
        assert await repo.get_evaluation("e-1") == released
    async with uow.transaction("other") as repo:
        assert [e.tenant_id for e in await repo.find_evaluations()] == ["other"]


async def test_scheduled_releases_are_found_across_tenants_when_due(uow: UnitOfWork) -> None:
    for tenant in ("acme", "other"):
        async with uow.transaction(tenant) as repo:
            await repo.save_evaluation(lifecycle.release(evaluation("e-1", tenant=tenant), T0, on=date(2026, 12, 1)))
    assert await uow.due_releases(date(2026, 11, 30)) == []
    assert await uow.due_releases(date(2026, 12, 1)) == [("acme", "e-1"), ("other", "e-1")]


async def test_records_are_keyed_per_tenant_and_a_failed_transaction_leaves_nothing(uow: UnitOfWork) -> None:
    async with uow.transaction("acme") as repo:
        await repo.put_record("scorecard", "sc@000001", CARD)
        await repo.put_record("scorecard", "sc@000002", CARD.model_copy(update={"name": "v2"}))
        await repo.put_record("scorecard", "sd@000001", CARD)
    with pytest.raises(RuntimeError):
        async with uow.transaction("acme") as repo:
            await repo.save_pool_entry(entry("c-7"))
            await repo.put_record("scorecard", "sc@000003", CARD)
            raise RuntimeError("the use case failed")
    async with uow.transaction("acme") as repo:
        assert [c.name for c in await repo.list_records("scorecard", ScorecardDefinition, "sc@")] == ["mail", "v2"]
        assert await repo.get_record("scorecard", "sc@000003", ScorecardDefinition) is None
        assert await repo.pool_entries("c-7") == []
    async with uow.transaction("other") as repo:
        assert await repo.get_record("scorecard", "sc@000001", ScorecardDefinition) is None


async def test_a_claim_holds_once_per_tenant_and_weekly_policies_are_found_across_tenants(uow: UnitOfWork) -> None:
    weekly = SamplingPolicy(tenant_id="acme", policy_id="p-1", name="w", scorecard_id="sc", quota={"count": 1},
                            evaluator_ids=["q-1"], cadence="weekly")
    async with uow.transaction("acme") as repo:
        assert await repo.claim("sampling-period", "p-1/2026-11-23")
        assert not await repo.claim("sampling-period", "p-1/2026-11-23")
        await repo.put_record("sampling-policy", "p-1", weekly)
        await repo.put_record("sampling-policy", "p-2", weekly.model_copy(update={"cadence": "manual"}))
    async with uow.transaction("other") as repo:
        assert await repo.claim("sampling-period", "p-1/2026-11-23")
        await repo.put_record("sampling-policy", "p-9", weekly.model_copy(update={"tenant_id": "other"}))
    assert await uow.weekly_policies() == [("acme", "p-1"), ("other", "p-9")]


async def test_row_level_security_refuses_another_tenants_rows_whatever_the_query(settings_for) -> None:
    settings = settings_for(Settings)
    pool = await create_pool(settings.database_url, settings.db_schema)
    try:
        await migrate(pool, settings.db_schema, MIGRATIONS)
        uow = PostgresUnitOfWork(lambda: pool, lambda conn, event: add_to_outbox(conn, event.topic, event))
        async with uow.transaction("acme") as repo:
            await repo.save_evaluation(evaluation("e-1"))
        async with uow.transaction("other") as repo:
            conn = repo._conn
            assert await conn.fetchval("SELECT count(*) FROM evaluations") == 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("INSERT INTO records (tenant_id, kind, key, document) VALUES"
                                   " ('acme', 'x', 'y', '{}'::jsonb)")
    finally:
        await pool.close()
