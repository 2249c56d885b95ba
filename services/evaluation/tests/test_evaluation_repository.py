"""One contract for both storages: the in-memory fake used by fast tests must behave like PostgreSQL."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from coachline.contracts.interactions import Channel
from coachline.persistence import add_to_outbox, create_pool, migrate
from coachline_evaluation.app import MIGRATIONS
from coachline_evaluation.domain.evaluations import Evaluation, evaluation_submitted
from coachline_evaluation.domain.sampling import PoolEntry
from coachline_evaluation.repository import PostgresUnitOfWork
from coachline_evaluation.service import UnitOfWork
from coachline_evaluation.settings import Settings

from .evaluation_fakes import FakeUnitOfWork

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


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
                     hold_s=Decimal("0.000"), after_contact_work_s=Decimal("12.500"), transferred=False)


def evaluation(evaluation_id: str, score: str = "87.50") -> Evaluation:
    return Evaluation(evaluation_id=evaluation_id, tenant_id="acme", interaction_id="c-1", agent_id="a-17",
                      evaluator_id="q-2", scorecard_id="sc-mail", scorecard_version=2, score=Decimal(score),
                      critical_failed=False, submitted_at=T0)


async def test_the_inbox_admits_each_event_once_per_consumer(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        assert await repo.first_delivery("sampling-pool", "ev-1")
        assert not await repo.first_delivery("sampling-pool", "ev-1")
        assert await repo.first_delivery("another-projection", "ev-1")


async def test_the_pool_lists_newest_first_per_tenant_and_agent(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        for e in (entry("c-1", minutes=1), entry("c-2", minutes=3), entry("c-3", "a-20", minutes=2),
                  entry("c-2", "a-20", minutes=3), entry("c-9", tenant="other")):
            await repo.save_pool_entry(e)
    async with uow.transaction() as repo:
        everyone = await repo.list_pool("acme", None, 50)
        assert [(e.interaction_id, e.agent_id) for e in everyone] == [
            ("c-2", "a-17"), ("c-2", "a-20"), ("c-3", "a-20"), ("c-1", "a-17")]
        assert [e.interaction_id for e in await repo.list_pool("acme", "a-20", 50)] == ["c-2", "c-3"]
        assert len(await repo.list_pool("acme", None, 2)) == 2
        assert [e.agent_id for e in await repo.pool_entries("acme", "c-2")] == ["a-17", "a-20"]
        assert await repo.pool_entries("other", "c-2") == []
        assert everyone[-1] == entry("c-1", minutes=1)


async def test_a_corrected_report_of_the_same_handling_replaces_the_entry(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        await repo.save_pool_entry(entry("c-1", talk_s="310.000"))
        await repo.save_pool_entry(entry("c-1", talk_s="295.250"))
    async with uow.transaction() as repo:
        assert await repo.pool_entries("acme", "c-1") == [entry("c-1", talk_s="295.250")]


async def test_an_evaluation_reads_back_as_stored_and_only_in_its_tenant(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        await repo.add_evaluation(evaluation("e-1"))
        await repo.enqueue(evaluation_submitted(evaluation("e-1")))
    async with uow.transaction() as repo:
        assert await repo.get_evaluation("acme", "e-1") == evaluation("e-1")
        assert await repo.get_evaluation("other", "e-1") is None


async def test_an_evaluation_id_is_stored_once_and_a_failed_transaction_leaves_nothing(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        await repo.add_evaluation(evaluation("e-1"))
    with pytest.raises((KeyError, asyncpg.UniqueViolationError)):
        async with uow.transaction() as repo:
            await repo.save_pool_entry(entry("c-7"))
            await repo.add_evaluation(evaluation("e-1", score="10.00"))
    async with uow.transaction() as repo:
        assert await repo.get_evaluation("acme", "e-1") == evaluation("e-1")
        assert await repo.pool_entries("acme", "c-7") == []
