from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from coachline.contracts.coaching import CoachingSessionRecorded, SessionKind
from coachline.contracts.evaluations import EvaluationSubmitted
from coachline.envelope import decode
from coachline_coaching.domain.evidence import agent_evaluation, missing_evidence
from coachline_coaching.domain.sessions import RecordSession, coaching_session, session_recorded

pytestmark = pytest.mark.unit

CET = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def submitted(evaluation_id: str = "e-5", **changes: Any) -> EvaluationSubmitted:
    fields: dict[str, Any] = {
        "evaluation_id": evaluation_id, "interaction_id": "c-1001", "agent_id": "a-17", "evaluator_id": "q-2",
        "scorecard_id": "sc-voice", "scorecard_version": 3, "score": "87.5", "critical_failed": False,
        "submitted_at": datetime(2026, 11, 23, 10, 0, tzinfo=CET),
    }
    fields.update(changes)
    return EvaluationSubmitted.model_validate(fields)


def command(**changes: Any) -> RecordSession:
    fields: dict[str, Any] = {
        "tenant_id": "acme", "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review",
        "planned_on": "2026-11-24", "held_at": "2026-11-24T14:30:00+01:00",
        "summary": "Agreed to summarise the next step at the end of each call.", "evaluation_ids": ["e-5", "e-7"],
    }
    fields.update(changes)
    return RecordSession.model_validate(fields)


def test_a_submitted_evaluation_becomes_evidence_for_its_agent() -> None:
    evidence = agent_evaluation("acme", submitted())

    assert (evidence.tenant_id, evidence.agent_id, evidence.evaluation_id) == ("acme", "a-17", "e-5")
    assert str(evidence.score) == "87.50"
    assert evidence.submitted_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_missing_evidence_lists_requested_ids_the_agent_does_not_have_in_order() -> None:
    evidence = [agent_evaluation("acme", submitted("e-5")), agent_evaluation("acme", submitted("e-6"))]

    assert missing_evidence(["e-9", "e-5", "e-1"], evidence) == ["e-9", "e-1"]
    assert missing_evidence(["e-6", "e-5"], evidence) == []
    assert missing_evidence([], []) == []


def test_a_held_session_is_recorded_in_utc() -> None:
    session = coaching_session(command(), session_id="cs-12", recorded_at=NOW)

    assert session.kind is SessionKind.EVALUATION_REVIEW
    assert session.planned_on == date(2026, 11, 24)
    assert session.held_at == datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
    assert session.evaluation_ids == ["e-5", "e-7"]
    assert session.recorded_at == NOW


def test_a_session_needs_only_who_what_kind_and_when() -> None:
    minimal = RecordSession.model_validate({"tenant_id": "acme", "agent_id": "a-17", "coach_id": "tl-3",
                                            "kind": "team_huddle", "held_at": "2026-11-24T09:00:00Z"})

    assert (minimal.planned_on, minimal.summary, minimal.evaluation_ids) == (None, None, [])


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "pep_talk"},
        {"held_at": "2026-11-24T14:30:00"},
        {"held_at": 0},
        {"held_at": 1_700_000_000.5},
        {"planned_on": 0},
        {"planned_on": "24.11.2026"},
        {"summary": "x" * 4001},
        {"summary": "before\x00after"},
        {"evaluation_ids": ["e-5", "e-5"]},
        {"evaluation_ids": [f"e-{i}" for i in range(51)]},
        {"evaluation_ids": ["e 5"]},
        {"coach_id": ""},
        {"agent_id": None},
        {"mood": "great"},
    ],
)
def test_a_session_is_refused_rather_than_coerced(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        command(**changes)


def test_the_recorded_event_carries_the_session_keyed_by_agent() -> None:
    session = coaching_session(command(), session_id="cs-12", recorded_at=NOW)

    event = session_recorded(session)

    assert event.type == "coaching.session.recorded.v1"
    assert event.topic == "coaching.v1"
    assert (event.key, event.tenant_id, event.subject, event.time) == ("acme:a-17", "acme", "cs-12", NOW)
    assert event.data == CoachingSessionRecorded(
        session_id="cs-12", agent_id="a-17", coach_id="tl-3", kind=SessionKind.EVALUATION_REVIEW,
        planned_on=date(2026, 11, 24), held_at=datetime(2026, 11, 24, 13, 30, tzinfo=UTC),
        summary="Agreed to summarise the next step at the end of each call.", evaluation_ids=["e-5", "e-7"],
    )
    assert decode(event.headers(), event.body()) == event


def test_scores_read_the_same_whatever_precision_was_sent() -> None:
    assert agent_evaluation("acme", submitted(score=Decimal("100"))).score == Decimal("100.00")
    assert str(agent_evaluation("acme", submitted(score="0")).score) == "0.00"
