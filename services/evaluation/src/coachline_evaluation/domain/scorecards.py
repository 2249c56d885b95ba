"""Scorecards: versioned forms of sections and criteria, and the pure function that scores answers.

Scoring, in full:

1. A criterion is *applicable* when its condition (if any) holds — the criterion it depends on is
   applicable and was answered with one of the listed values — and it was not answered ``"na"``.
2. An applicable criterion earns points: yes/no earns ``points`` for yes and 0 for no; a scale answer
   ``a`` in ``[scale_min, scale_max]`` earns ``points * (a - scale_min) / (scale_max - scale_min)``;
   a points criterion earns the answer itself, within ``[min_points, max_points]``. It is worth
   ``points`` (``max_points`` for points criteria, never below 0); a bonus criterion is worth 0, so
   it can only add.
3. A section's score is ``100 * earned / possible`` over its applicable criteria, held within 0-100
   (penalties cannot take it below 0, bonuses not above 100); a section with nothing possible has no
   score and does not count.
4. A critical criterion answered "no" fails its section (score 0) or the whole evaluation (score 0),
   as the criterion says.
5. The evaluation's score is the weighted mean of the scored sections' scores, rounded half-up to
   two decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from coachline.contracts.base import Identifier, LongText, ShortText
from coachline.contracts.evaluations import CriterionScore, GoalCorner, Points, SectionScore

MAX_SECTIONS = 100
MAX_CRITERIA = 100
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_THOUSANDTH = Decimal("0.001")

# "na" marks a criterion as not applicable; booleans answer yes/no; numbers answer scales and points.
NumericAnswer = Annotated[Decimal, Field(ge=-100000, le=100000, max_digits=10, decimal_places=3)]
Answer = Literal["na"] | StrictBool | NumericAnswer
Answers = Mapping[str, "Answer"]


class AnswerType(StrEnum):
    YES_NO = "yes_no"
    SCALE = "scale"
    POINTS = "points"


class Critical(StrEnum):
    """What a "no" on a critical criterion fails."""

    NONE = "none"
    SECTION = "section"
    EVALUATION = "evaluation"


class Condition(BaseModel):
    """Show the criterion only when an earlier criterion was answered with one of ``any_of``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion_id: Identifier
    any_of: list[StrictBool | NumericAnswer] = Field(min_length=1, max_length=20)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion_id: Identifier
    title: ShortText
    guidance: LongText | None = None
    answer_type: AnswerType = AnswerType.YES_NO
    points: Points = Field(default=Decimal(1), ge=0, description="What the criterion is worth (yes/no, scale).")
    scale_min: Annotated[int, Field(ge=0, le=100)] = 1
    scale_max: Annotated[int, Field(ge=1, le=100)] = 5
    min_points: Points = Decimal(0)
    max_points: Points = Decimal(0)
    bonus: bool = False
    allow_na: bool = True
    critical: Critical = Critical.NONE
    condition: Condition | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        if self.answer_type is AnswerType.SCALE and self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be above scale_min")
        if self.answer_type is AnswerType.POINTS and not self.min_points <= self.max_points:
            raise ValueError("max_points must not be below min_points")
        if self.answer_type is AnswerType.POINTS and self.max_points < 0:
            # A criterion whose best answer still deducts is a fixed penalty, not a question.
            raise ValueError("max_points must be at least 0")
        if self.critical is not Critical.NONE and self.answer_type is not AnswerType.YES_NO:
            raise ValueError("only yes/no criteria can be critical")
        return self

    @property
    def possible(self) -> Decimal:
        if self.bonus:
            return Decimal(0)
        if self.answer_type is AnswerType.POINTS:
            return max(self.max_points, Decimal(0))
        return self.points


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    section_id: Identifier
    title: ShortText
    goal: GoalCorner
    weight: Points = Field(default=Decimal(1), gt=0)
    criteria: list[Criterion] = Field(min_length=1, max_length=MAX_CRITERIA)


class ScorecardDefinition(BaseModel):
    """What an admin writes: the form itself. Ids are unique; conditions point at earlier criteria."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ShortText
    description: LongText | None = None
    sections: list[Section] = Field(min_length=1, max_length=MAX_SECTIONS)

    @model_validator(mode="after")
    def _well_formed(self) -> ScorecardDefinition:
        criteria = [c for s in self.sections for c in s.criteria]
        if len(criteria) > MAX_CRITERIA:
            raise ValueError(f"a scorecard has at most {MAX_CRITERIA} criteria")
        if len({s.section_id for s in self.sections}) != len(self.sections):
            raise ValueError("section ids must be unique")
        seen: dict[str, Criterion] = {}
        for criterion in criteria:
            if criterion.criterion_id in seen:
                raise ValueError(f"criterion id {criterion.criterion_id} appears twice")
            if criterion.condition and criterion.condition.criterion_id not in seen:
                raise ValueError(f"criterion {criterion.criterion_id}: a condition must name an earlier criterion")
            seen[criterion.criterion_id] = criterion
        return self

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for s in self.sections for c in s.criteria if c.criterion_id == criterion_id), None)


class ScorecardStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class Scorecard(BaseModel):
    """One version of a scorecard. A published version never changes; editing it makes a new draft version."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    scorecard_id: str
    version: int
    status: ScorecardStatus
    definition: ScorecardDefinition
    created_at: datetime
    published_at: datetime | None = None
    retired_at: datetime | None = None


