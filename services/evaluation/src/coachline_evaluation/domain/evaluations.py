"""Submitting an evaluation: the command, the stored evaluation and the event it announces."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from coachline.contracts.base import Identifier, utc
from coachline.contracts.evaluations import EvaluationSubmitted, Percent
from coachline.envelope import CloudEvent, new_event
from coachline_evaluation.domain.sampling import PoolEntry

SOURCE = "coachline/evaluation"
SUBMITTED = "qa.evaluation.submitted.v1"
_CENT = Decimal("0.01")


class SubmitEvaluation(BaseModel):
    """An evaluator's scored evaluation of an interaction in the sampling pool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: Identifier
    interaction_id: Identifier
    agent_id: Identifier | None = Field(
        default=None, description="Whose handling is scored; needed only when several agents handled the contact."
    )
    evaluator_id: Identifier
    scorecard_id: Identifier
    scorecard_version: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    score: Percent = Field(description="Share of applicable points earned, 0 to 100, at most two decimals.")
    critical_failed: StrictBool


class Evaluation(BaseModel):
    """A submitted evaluation."""

    model_config = ConfigDict(frozen=True)

    evaluation_id: str
    tenant_id: str
    interaction_id: str
    agent_id: str
    evaluator_id: str
    scorecard_id: str
    scorecard_version: int
    score: Decimal
    critical_failed: bool
    submitted_at: datetime


def evaluate(command: SubmitEvaluation, entry: PoolEntry, *, evaluation_id: str, submitted_at: datetime) -> Evaluation:
    """The evaluation ``command`` records for the pool entry it scores."""
    return Evaluation(
        evaluation_id=evaluation_id,
        tenant_id=entry.tenant_id,
        interaction_id=entry.interaction_id,
        agent_id=entry.agent_id,
        evaluator_id=command.evaluator_id,
        scorecard_id=command.scorecard_id,
        scorecard_version=command.scorecard_version,
        # Two decimals, as stored; abs() turns a posted -0 into 0 (scores are never negative).
        score=abs(command.score).quantize(_CENT),
        critical_failed=command.critical_failed,
        submitted_at=utc(submitted_at),
    )


def evaluation_submitted(evaluation: Evaluation) -> CloudEvent:
    """The ``qa.evaluation.submitted.v1`` event announcing ``evaluation``."""
    payload = EvaluationSubmitted(
        evaluation_id=evaluation.evaluation_id,
        interaction_id=evaluation.interaction_id,
        agent_id=evaluation.agent_id,
        evaluator_id=evaluation.evaluator_id,
        scorecard_id=evaluation.scorecard_id,
        scorecard_version=evaluation.scorecard_version,
        score=evaluation.score,
        critical_failed=evaluation.critical_failed,
        submitted_at=evaluation.submitted_at,
    )
    return new_event(
        SUBMITTED,
        evaluation.tenant_id,
        payload,
        source=SOURCE,
        subject=evaluation.evaluation_id,
        time=evaluation.submitted_at,
    )
