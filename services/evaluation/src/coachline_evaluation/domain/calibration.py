"""Calibration sessions, their agreement figures, and the dispute and overturn rates that pick what to calibrate.

A session's evaluators score the same interaction blind. Once all have submitted, agreement is
computed on criterion level — each criterion's points as a percentage of what it is worth — with
Krippendorff's alpha (interval) over the criteria as units and ICC(2,1) on the complete rows, plus,
per criterion and overall, the spread and the share of evaluators within ``tolerance`` points of the
reference evaluator. Across sessions, a criterion whose alpha (sessions as units) stays below 0.667
is flagged: its wording needs review.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coachline.contracts.base import Identifier
from coachline_evaluation.domain.evaluations import Evaluation
from coachline_evaluation.domain.statistics import icc_2_1, interpret_alpha, interpret_icc, krippendorff_alpha

LOW_AGREEMENT = 0.667


class CalibrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    interaction_id: Identifier
    agent_id: Identifier | None = Field(default=None, description="Needed only when several agents handled it.")
    scorecard_id: Identifier
    evaluator_ids: list[Identifier] = Field(min_length=2, max_length=50)
    reference_evaluator_id: Identifier | None = Field(
        default=None, description="The expert whose scores are the reference; one of evaluator_ids.")
    tolerance: Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)] = Decimal(10)

    @model_validator(mode="after")
    def _consistent(self) -> CalibrationRequest:
        if len(set(self.evaluator_ids)) != len(self.evaluator_ids):
            raise ValueError("evaluator_ids must be distinct")
        if self.reference_evaluator_id and self.reference_evaluator_id not in self.evaluator_ids:
            raise ValueError("the reference evaluator must be one of evaluator_ids")
        return self


class CriterionAgreementFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    criterion_id: str
    values: dict[str, float | None]
    spread: float
    within_tolerance: float | None


class Agreement(BaseModel):
    model_config = ConfigDict(frozen=True)

    scores: dict[str, float]
    spread: float
    within_tolerance: float | None
    alpha: float | None
    alpha_interpretation: str
    icc: float | None
    icc_interpretation: str
    criteria: list[CriterionAgreementFigures]


class CalibrationState(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    calibration_id: str
    interaction_id: str
    agent_id: str
    team_id: str | None
    scorecard_id: str
    scorecard_version: int
    evaluations: dict[str, str] = Field(description="Evaluator id to the evaluation id they score in.")
    reference_evaluator_id: str | None
    tolerance: Decimal
    state: CalibrationState = CalibrationState.OPEN
    created_at: datetime
    completed_at: datetime | None = None
    agreement: Agreement | None = None


def criterion_percent(evaluation: Evaluation, criterion_id: str) -> float | None:
    """The criterion's points as a percentage of its worth; ``None`` when it did not apply."""
    item = next((c for c in evaluation.criteria if c.criterion_id == criterion_id), None)
    if item is None or not item.applicable:
        return None
    if item.possible > 0:
        return float(100 * item.earned / item.possible)
    return float(item.earned)


def _within(values: dict[str, float | None], reference: str | None, tolerance: float) -> float | None:
    if reference is None or values.get(reference) is None:
        return None
    ref = values[reference]
    assert ref is not None
    others = [v for k, v in values.items() if k != reference and v is not None]
    if not others:
        return None
    return sum(1 for v in others if abs(v - ref) <= tolerance) / len(others)


def agreement(evaluations: Sequence[Evaluation], reference: str | None, tolerance: Decimal) -> Agreement:
    """Agreement of a session's submitted ``evaluations`` (one per evaluator)."""
    by_evaluator = {e.evaluator_id: e for e in sorted(evaluations, key=lambda e: e.evaluator_id)}
    scores = {k: float(e.score or 0) for k, e in by_evaluator.items()}
    criterion_ids = list(dict.fromkeys(c.criterion_id for e in by_evaluator.values() for c in e.criteria))
    figures = []
    units: list[list[float | None]] = []
    for criterion_id in criterion_ids:
        values = {k: criterion_percent(e, criterion_id) for k, e in by_evaluator.items()}
        present = [v for v in values.values() if v is not None]
        units.append(list(values.values()))
        figures.append(CriterionAgreementFigures(
            criterion_id=criterion_id, values=values, spread=max(present) - min(present) if present else 0.0,
            within_tolerance=_within(values, reference, float(tolerance))))
    complete = [[v for v in unit if v is not None] for unit in units if all(v is not None for v in unit)]
    alpha = krippendorff_alpha(units, "interval")
    icc = icc_2_1(complete)
    return Agreement(
        scores=scores, spread=max(scores.values()) - min(scores.values()),
        within_tolerance=_within(dict(scores), reference, float(tolerance)),  # type: ignore[arg-type]
        alpha=alpha, alpha_interpretation=interpret_alpha(alpha), icc=icc, icc_interpretation=interpret_icc(icc),
        criteria=figures,
    )


class CriterionReview(BaseModel):
    model_config = ConfigDict(frozen=True)

    criterion_id: str
    sessions: int
    alpha: float | None
    needs_review: bool


def criteria_to_review(sessions: Sequence[Agreement], min_sessions: int = 3) -> list[CriterionReview]:
    """Per criterion, alpha across sessions (each session one unit); low agreement flags the wording."""
    units: dict[str, list[list[float | None]]] = defaultdict(list)
    for session in sessions:
        for figure in session.criteria:
            units[figure.criterion_id].append(list(figure.values.values()))
    reviews = []
    for criterion_id, rows in sorted(units.items()):
        alpha = krippendorff_alpha(rows, "interval")
        flagged = len(rows) >= min_sessions and alpha is not None and alpha < LOW_AGREEMENT
        reviews.append(CriterionReview(criterion_id=criterion_id, sessions=len(rows), alpha=alpha,
                                       needs_review=flagged))
    return reviews


class DisputeRate(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    released: int
    disputed: int
    overturned: int
    dispute_rate: float | None
    overturn_rate: float | None


def dispute_rates(evaluations: Sequence[Evaluation]) -> tuple[list[DisputeRate], list[DisputeRate]]:
    """Dispute and overturn rates per evaluator and per criterion, over released evaluations.

    Per evaluator, rates are per released evaluation. Per criterion, ``released`` counts released
    evaluations where the criterion applied, ``disputed`` those where it was disputed, and
    ``overturned`` those where a decision changed it.
    """
    evaluator: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    criterion: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for e in evaluations:
        if e.released_at is None:
            continue
        counts = evaluator[e.evaluator_id]
        counts[0] += 1
        counts[1] += bool(e.disputes)
        counts[2] += any(d.outcome == "rescored" for d in e.disputes)
        disputed = {item.criterion_id for d in e.disputes for item in d.items}
        changed = {c for h in e.history if h.dispute_id for c in h.changed_criteria}
        for item in e.criteria:
            if item.applicable or item.criterion_id in disputed:
                row = criterion[item.criterion_id]
                row[0] += 1
                row[1] += item.criterion_id in disputed
                row[2] += item.criterion_id in changed

    def rows(table: dict[str, list[int]]) -> list[DisputeRate]:
        return [DisputeRate(key=k, released=r, disputed=d, overturned=o, dispute_rate=d / r if r else None,
                            overturn_rate=o / r if r else None) for k, (r, d, o) in sorted(table.items())]

    return rows(evaluator), rows(criterion)