class InvalidAnswers(ValueError):
    """Answers that do not fit the scorecard; ``field`` names the criterion."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Scoring(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: Decimal
    critical_failed: bool
    sections: list[SectionScore]
    criteria: list[CriterionScore]


def _earned(criterion: Criterion, answer: Answer) -> Decimal:
    if criterion.answer_type is AnswerType.YES_NO:
        if not isinstance(answer, bool):
            raise InvalidAnswers(criterion.criterion_id, "answer yes (true), no (false) or \"na\"")
        return criterion.points if answer else Decimal(0)
    if isinstance(answer, bool) or not isinstance(answer, Decimal):
        raise InvalidAnswers(criterion.criterion_id, "answer with a number or \"na\"")
    if criterion.answer_type is AnswerType.SCALE:
        if answer != answer.to_integral_value() or not criterion.scale_min <= answer <= criterion.scale_max:
            raise InvalidAnswers(criterion.criterion_id,
                                 f"answer a whole number from {criterion.scale_min} to {criterion.scale_max}")
        return criterion.points * (answer - criterion.scale_min) / (criterion.scale_max - criterion.scale_min)
    if not criterion.min_points <= answer <= criterion.max_points:
        raise InvalidAnswers(criterion.criterion_id,
                             f"answer from {criterion.min_points} to {criterion.max_points} points")
    return answer


def _matches(answer: Answer | None, condition: Condition) -> bool:
    if answer is None or answer == "na":
        return False
    # True == 1 in Python; a yes must not satisfy a condition on the number 1, nor the reverse.
    return any(type(v) is type(answer) and v == answer for v in condition.any_of)


def criterion_points(criterion: Criterion, answer: Answer) -> Decimal:
    """Points ``answer`` earns on ``criterion`` (0 for "na"); raises :class:`InvalidAnswers`."""
    return Decimal(0) if answer == "na" else _earned(criterion, answer)


def score(definition: ScorecardDefinition, answers: Answers) -> Scoring:
    """Score ``answers`` on ``definition`` as the module documents; raises :class:`InvalidAnswers`."""
    known = {c.criterion_id for s in definition.sections for c in s.criteria}
    for criterion_id in answers:
        if criterion_id not in known:
            raise InvalidAnswers(criterion_id, "not a criterion of this scorecard version")
    applicable: dict[str, bool] = {}
    criteria_scores: list[CriterionScore] = []
    section_scores: list[SectionScore] = []
    evaluation_failed = False
    weighted: list[tuple[Decimal, Decimal]] = []
    for section in definition.sections:
        earned = possible = Decimal(0)
        section_failed = False
        for criterion in section.criteria:
            answer = answers.get(criterion.criterion_id)
            shown = criterion.condition is None or (
                applicable.get(criterion.condition.criterion_id, False)
                and _matches(answers.get(criterion.condition.criterion_id), criterion.condition)
            )
            if shown and answer is None:
                raise InvalidAnswers(criterion.criterion_id, "an answer is required")
            if shown and answer == "na" and not criterion.allow_na:
                raise InvalidAnswers(criterion.criterion_id, "this criterion cannot be answered N/A")
            is_applicable = shown and answer is not None and answer != "na"
            applicable[criterion.criterion_id] = is_applicable
            points = _earned(criterion, answer) if is_applicable and answer is not None else Decimal(0)
            # Contracts carry points to the thousandth; the section sums use the exact value.
            shown_points = points.quantize(_THOUSANDTH, ROUND_HALF_UP)
            failed = is_applicable and criterion.critical is not Critical.NONE and answer is False
            if failed:
                section_failed = True
                evaluation_failed = evaluation_failed or criterion.critical is Critical.EVALUATION
            if is_applicable:
                earned += points
                possible += criterion.possible
            criteria_scores.append(CriterionScore(
                criterion_id=criterion.criterion_id, section_id=section.section_id, applicable=is_applicable,
                earned=shown_points, possible=criterion.possible if is_applicable else Decimal(0),
                critical_failed=failed,
            ))
        section_score: Decimal | None = None
        if possible > 0:
            section_score = min(_HUNDRED, max(Decimal(0), _HUNDRED * earned / possible))
        if section_failed and section_score is not None:
            section_score = Decimal(0)
        if section_score is not None:
            weighted.append((section.weight, section_score))
        section_scores.append(SectionScore(
            section_id=section.section_id, goal=section.goal, weight=section.weight, critical_failed=section_failed,
            score=None if section_score is None else section_score.quantize(_CENT, ROUND_HALF_UP),
        ))
    if not weighted:
        raise InvalidAnswers("answers", "no criterion with points applies, so there is nothing to score")
    total = sum((w * sc for w, sc in weighted), Decimal(0)) / sum((w for w, _ in weighted), Decimal(0))
    if evaluation_failed:
        total = Decimal(0)
    return Scoring(score=total.quantize(_CENT, ROUND_HALF_UP), critical_failed=evaluation_failed,
                   sections=section_scores, criteria=criteria_scores)
