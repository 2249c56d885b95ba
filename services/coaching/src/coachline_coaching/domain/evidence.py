"""Evaluations of an agent's interactions: the evidence a coach reviews with the agent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from coachline.contracts.base import utc
from coachline.contracts.evaluations import EvaluationKind, EvaluationSubmitted
from coachline_coaching.domain.suggestions import CriterionResult

_CENT = Decimal("0.01")


class AgentEvaluation(BaseModel):
    """A submitted evaluation as coaching keeps it."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    evaluation_id: str
    agent_id: str
    interaction_id: str
    evaluator_id: str
    scorecard_id: str
    scorecard_version: int
    score: Decimal
    critical_failed: bool
    submitted_at: datetime
    kind: EvaluationKind = EvaluationKind.STANDARD


def agent_evaluation(tenant_id: str, submitted: EvaluationSubmitted) -> AgentEvaluation:
    """The evidence record of a submitted evaluation."""
    return AgentEvaluation(
        tenant_id=tenant_id,
        evaluation_id=submitted.evaluation_id,
        agent_id=submitted.agent_id,
        interaction_id=submitted.interaction_id,
        evaluator_id=submitted.evaluator_id,
        scorecard_id=submitted.scorecard_id,
        scorecard_version=submitted.scorecard_version,
        # Two decimals, as stored, so a score reads back the same from memory and from the table.
        score=abs(submitted.score).quantize(_CENT),
        critical_failed=submitted.critical_failed,
        submitted_at=utc(submitted.submitted_at),
        kind=submitted.kind,
    )


def criterion_results(evaluation_id: str, submitted: EvaluationSubmitted) -> list[CriterionResult]:
    return [CriterionResult(evaluation_id=evaluation_id, criterion_id=c.criterion_id, section_id=c.section_id,
                            applicable=c.applicable,
                            earned=c.earned, possible=c.possible, critical_failed=c.critical_failed)
            for c in submitted.criteria]


def missing_evidence(requested: list[str], evidence: list[AgentEvaluation]) -> list[str]:
    """The requested evaluation ids that are not evaluations of this agent, in the order requested."""
    known = {e.evaluation_id for e in evidence}
    return [evaluation_id for evaluation_id in requested if evaluation_id not in known]
