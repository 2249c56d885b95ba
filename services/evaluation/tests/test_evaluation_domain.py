from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from coachline.contracts.evaluations import EvaluationSubmitted
from coachline.contracts.interactions import Channel, InteractionWrappedUp
from coachline.envelope import decode
from coachline_evaluation.domain.evaluations import SubmitEvaluation, evaluate, evaluation_submitted
from coachline_evaluation.domain.sampling import AgentNotNamed, NotInPool, entry_to_evaluate, pool_entry

pytestmark = pytest.mark.unit

CET = timezone(timedelta(hours=1))


def completed(agent_id: str = "a-17", **changes: object) -> InteractionWrappedUp:
    fields: dict[str, object] = {
        "interaction_id": "c-1001", "queue_id": "billing", "channel": "voice", "agent_id": agent_id,
        "team_id": "t-north", "occurred_at": datetime(2026, 11, 23, 10, 6, 40, tzinfo=CET),
        "talk_s": "310.000", "hold_s": "25.000", "after_contact_work_s": "45.500", "transferred": False,
    }
    fields.update(changes)
    return InteractionWrappedUp.model_validate(fields)


def command(**changes: object) -> SubmitEvaluation:
    fields: dict[str, object] = {
        "tenant_id": "acme", "interaction_id": "c-1001", "evaluator_id": "q-2", "scorecard_id": "sc-voice",
        "scorecard_version": 3, "score": "87.5", "critical_failed": False,
    }
    fields.update(changes)
    return SubmitEvaluation.model_validate(fields)


def test_a_completed_interaction_becomes_a_pool_entry_in_utc_with_its_handle_time() -> None:
    entry = pool_entry("acme", completed())

    assert entry.tenant_id == "acme"
    assert (entry.interaction_id, entry.agent_id, entry.team_id, entry.queue_id) == ("c-1001", "a-17", "t-north",
                                                                                        "billing")
    assert entry.channel is Channel.VOICE
    assert entry.completed_at == datetime(2026, 11, 23, 9, 6, 40, tzinfo=UTC)
    assert entry.completed_at.utcoffset() == timedelta(0)
    assert entry.handle_s == Decimal("380.500")


def test_durations_are_kept_to_the_millisecond_as_stored() -> None:
    entry = pool_entry("acme", completed(talk_s="60", hold_s="0", after_contact_work_s="0", transferred=True))

    assert entry.model_dump(mode="json") | {"completed_at": None} == {
        "tenant_id": "acme", "interaction_id": "c-1001", "agent_id": "a-17", "team_id": "t-north",
        "queue_id": "billing", "channel": "voice", "completed_at": None, "talk_s": "60.000", "hold_s": "0.000",
        "after_contact_work_s": "0.000", "transferred": True, "handle_s": "60.000",
    }


def test_the_only_agent_who_handled_an_interaction_is_the_one_evaluated() -> None:
    only = pool_entry("acme", completed())

    assert entry_to_evaluate([only], None) == only
    assert entry_to_evaluate([only], "a-17") == only


def test_an_interaction_outside_the_pool_cannot_be_evaluated() -> None:
    with pytest.raises(NotInPool):
        entry_to_evaluate([], None)
    with pytest.raises(NotInPool):
        entry_to_evaluate([pool_entry("acme", completed())], "a-99")


def test_a_transferred_interaction_needs_the_agent_named() -> None:
    first, second = pool_entry("acme", completed("a-17")), pool_entry("acme", completed("a-20"))

    with pytest.raises(AgentNotNamed) as raised:
        entry_to_evaluate([second, first], None)
    assert raised.value.agent_ids == ["a-17", "a-20"]
    assert entry_to_evaluate([first, second], "a-20") == second


def test_an_evaluation_scores_the_pool_entry_with_the_agent_taken_from_the_pool() -> None:
    entry = pool_entry("acme", completed())
    submitted_at = datetime(2026, 11, 24, 8, 0, tzinfo=CET)

    evaluation = evaluate(command(), entry, evaluation_id="e-5", submitted_at=submitted_at)

    assert evaluation.agent_id == "a-17"
    assert evaluation.tenant_id == "acme"
    assert evaluation.score == Decimal("87.50")
    assert str(evaluation.score) == "87.50"
    assert evaluation.submitted_at == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def test_a_negative_zero_score_is_stored_as_zero() -> None:
    evaluation = evaluate(command(score="-0.0", critical_failed=True), pool_entry("acme", completed()),
                          evaluation_id="e-6", submitted_at=datetime.now(UTC))

    assert str(evaluation.score) == "0.00"


@pytest.mark.parametrize("score", [-0.01, 100.01, "87.555", "NaN", "Infinity", True, None, "high"])
def test_a_score_outside_0_to_100_with_two_decimals_is_refused(score: object) -> None:
    with pytest.raises(ValidationError):
        command(score=score)


@pytest.mark.parametrize(
    "changes",
    [
        {"scorecard_version": 0},
        {"scorecard_version": "3"},
        {"scorecard_version": 3.0},
        {"critical_failed": "yes"},
        {"critical_failed": 1},
        {"tenant_id": ""},
        {"tenant_id": "a" * 129},
        {"interaction_id": "c 1001"},
        {"evaluator_id": "q-2\x00"},
        {"comment": "unknown fields are refused"},
    ],
)
def test_a_submission_is_refused_rather_than_coerced(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        command(**changes)


def test_the_submitted_event_carries_the_evaluation_keyed_by_agent() -> None:
    evaluation = evaluate(command(), pool_entry("acme", completed()), evaluation_id="e-5",
                          submitted_at=datetime(2026, 11, 24, 7, 0, tzinfo=UTC))

    event = evaluation_submitted(evaluation)

    assert event.type == "qa.evaluation.submitted.v1"
    assert event.topic == "qa.evaluations.v1"
    assert event.key == "acme:a-17"
    assert event.tenant_id == "acme"
    assert event.subject == "e-5"
    assert event.time == evaluation.submitted_at
    assert event.data == EvaluationSubmitted(
        evaluation_id="e-5", interaction_id="c-1001", agent_id="a-17", evaluator_id="q-2", scorecard_id="sc-voice",
        scorecard_version=3, score=Decimal("87.50"), critical_failed=False, submitted_at=evaluation.submitted_at,
    )
    # What consumers read back from Kafka is the same event.
    assert decode(event.headers(), event.body()) == event
