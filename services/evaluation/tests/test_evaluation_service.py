from datetime import UTC, datetime
from decimal import Decimal

import pytest

from coachline.contracts.interactions import InteractionAnswered, InteractionWrappedUp
from coachline.envelope import CloudEvent, new_event
from coachline_evaluation import service
from coachline_evaluation.domain.evaluations import SubmitEvaluation
from coachline_evaluation.domain.sampling import AgentNotNamed, NotInPool

from .evaluation_fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def completed_event(tenant: str = "acme", interaction: str = "c-1001", agent: str = "a-17",
                    talk_s: str = "310", event_id: str | None = None) -> CloudEvent:
    data = InteractionWrappedUp(
        interaction_id=interaction, queue_id="billing", channel="voice", agent_id=agent, team_id="t-north",
        occurred_at=datetime(2026, 11, 23, 9, 6, 40, tzinfo=UTC), talk_s=Decimal(talk_s),
    )
    return new_event("cc.interaction.wrapped-up.v1", tenant, data, source="test", event_id=event_id)


def submission(**changes: object) -> SubmitEvaluation:
    fields: dict[str, object] = {
        "tenant_id": "acme", "interaction_id": "c-1001", "evaluator_id": "q-2", "scorecard_id": "sc-voice",
        "scorecard_version": 3, "score": "91.25", "critical_failed": False,
    }
    fields.update(changes)
    return SubmitEvaluation.model_validate(fields)


async def test_a_completed_interaction_enters_the_pool_once() -> None:
    uow = FakeUnitOfWork()
    event = completed_event()

    assert await service.take_interaction(uow, event) is service.Outcome.ADDED
    redelivered = completed_event(talk_s="999", event_id=event.id)
    assert await service.take_interaction(uow, redelivered) is service.Outcome.DUPLICATE

    [entry] = await service.sampling_pool(uow, "acme", None, 50)
    assert entry.talk_s == Decimal("310")


async def test_other_interaction_events_are_acknowledged_without_effect() -> None:
    uow = FakeUnitOfWork()
    answered = new_event("cc.interaction.answered.v1", "acme", InteractionAnswered(
        interaction_id="c-1001", queue_id="billing", channel="voice", agent_id="a-17",
        occurred_at=NOW, queue_wait_s=Decimal(12)), source="test")

    assert await service.take_interaction(uow, answered) is service.Outcome.IGNORED
    assert uow.state.pool == {} and uow.state.inbox == set()


async def test_the_pool_lists_one_tenant_and_optionally_one_agent() -> None:
    uow = FakeUnitOfWork()
    for event in (completed_event(agent="a-17"), completed_event(interaction="c-2", agent="a-20"),
                  completed_event(tenant="other")):
        await service.take_interaction(uow, event)

    assert {e.interaction_id for e in await service.sampling_pool(uow, "acme", None, 50)} == {"c-1001", "c-2"}
    assert [e.agent_id for e in await service.sampling_pool(uow, "acme", "a-20", 50)] == ["a-20"]
    assert len(await service.sampling_pool(uow, "acme", None, 1)) == 1
    assert await service.sampling_pool(uow, "nobody", None, 50) == []


async def test_submitting_stores_the_evaluation_and_queues_its_event_together() -> None:
    uow = FakeUnitOfWork()
    await service.take_interaction(uow, completed_event())

    evaluation = await service.submit_evaluation(uow, submission(), evaluation_id="e-5", now=NOW)

    assert evaluation.agent_id == "a-17"
    assert await service.find_evaluation(uow, "acme", "e-5") == evaluation
    [event] = uow.state.outbox
    assert event.type == "qa.evaluation.submitted.v1"
    assert event.data.model_dump()["evaluation_id"] == "e-5"


async def test_an_interaction_of_another_tenant_cannot_be_evaluated() -> None:
    uow = FakeUnitOfWork()
    await service.take_interaction(uow, completed_event(tenant="other"))

    with pytest.raises(NotInPool):
        await service.submit_evaluation(uow, submission(), now=NOW)
    assert uow.state.evaluations == {} and uow.state.outbox == []


async def test_a_transferred_interaction_is_evaluated_per_agent() -> None:
    uow = FakeUnitOfWork()
    await service.take_interaction(uow, completed_event(agent="a-17"))
    await service.take_interaction(uow, completed_event(agent="a-20"))

    with pytest.raises(AgentNotNamed):
        await service.submit_evaluation(uow, submission(), now=NOW)
    evaluation = await service.submit_evaluation(uow, submission(agent_id="a-20"), now=NOW)

    assert evaluation.agent_id == "a-20"
    assert len(uow.state.outbox) == 1


async def test_a_failed_submission_leaves_neither_evaluation_nor_event() -> None:
    uow = FakeUnitOfWork()
    await service.take_interaction(uow, completed_event())
    await service.submit_evaluation(uow, submission(), evaluation_id="e-5", now=NOW)

    with pytest.raises(KeyError):
        await service.submit_evaluation(uow, submission(score=10), evaluation_id="e-5", now=NOW)

    assert len(uow.state.outbox) == 1
    assert (await service.find_evaluation(uow, "acme", "e-5")).score == Decimal("91.25")


async def test_an_unknown_evaluation_is_not_found() -> None:
    with pytest.raises(service.EvaluationNotFound):
        await service.find_evaluation(FakeUnitOfWork(), "acme", "e-404")
