"""``qa.evaluations.v1``: quality evaluations of interactions, from assignment to a resolved dispute.

Every event is keyed by ``tenant:agent_id`` so one agent's evaluation story stays in order. Scores
are percentages of applicable points (0-100, two decimals); ``kind`` tells consumers which
evaluations may count in an agent's KPIs: only ``standard`` ones do. Self-evaluations and
calibration scores never count; mystery shops are reported on their own.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, LongText, ShortText, Timestamp

Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=2)]
# Points a criterion is worth or earned: negative for penalties, above the maximum for bonuses.
Points = Annotated[Decimal, Field(ge=-100000, le=100000, max_digits=10, decimal_places=3)]


class EvaluationKind(StrEnum):
    """Why an evaluation exists; only ``standard`` counts in agents' KPIs."""

    STANDARD = "standard"
    SELF = "self"
    CALIBRATION = "calibration"
    MYSTERY_SHOP = "mystery_shop"


class GoalCorner(StrEnum):
    """The corner of the goal triangle a scorecard section serves."""

    QUALITY = "quality"
    SALES = "sales"
    EFFICIENCY = "efficiency"


class CriterionScore(Contract):
    """How one criterion was answered and what it contributed."""

    criterion_id: Identifier
    section_id: Identifier
    applicable: bool = Field(description="False for N/A and for conditional criteria whose condition is not met.")
    earned: Points = Field(description="Points earned (0 when not applicable).")
    possible: Points = Field(description="Points the criterion is worth when applicable (0 for bonus-only items).")
    critical_failed: bool = False


class SectionScore(Contract):
    """One scorecard section's result."""

    section_id: Identifier
    goal: GoalCorner
    score: Percent | None = Field(description="Share of applicable points earned; null when nothing applied.")
    weight: Points
    critical_failed: bool = False


class _EvaluationEvent(Contract):
    evaluation_id: Identifier
    agent_id: Identifier
    team_id: Identifier | None = None
    kind: EvaluationKind = EvaluationKind.STANDARD


class EvaluationAssigned(_EvaluationEvent):
    """An interaction was picked (by a sampling policy or by hand) for an evaluator to score."""

    interaction_id: Identifier
    evaluator_id: Identifier
    scorecard_id: Identifier
    scorecard_version: Annotated[int, Field(ge=1)]
    policy_id: Identifier | None = None
    due_on: date | None = None
    assigned_at: Timestamp


class EvaluationSubmitted(Contract):
    """An evaluator submitted a scored evaluation of an interaction."""

    evaluation_id: Identifier
    interaction_id: Identifier
    agent_id: Identifier
    evaluator_id: Identifier
    scorecard_id: Identifier
    scorecard_version: Annotated[int, Field(ge=1)]
    score: Percent
    critical_failed: bool = False
    submitted_at: Timestamp
    team_id: Identifier | None = None
    kind: EvaluationKind = EvaluationKind.STANDARD
    sections: list[SectionScore] = Field(default_factory=list, max_length=100)
    criteria: list[CriterionScore] = Field(default_factory=list, max_length=100)


class EvaluationReleased(_EvaluationEvent):
    """The agent can now see the evaluation."""

    score: Percent
    released_at: Timestamp


class EvaluationAcknowledged(_EvaluationEvent):
    """The agent accepted the evaluation."""

    acknowledged_at: Timestamp


class DisputedCriterion(Contract):
    """One criterion the agent disagrees with, and the points they think it deserves."""

    criterion_id: Identifier
    proposed: Points | None = None
    reason: LongText


class EvaluationDisputed(_EvaluationEvent):
    """The agent disputed one or more criteria of a released evaluation."""

    dispute_id: Identifier
    criteria: list[DisputedCriterion] = Field(min_length=1, max_length=100)
    routed_to: Identifier = Field(description="Who decides: the original evaluator or a named arbiter.")
    disputed_at: Timestamp


class ScoreDecision(Contract):
    """One entry of an evaluation's score history: who decided, when and why."""

    decided_by: Identifier
    decided_at: Timestamp
    reason: LongText
    previous_score: Percent
    score: Percent
    changed_criteria: list[Identifier] = Field(default_factory=list, max_length=100)


class EvaluationDisputeResolved(_EvaluationEvent):
    """A dispute was decided; ``score`` is the evaluation's final score, which replaces the earlier one."""

    dispute_id: Identifier
    interaction_id: Identifier
    scorecard_id: Identifier
    scorecard_version: Annotated[int, Field(ge=1)]
    outcome: Literal["upheld", "rescored"]
    score: Percent
    critical_failed: bool = False
    resolved_at: Timestamp
    decision: ScoreDecision
    sections: list[SectionScore] = Field(default_factory=list, max_length=100)
    criteria: list[CriterionScore] = Field(default_factory=list, max_length=100)


class CriterionAgreement(Contract):
    """Agreement of a calibration session's evaluators on one criterion."""

    criterion_id: Identifier
    alpha: Annotated[Decimal, Field(ge=-100, le=1, max_digits=8, decimal_places=4)] | None = None
    spread: Points
    within_tolerance: Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)] | None = None


class CalibrationCompleted(Contract):
    """Every evaluator of a calibration session submitted; the agreement figures are final."""

    calibration_id: Identifier
    interaction_id: Identifier
    agent_id: Identifier
    scorecard_id: Identifier
    scorecard_version: Annotated[int, Field(ge=1)]
    evaluator_ids: list[Identifier] = Field(min_length=1, max_length=100)
    evaluation_ids: list[Identifier] = Field(min_length=1, max_length=100)
    reference_score: Percent | None = None
    alpha: Annotated[Decimal, Field(ge=-100, le=1, max_digits=8, decimal_places=4)] | None = Field(
        default=None, description="Krippendorff's alpha (interval) over the criteria; null without variation.")
    interpretation: ShortText = Field(description="reliable (>= .800), tentative (>= .667) or unreliable.")
    criteria: list[CriterionAgreement] = Field(default_factory=list, max_length=100)
    completed_at: Timestamp
