"""Every lifecycle transition, legal and illegal; comments and evidence; disputes with re-score history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from coachline.contracts.evaluations import EvaluationKind
from coachline.envelope import decode
from coachline_evaluation.domain import evaluations as lifecycle
from coachline_evaluation.domain.evaluations import CommentText, DisputedItem, Evaluation, NotAllowed, Policy
from coachline_evaluation.domain.lifecycle import TRANSITIONS, Action, IllegalTransition, State, next_state
from coachline_evaluation.domain.scorecards import Criterion, InvalidAnswers, ScorecardDefinition, Section

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CARD = ScorecardDefinition(name="voice", sections=[
    Section(section_id="opening", title="Opening", goal="quality", criteria=[
        Criterion(criterion_id="greeting", title="Greeting", points=Decimal(1)),
        Criterion(criterion_id="name", title="Used the name", points=Decimal(3)),
    ]),
])
ALL_YES = {"greeting": True, "name": True}


def assigned(**changes: object) -> Evaluation:
    return Evaluation.model_validate({
        "evaluation_id": "e-1", "tenant_id": "acme", "interaction_id": "c-1", "agent_id": "a-17",
        "team_id": "t-north", "evaluator_id": "q-2", "scorecard_id": "sc", "scorecard_version": 1,
        "assigned_at": T0, **changes})


def released() -> Evaluation:
    submitted = lifecycle.submit(assigned(), CARD, {"greeting": True, "name": False}, [], Policy(), T0)
    return lifecycle.release(submitted, T0 + timedelta(hours=1))


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
def test_every_state_and_action_is_either_a_listed_transition_or_refused(state: State, action: Action) -> None:
    if (state, action) in TRANSITIONS:
        assert next_state(state, action) is TRANSITIONS[(state, action)]
    else:
        with pytest.raises(IllegalTransition):
            next_state(state, action)


def test_the_happy_path_from_assignment_to_closing() -> None:
    evaluation = lifecycle.start(assigned(), T0)
    evaluation = lifecycle.submit(evaluation, CARD, ALL_YES, [], Policy(), T0)
    evaluation = lifecycle.release(evaluation, T0)
    evaluation = lifecycle.acknowledge(evaluation, T0)
    evaluation = lifecycle.close(evaluation, T0)

    assert evaluation.state is State.CLOSED and evaluation.score == Decimal("100.00")
    with pytest.raises(IllegalTransition):
        lifecycle.submit(evaluation, CARD, ALL_YES, [], Policy(), T0)


def test_a_release_on_a_later_date_waits_in_submitted() -> None:
    submitted = lifecycle.submit(assigned(), CARD, ALL_YES, [], Policy(), T0)

    scheduled = lifecycle.release(submitted, T0, on=date(2026, 11, 30))

    assert scheduled.state is State.SUBMITTED and scheduled.release_on == date(2026, 11, 30)
    with pytest.raises(IllegalTransition):
        lifecycle.release(assigned(), T0, on=date(2026, 11, 30))


def test_calibration_and_self_evaluations_are_never_released() -> None:
    for kind in (EvaluationKind.CALIBRATION, EvaluationKind.SELF):
        submitted = lifecycle.submit(assigned(kind=kind), CARD, ALL_YES, [], Policy(), T0)
        with pytest.raises(NotAllowed):
            lifecycle.release(submitted, T0)


def test_with_evidence_required_a_deduction_needs_a_comment_with_evidence() -> None:
    strict = Policy(require_evidence_for_deductions=True)
    answers = {"greeting": True, "name": False}

    with pytest.raises(InvalidAnswers) as raised:
        lifecycle.submit(assigned(), CARD, answers, [CommentText(criterion_id="name", text="no name")], strict, T0)
    assert raised.value.field == "name"

    evidence = CommentText(criterion_id="name", text="Never said the name.", evidence={"start_s": "12", "end_s": "40"})
    submitted = lifecycle.submit(assigned(), CARD, answers, [evidence], strict, T0)
    assert submitted.comments[0].evidence is not None and submitted.comments[0].author_id == "q-2"
    assert lifecycle.submit(assigned(), CARD, ALL_YES, [], strict, T0).state is State.SUBMITTED


def test_a_comment_on_an_unknown_criterion_is_refused_and_closed_evaluations_take_none() -> None:
    with pytest.raises(InvalidAnswers):
        lifecycle.comment(assigned(), CARD, CommentText(criterion_id="nope", text="x"), "q-2", T0)
    closed = assigned(state=State.CLOSED)
    with pytest.raises(NotAllowed):
        lifecycle.comment(closed, CARD, CommentText(text="late"), "q-2", T0)


def test_a_dispute_is_routed_and_a_rescore_keeps_the_full_history() -> None:
    item = DisputedItem(criterion_id="name", proposed_answer=True, reason="I said it at 00:42.")
    disputed = lifecycle.dispute(released(), CARD, [item], "a-17", "d-1", Policy(), T0 + timedelta(days=2))

    assert disputed.state is State.DISPUTED and disputed.disputes[0].routed_to == "q-2"
    event = lifecycle.disputed_event(disputed, CARD)
    assert event.data.model_dump(mode="json")["criteria"][0]["proposed"] == "3.000"

    resolved = lifecycle.resolve(disputed, CARD, "rescored", {"name": True}, "Heard it at 00:42.", "q-2",
                                 T0 + timedelta(days=3))

    assert resolved.state is State.RESOLVED and resolved.score == Decimal("100.00")
    assert [(h.previous_score, h.score, h.decided_by, h.reason) for h in resolved.history] == [
        (None, Decimal("25.00"), "q-2", "submitted"),
        (Decimal("25.00"), Decimal("100.00"), "q-2", "Heard it at 00:42."),
    ]
    assert resolved.history[-1].changed_criteria == ["name"] and resolved.disputes[0].outcome == "rescored"
    out = lifecycle.dispute_resolved_event(resolved)
    again = decode(out.headers(), out.body())
    assert again.key == "acme:a-17"
    assert again.data.model_dump(mode="json") | {"sections": [], "criteria": []} == {
        "evaluation_id": "e-1", "agent_id": "a-17", "team_id": "t-north", "kind": "standard", "dispute_id": "d-1",
        "interaction_id": "c-1", "scorecard_id": "sc", "scorecard_version": 1, "outcome": "rescored",
        "score": "100.00", "critical_failed": False, "resolved_at": "2026-11-26T09:00:00Z",
        "decision": {"decided_by": "q-2", "decided_at": "2026-11-26T09:00:00Z", "reason": "Heard it at 00:42.",
                     "previous_score": "25.00", "score": "100.00", "changed_criteria": ["name"]},
        "sections": [], "criteria": [],
    }


def test_an_upheld_dispute_keeps_the_score_and_changes_no_answers() -> None:
    disputed = lifecycle.dispute(released(), CARD, [DisputedItem(criterion_id="name", reason="unfair")], "a-17",
                                 "d-1", Policy(), T0)
    with pytest.raises(InvalidAnswers):
        lifecycle.resolve(disputed, CARD, "upheld", {"name": True}, "no", "q-2", T0)
    with pytest.raises(InvalidAnswers):
        lifecycle.resolve(disputed, CARD, "rescored", {}, "no", "q-2", T0)

    upheld = lifecycle.resolve(disputed, CARD, "upheld", {}, "The name was not used.", "q-2", T0)

    assert upheld.score == Decimal("25.00") and upheld.history[-1].previous_score == Decimal("25.00")


def test_disputes_respect_the_window_the_maximum_and_the_arbiter() -> None:
    item = [DisputedItem(criterion_id="name", reason="unfair")]
    with pytest.raises(NotAllowed):
        lifecycle.dispute(released(), CARD, item, "a-17", "d-1", Policy(dispute_window_days=14),
                          T0 + timedelta(days=15))
    with pytest.raises(NotAllowed):
        lifecycle.dispute(released(), CARD, item, "a-17", "d-1", Policy(max_disputes_per_evaluation=0), T0)
    with pytest.raises(InvalidAnswers):
        lifecycle.dispute(released(), CARD, [DisputedItem(criterion_id="nope", reason="x")], "a-17", "d-1",
                          Policy(), T0)
    arbitrated = lifecycle.dispute(released(), CARD, item, "a-17", "d-1", Policy(dispute_arbiter_id="qa-lead"), T0)
    assert arbitrated.disputes[0].routed_to == "qa-lead"


def test_the_submitted_event_carries_kind_team_and_section_and_criterion_scores() -> None:
    submitted = lifecycle.submit(assigned(), CARD, {"greeting": True, "name": False}, [], Policy(), T0)

    event = decode(lifecycle.submitted_event(submitted).headers(), lifecycle.submitted_event(submitted).body())

    data = event.data.model_dump(mode="json")
    assert (data["kind"], data["team_id"], data["score"]) == ("standard", "t-north", "25.00")
    assert data["sections"] == [{"section_id": "opening", "goal": "quality", "score": "25.00", "weight": "1",
                                 "critical_failed": False}]
    assert [c["earned"] for c in data["criteria"]] == ["1.000", "0.000"]
