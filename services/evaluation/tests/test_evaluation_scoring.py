"""Scoring is a pure function: properties over generated scorecards and answers, plus hand-computed cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from coachline_evaluation.domain.scorecards import (
    Answer,
    AnswerType,
    Criterion,
    Critical,
    InvalidAnswers,
    ScorecardDefinition,
    Section,
    score,
)

pytestmark = pytest.mark.unit

GOALS = ("quality", "sales", "efficiency")


@st.composite
def criteria(draw: st.DrawFn, criterion_id: str) -> Criterion:
    kind = draw(st.sampled_from(list(AnswerType)))
    fields: dict[str, Any] = {"criterion_id": criterion_id, "title": criterion_id, "answer_type": kind,
                              "points": Decimal(draw(st.integers(0, 10)))}
    if kind is AnswerType.SCALE:
        low = draw(st.integers(0, 3))
        fields |= {"scale_min": low, "scale_max": draw(st.integers(low + 1, 10))}
    elif kind is AnswerType.POINTS:
        low = draw(st.integers(-10, 5))
        fields |= {"min_points": Decimal(low), "max_points": Decimal(draw(st.integers(max(low, 0), 10))),
                   "bonus": draw(st.booleans())}
    else:
        fields["critical"] = draw(st.sampled_from(list(Critical)))
    return Criterion(**fields)


@st.composite
def scorecards(draw: st.DrawFn) -> ScorecardDefinition:
    sections = []
    n = 0
    for s in range(draw(st.integers(1, 4))):
        items = []
        for _ in range(draw(st.integers(1, 5))):
            n += 1
            items.append(draw(criteria(f"c{n}")))
        sections.append(Section(section_id=f"s{s}", title=f"s{s}", goal=draw(st.sampled_from(GOALS)),
                                weight=Decimal(draw(st.integers(1, 5))), criteria=items))
    return ScorecardDefinition(name="generated", sections=sections)


def answer_for(draw: st.DrawFn, criterion: Criterion, allow_na: bool = True) -> Answer:
    if allow_na and draw(st.integers(0, 9)) == 0:
        return "na"
    if criterion.answer_type is AnswerType.YES_NO:
        return draw(st.booleans())
    if criterion.answer_type is AnswerType.SCALE:
        return Decimal(draw(st.integers(criterion.scale_min, criterion.scale_max)))
    return Decimal(draw(st.integers(int(criterion.min_points), int(criterion.max_points))))


@st.composite
def scored(draw: st.DrawFn) -> tuple[ScorecardDefinition, dict[str, Answer]]:
    card = draw(scorecards())
    return card, {c.criterion_id: answer_for(draw, c) for s in card.sections for c in s.criteria}


def best(criterion: Criterion) -> Answer:
    if criterion.answer_type is AnswerType.YES_NO:
        return True
    if criterion.answer_type is AnswerType.SCALE:
        return Decimal(criterion.scale_max)
    return criterion.max_points


def score_or_none(card: ScorecardDefinition, answers: dict[str, Answer]) -> Decimal | None:
    try:
        return score(card, answers).score
    except InvalidAnswers:
        return None


@settings(max_examples=150, deadline=None)
@given(scored())
def test_a_score_is_a_percentage_with_two_decimals(case: tuple[ScorecardDefinition, dict[str, Answer]]) -> None:
    card, answers = case
    result = score_or_none(card, answers)
    assume(result is not None)
    assert result is not None
    assert Decimal(0) <= result <= Decimal(100)
    assert result == result.quantize(Decimal("0.01"))


@settings(max_examples=150, deadline=None)
@given(scorecards())
def test_the_best_answer_everywhere_scores_100(card: ScorecardDefinition) -> None:
    answers = {c.criterion_id: best(c) for s in card.sections for c in s.criteria}
    result = score_or_none(card, answers)
    # None: nothing in the scorecard is worth points (only penalties and bonuses), so there is no score.
    assert result in (None, Decimal(100))


@settings(max_examples=150, deadline=None)
@given(scored())
def test_an_applicable_evaluation_critical_no_zeroes_the_score(
    case: tuple[ScorecardDefinition, dict[str, Answer]]
) -> None:
    card, answers = case
    critical = [c for s in card.sections for c in s.criteria if c.critical is Critical.EVALUATION]
    assume(critical)
    answers[critical[0].criterion_id] = False
    try:
        result = score(card, answers)
    except InvalidAnswers:
        assume(False)
        return
    assert result.critical_failed and result.score == 0


@settings(max_examples=150, deadline=None)
@given(scored(), st.data())
def test_na_is_the_same_as_the_criterion_not_being_on_the_scorecard(
    case: tuple[ScorecardDefinition, dict[str, Answer]], data: st.DataObject
) -> None:
    card, answers = case
    every = [c for s in card.sections for c in s.criteria]
    dropped = data.draw(st.sampled_from(every)).criterion_id
    sections = [s.model_copy(update={"criteria": [c for c in s.criteria if c.criterion_id != dropped]})
                for s in card.sections]
    without = [s for s in sections if s.criteria]
    assume(without)
    smaller = ScorecardDefinition.model_construct(name=card.name, sections=without)

    with_na = score_or_none(card, {**answers, dropped: "na"})
    absent = score_or_none(smaller, {k: v for k, v in answers.items() if k != dropped})

    assert with_na == absent


@settings(max_examples=150, deadline=None)
@given(scored(), st.data())
def test_a_better_answer_never_lowers_the_score(
    case: tuple[ScorecardDefinition, dict[str, Answer]], data: st.DataObject
) -> None:
    card, answers = case
    every = [c for s in card.sections for c in s.criteria if answers[c.criterion_id] != "na"]
    assume(every)
    criterion = data.draw(st.sampled_from(every))
    before = score_or_none(card, answers)
    after = score_or_none(card, {**answers, criterion.criterion_id: best(criterion)})
    assume(before is not None and after is not None)
    assert after is not None and before is not None
    assert after >= before


@settings(max_examples=100, deadline=None)
@given(scored(), st.integers(2, 7))
def test_scaling_every_section_weight_changes_nothing(
    case: tuple[ScorecardDefinition, dict[str, Answer]], factor: int
) -> None:
    card, answers = case
    heavier = ScorecardDefinition(name=card.name, sections=[
        s.model_copy(update={"weight": s.weight * factor}) for s in card.sections])
    assert score_or_none(heavier, answers) == score_or_none(card, answers)


def hand_card(**critical: Critical) -> ScorecardDefinition:
    return ScorecardDefinition(name="voice", sections=[
        Section(section_id="opening", title="Opening", goal="quality", weight=Decimal(1), criteria=[
            Criterion(criterion_id="greeting", title="Greeting", points=Decimal(2),
                      critical=critical.get("greeting", Critical.NONE)),
            Criterion(criterion_id="verified", title="Identity verified", points=Decimal(3)),
        ]),
        Section(section_id="sale", title="Sale", goal="sales", weight=Decimal(3), criteria=[
            Criterion(criterion_id="offered", title="Offer made", points=Decimal(4)),
            Criterion(criterion_id="offer-quality", title="Offer quality", answer_type="scale", scale_min=1,
                      scale_max=5, points=Decimal(4),
                      condition={"criterion_id": "offered", "any_of": [True]}),
            Criterion(criterion_id="rude", title="Rudeness", answer_type="points", min_points=Decimal(-5),
                      max_points=Decimal(0)),
            Criterion(criterion_id="wow", title="Went the extra mile", answer_type="points", min_points=Decimal(0),
                      max_points=Decimal(2), bonus=True),
        ]),
    ])


def test_a_hand_computed_score() -> None:
    # opening: 2 of 5 = 40%; sale: offered 4 + quality 4*(4-1)/4 = 3, rude -2, wow 0 → 5 of 8 = 62.5%
    # overall: (1*40 + 3*62.5) / 4 = 56.875 → 56.88
    result = score(hand_card(), {"greeting": True, "verified": False, "offered": True,
                                 "offer-quality": Decimal(4), "rude": Decimal(-2), "wow": Decimal(0)})

    assert [s.score for s in result.sections] == [Decimal("40.00"), Decimal("62.50")]
    assert result.score == Decimal("56.88") and not result.critical_failed


def test_a_hidden_conditional_criterion_does_not_count_and_needs_no_answer() -> None:
    # sale: offered no → 0 of 4; offer-quality hidden; wow bonus 2 → 2 of 4 = 50%; overall (100 + 150) / 4 = 62.5
    result = score(hand_card(), {"greeting": True, "verified": True, "offered": False, "rude": Decimal(0),
                                 "wow": Decimal(2)})

    hidden = next(c for c in result.criteria if c.criterion_id == "offer-quality")
    assert not hidden.applicable and result.score == Decimal("62.50")


def test_a_section_critical_failure_zeroes_only_its_section() -> None:
    result = score(hand_card(greeting=Critical.SECTION), {
        "greeting": False, "verified": True, "offered": True, "offer-quality": Decimal(5), "rude": Decimal(0),
        "wow": Decimal(0)})

    assert [s.score for s in result.sections] == [Decimal("0.00"), Decimal("100.00")]
    assert result.score == Decimal("75.00") and not result.critical_failed


@pytest.mark.parametrize(("answers", "field"), [
    ({"greeting": True}, "verified"),
    ({"greeting": "yes", "verified": True}, "greeting"),
    ({"greeting": True, "verified": True, "offered": True, "offer-quality": Decimal(6)}, "offer-quality"),
    ({"greeting": True, "verified": True, "offered": True, "offer-quality": Decimal("2.5")}, "offer-quality"),
    ({"nope": True}, "nope"),
])
def test_answers_that_do_not_fit_name_the_criterion(answers: dict[str, Any], field: str) -> None:
    base = {"greeting": True, "verified": True, "offered": False, "rude": Decimal(0), "wow": Decimal(0)}
    with pytest.raises(InvalidAnswers) as raised:
        score(hand_card(), {**base, **answers} if field != "verified" else answers)
    assert raised.value.field == field


def test_a_scorecard_holds_at_most_100_criteria_and_conditions_point_backwards() -> None:
    many = [Criterion(criterion_id=f"c{i}", title="x") for i in range(101)]
    with pytest.raises(ValidationError):
        ScorecardDefinition(name="big", sections=[Section(section_id="s", title="s", goal="quality", criteria=many)])
    with pytest.raises(ValidationError):
        ScorecardDefinition(name="loop", sections=[Section(section_id="s", title="s", goal="quality", criteria=[
            Criterion(criterion_id="a", title="a", condition={"criterion_id": "b", "any_of": [True]}),
            Criterion(criterion_id="b", title="b"),
        ])])
