from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from coachline.contracts.evaluations import EvaluationSubmitted
from coachline.envelope import CloudEvent, new_event
from coachline_coaching import service
from coachline_coaching.domain.sessions import RecordSession

from .coaching_fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def evaluation_event(evaluation_id: str = "e-5", tenant: str = "acme", agent: str = "a-17", score: str = "87.5",
                     event_id: str | None = None, submitted_at: datetime = NOW - timedelta(days=1)) -> CloudEvent:
    data = EvaluationSubmitted(
        evaluation_id=evaluation_id, interaction_id="c-1001", agent_id=agent, evaluator_id="q-2",
        scorecard_id="sc-voice", scorecard_version=3, score=Decimal(score), submitted_at=submitted_at,
    )
    return new_event("qa.evaluation.submitted.v1", tenant, data, source="test", event_id=event_id)


def session(**changes: Any) -> RecordSession:
    fields: dict[str, Any] = {
        "tenant_id": "acme", "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one",
        "held_at": (NOW - timedelta(hours=1)).isoformat(), "evaluation_ids": ["e-5"],
    }
    fields.update(changes)
    return RecordSession.model_validate(fields)


async def test_an_evaluation_is_kept_once_per_event() -> None:
    uow = FakeUnitOfWork()
    first = evaluation_event()

    assert await service.take_evaluation(uow, first) is service.Outcome.RECORDED
    redelivered = evaluation_event(score="10", event_id=first.id)
    assert await service.take_evaluation(uow, redelivered) is service.Outcome.DUPLICATE

    [kept] = await service.agent_evaluations(uow, "acme", "a-17", 50)
    assert kept.score == Decimal("87.50")


async def test_evaluations_are_listed_per_tenant_and_agent_most_recent_first() -> None:
    uow = FakeUnitOfWork()
    for event in (evaluation_event("e-1", submitted_at=NOW - timedelta(days=3)),
                  evaluation_event("e-2", submitted_at=NOW - timedelta(days=1)),
                  evaluation_event("e-3", agent="a-20"), evaluation_event("e-4", tenant="other")):
        await service.take_evaluation(uow, event)

    assert [e.evaluation_id for e in await service.agent_evaluations(uow, "acme", "a-17", 50)] == ["e-2", "e-1"]
    assert [e.evaluation_id for e in await service.agent_evaluations(uow, "acme", "a-17", 1)] == ["e-2"]
    assert await service.agent_evaluations(uow, "other", "a-17", 50) != []
    assert await service.agent_evaluations(uow, "acme", "a-99", 50) == []


async def test_recording_a_session_stores_it_and_queues_its_event_together() -> None:
    uow = FakeUnitOfWork()
    await service.take_evaluation(uow, evaluation_event())

    recorded = await service.record_session(uow, session(), session_id="cs-12", now=NOW)

    assert await service.find_session(uow, "acme", "cs-12") == recorded
    [event] = uow.state.outbox
    assert event.type == "coaching.session.recorded.v1"
    assert event.data.model_dump()["evaluation_ids"] == ["e-5"]


async def test_a_session_may_name_only_evaluations_of_its_agent_in_its_tenant() -> None:
    uow = FakeUnitOfWork()
    for event in (evaluation_event("e-5"), evaluation_event("e-6", agent="a-20"),
                  evaluation_event("e-7", tenant="other")):
        await service.take_evaluation(uow, event)

    with pytest.raises(service.UnknownEvidence) as raised:
        await service.record_session(uow, session(evaluation_ids=["e-5", "e-6", "e-7", "e-8"]), now=NOW)

    assert raised.value.evaluation_ids == ["e-6", "e-7", "e-8"]
    assert uow.state.sessions == {} and uow.state.outbox == []


async def test_a_session_without_evidence_is_recorded() -> None:
    uow = FakeUnitOfWork()

    recorded = await service.record_session(uow, session(kind="team_huddle", evaluation_ids=[]), now=NOW)

    assert recorded.evaluation_ids == [] and len(uow.state.outbox) == 1


async def test_a_failed_recording_leaves_neither_session_nor_event() -> None:
    uow = FakeUnitOfWork()
    await service.record_session(uow, session(evaluation_ids=[]), session_id="cs-1", now=NOW)

    with pytest.raises(KeyError):
        await service.record_session(uow, session(evaluation_ids=[], coach_id="tl-9"), session_id="cs-1", now=NOW)

    assert len(uow.state.outbox) == 1
    assert (await service.find_session(uow, "acme", "cs-1")).coach_id == "tl-3"


async def test_an_unknown_session_is_not_found() -> None:
    with pytest.raises(service.SessionNotFound):
        await service.find_session(FakeUnitOfWork(), "acme", "cs-404")
