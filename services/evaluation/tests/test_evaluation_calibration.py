"""Calibration agreement, criteria to review, dispute rates and the mystery-shop schedule (pure functions)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachline_evaluation.domain import evaluations as lifecycle
from coachline_evaluation.domain.calibration import agreement, criteria_to_review, dispute_rates
from coachline_evaluation.domain.evaluations import DisputedItem, Evaluation, Policy
from coachline_evaluation.domain.mystery_shopping import ScheduleRequest, schedule, shopper_answers
from coachline_evaluation.domain.scorecards import Criterion, InvalidAnswers, ScorecardDefinition, Section

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CARD = ScorecardDefinition(name="voice", sections=[Section(section_id="s", title="s", goal="quality", criteria=[
    Criterion(criterion_id="greeting", title="Greeting", answer_type="scale", scale_min=1, scale_max=5,
              points=Decimal(4)),
    Criterion(criterion_id="solution", title="Solution", answer_type="scale", scale_min=1, scale_max=5,
              points=Decimal(4)),
    Criterion(criterion_id="close", title="Close", points=Decimal(2)),
])])


def scored(evaluator: str, greeting: int, solution: int, close: bool) -> Evaluation:
    evaluation = Evaluation(evaluation_id=f"e-{evaluator}", tenant_id="acme", interaction_id="c-1", agent_id="a-1",
                            evaluator_id=evaluator, scorecard_id="sc", scorecard_version=1, assigned_at=T0)
    return lifecycle.submit(evaluation, CARD, {"greeting": Decimal(greeting), "solution": Decimal(solution),
                                               "close": close}, [], Policy(), T0)


def test_agreement_of_a_session_by_hand() -> None:
    # Criterion percentages: greeting 100, 75, 100; solution 50, 50, 25; close 100, 100, 100.
    session = [scored("ref", 5, 3, True), scored("q-1", 4, 3, True), scored("q-2", 5, 2, True)]

    figures = agreement(session, "ref", Decimal(10))

    by_criterion = {c.criterion_id: c for c in figures.criteria}
    assert by_criterion["greeting"].spread == 25 and by_criterion["greeting"].within_tolerance == 0.5
    assert by_criterion["close"].spread == 0 and by_criterion["close"].within_tolerance == 1.0
    # Overall: ref (4+2+2)/10 = 80, q-1 (3+2+2)/10 = 70, q-2 (4+1+2)/10 = 70: both exactly at the 10-point edge.
    assert figures.scores == {"q-1": 70.0, "q-2": 70.0, "ref": 80.0}
    assert figures.spread == 10 and figures.within_tolerance == 1.0
    assert figures.alpha is not None and 0 < figures.alpha < 1
    assert figures.alpha_interpretation in {"reliable", "tentative", "unreliable"}


def test_a_criterion_whose_agreement_stays_low_across_sessions_is_flagged() -> None:
    sessions = [
        agreement([scored("q-1", 5, g, True), scored("q-2", 5, 6 - g, True)], None, Decimal(10))
        for g in (1, 5, 2, 4)
    ]

    reviews = {r.criterion_id: r for r in criteria_to_review(sessions)}

    assert reviews["solution"].needs_review and reviews["solution"].sessions == 4
    assert not reviews["greeting"].needs_review


def test_dispute_and_overturn_rates_per_evaluator_and_criterion() -> None:
    first = lifecycle.release(scored("q-1", 3, 3, True), T0)
    disputed = lifecycle.dispute(first, CARD, [DisputedItem(criterion_id="greeting", reason="x")], "a-1", "d-1",
                                 Policy(), T0)
    overturned = lifecycle.resolve(disputed, CARD, "rescored", {"greeting": Decimal(5)}, "heard it", "q-1", T0)
    quiet = lifecycle.release(scored("q-2", 3, 3, True), T0)
    unreleased = scored("q-2", 1, 1, False)

    evaluators, criteria = dispute_rates([overturned, quiet, unreleased])

    assert [(r.key, r.released, r.disputed, r.overturned) for r in evaluators] == [("q-1", 1, 1, 1), ("q-2", 1, 0, 0)]
    greeting = next(r for r in criteria if r.key == "greeting")
    assert (greeting.released, greeting.disputed, greeting.overturned, greeting.overturn_rate) == (2, 1, 1, 0.5)


@settings(max_examples=60, deadline=None)
@given(visits=st.integers(1, 200), days=st.integers(1, 30), share=st.sampled_from(["0", "0.3", "0.5", "1"]))
def test_mystery_visits_spread_over_days_and_peak_and_quiet_hours(visits: int, days: int, share: str) -> None:
    request = ScheduleRequest(scenario_ids=["cancel", "upgrade"], start=date(2026, 12, 1), days=days, visits=visits,
                              peak_share=Decimal(share))

    planned = schedule(request, "seed")

    assert len(planned) == visits and planned == schedule(request, "seed")
    assert sum(v.peak for v in planned) == round(Decimal(share) * visits)
    assert all((v.hour in request.peak_hours) == v.peak and v.hour in request.open_hours for v in planned)
    per_day = Counter(v.on for v in planned)
    assert all(request.start <= d < request.start + timedelta(days=days) for d in per_day)
    assert max(per_day.values()) - min(per_day.values()) <= 1 or len(per_day) < days
    per_scenario = Counter(v.scenario_id for v in planned)
    assert max(per_scenario.values()) - min(per_scenario.values()) <= 1


def test_shopper_answers_map_to_scorecard_answers() -> None:
    assert shopper_answers({"a": "Yes", "b": "no", "c": "N/A", "d": True, "e": Decimal(3)}) == {
        "a": True, "b": False, "c": "na", "d": True, "e": Decimal(3)}
    with pytest.raises(InvalidAnswers):
        shopper_answers({"a": "maybe"})
