"""One contract for both storages: the in-memory fake used by fast tests must behave like PostgreSQL."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from coachline.contracts.coaching import SessionKind
from coachline.persistence import add_to_outbox, create_pool, migrate
from coachline_coaching.app import MIGRATIONS
from coachline_coaching.domain.evidence import AgentEvaluation
from coachline_coaching.domain.sessions import CoachingSession, session_recorded
from coachline_coaching.repository import PostgresUnitOfWork
from coachline_coaching.service import UnitOfWork
from coachline_coaching.settings import Settings

from .coaching_fakes import FakeUnitOfWork

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


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


def evidence(evaluation_id: str, agent: str = "a-17", days: int = 0, tenant: str = "acme",
             score: str = "87.50") -> AgentEvaluation:
    return AgentEvaluation(tenant_id=tenant, evaluation_id=evaluation_id, agent_id=agent, interaction_id="c-1",
                           evaluator_id="q-2", scorecard_id="sc-voice", scorecard_version=3, score=Decimal(score),
                           critical_failed=False, submitted_at=T0 + timedelta(days=days))


def session(session_id: str, evaluation_ids: list[str], coach: str = "tl-3") -> CoachingSession:
    return CoachingSession(session_id=session_id, tenant_id="acme", agent_id="a-17", coach_id=coach,
                           kind=SessionKind.SIDE_BY_SIDE, planned_on=date(2026, 11, 21), held_at=T0,
                           summary=None, evaluation_ids=evaluation_ids, recorded_at=T0 + timedelta(hours=1))


async def test_the_inbox_admits_each_event_once_per_consumer(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        assert await repo.first_delivery("agent-evaluations", "ev-1")
        assert not await repo.first_delivery("agent-evaluations", "ev-1")
        assert await repo.first_delivery("another-projection", "ev-1")


async def test_evidence_is_listed_newest_first_per_tenant_and_agent(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        for e in (evidence("e-1", days=1), evidence("e-2", days=3), evidence("e-3", days=3),
                  evidence("e-4", "a-20"), evidence("e-5", tenant="other")):
            await repo.save_evaluation(e)
    async with uow.transaction() as repo:
        listed = await repo.agent_evaluations("acme", "a-17")
        assert [e.evaluation_id for e in listed] == ["e-2", "e-3", "e-1"]
        assert listed[-1] == evidence("e-1", days=1)
        assert [e.evaluation_id for e in await repo.agent_evaluations("acme", "a-17", limit=1)] == ["e-2"]
        assert [e.evaluation_id for e in await repo.agent_evaluations(
            "acme", "a-17", evaluation_ids=["e-1", "e-4", "e-5", "e-9"])] == ["e-1"]
        assert await repo.agent_evaluations("acme", "a-17", evaluation_ids=[]) == []


async def test_an_evaluation_received_again_keeps_its_first_version(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        await repo.save_evaluation(evidence("e-1", score="87.50"))
        await repo.save_evaluation(evidence("e-1", score="12.00"))
    async with uow.transaction() as repo:
        assert await repo.agent_evaluations("acme", "a-17") == [evidence("e-1", score="87.50")]


async def test_a_session_reads_back_with_its_evidence_in_order_and_only_in_its_tenant(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        for e in (evidence("e-1"), evidence("e-2"), evidence("e-3")):
            await repo.save_evaluation(e)
        await repo.add_session(session("cs-1", ["e-3", "e-1", "e-2"]))
        await repo.add_session(session("cs-2", []))
        await repo.enqueue(session_recorded(session("cs-1", ["e-3", "e-1", "e-2"])))
    async with uow.transaction() as repo:
        assert await repo.get_session("acme", "cs-1") == session("cs-1", ["e-3", "e-1", "e-2"])
        assert await repo.get_session("acme", "cs-2") == session("cs-2", [])
        assert await repo.get_session("other", "cs-1") is None


async def test_a_session_id_is_stored_once_and_a_failed_transaction_leaves_nothing(uow: UnitOfWork) -> None:
    async with uow.transaction() as repo:
        await repo.add_session(session("cs-1", []))
    with pytest.raises((KeyError, asyncpg.UniqueViolationError)):
        async with uow.transaction() as repo:
            await repo.save_evaluation(evidence("e-7"))
            await repo.add_session(session("cs-1", [], coach="tl-9"))
    async with uow.transaction() as repo:
        assert await repo.get_session("acme", "cs-1") == session("cs-1", [])
        assert await repo.agent_evaluations("acme", "a-17") == []
