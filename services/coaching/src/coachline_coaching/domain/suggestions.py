"""Rules that propose focus areas for the next session, each with the evidence that triggered it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from coachline.contracts.evaluations import EvaluationKind
from coachline.contracts.kpi import AlertLevel, KpiAlertRaised, Scope


class Rule(StrEnum):
    REPEATED_CRITERION = "criterion_repeatedly_failed"
    SELF_EVALUATION_GAP = "self_evaluation_gap"
    KPI_ALERT = "kpi_alert"


class Evidence(BaseModel):
    """What triggered a suggestion: an evaluation (and its criterion or score) or a KPI alert."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="evaluation or kpi_alert")
    id: str
    detail: str


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_id: str
    rule: Rule
    focus: str = Field(description="The criterion, scorecard or KPI to focus on in the next session.")
    evidence: list[Evidence]


class CriterionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    evaluation_id: str
    criterion_id: str
    section_id: str
    applicable: bool
    earned: Decimal
    possible: Decimal
    critical_failed: bool

    @property
    def failed(self) -> bool:
        return self.applicable and (self.critical_failed or self.earned < self.possible)


class ScoredEvaluation(BaseModel):
    """An evaluation as the rules see it."""

    model_config = ConfigDict(frozen=True)

    evaluation_id: str
    interaction_id: str
    agent_id: str
    kind: EvaluationKind
    score: Decimal
    submitted_at: datetime
    criteria: list[CriterionResult] = Field(default_factory=list)


class Thresholds(BaseModel):
    repeated_failures: int = 3
    lookback: int = 10
    self_gap_points: Decimal = Decimal(15)


def repeated_criteria(agent_id: str, evaluations: list[ScoredEvaluation], t: Thresholds) -> list[Suggestion]:
    """Criteria failed in at least ``repeated_failures`` of the agent's latest ``lookback`` standard evaluations."""
    standard = sorted((e for e in evaluations if e.kind is EvaluationKind.STANDARD),
                      key=lambda e: (e.submitted_at, e.evaluation_id), reverse=True)[: t.lookback]
    failures: dict[str, list[Evidence]] = defaultdict(list)
    for evaluation in standard:
        for c in evaluation.criteria:
            if c.failed:
                detail = "critical item failed" if c.critical_failed else f"{c.earned} of {c.possible} points"
                failures[c.criterion_id].append(Evidence(kind="evaluation", id=evaluation.evaluation_id,
                                                         detail=detail))
    return [Suggestion(agent_id=agent_id, rule=Rule.REPEATED_CRITERION, focus=criterion, evidence=evidence)
            for criterion, evidence in sorted(failures.items()) if len(evidence) >= t.repeated_failures]


def self_evaluation_gaps(agent_id: str, evaluations: list[ScoredEvaluation], t: Thresholds) -> list[Suggestion]:
    """Interactions where the agent's self-evaluation and the evaluator's score differ by the threshold or more."""
    own = {e.interaction_id: e for e in evaluations if e.kind is EvaluationKind.SELF}
    out = []
    for evaluation in sorted(evaluations, key=lambda e: (e.submitted_at, e.evaluation_id)):
        mine = own.get(evaluation.interaction_id)
        if evaluation.kind is not EvaluationKind.STANDARD or mine is None:
            continue
        gap = mine.score - evaluation.score
        if abs(gap) >= t.self_gap_points:
            way = "above" if gap > 0 else "below"
            out.append(Suggestion(agent_id=agent_id, rule=Rule.SELF_EVALUATION_GAP,
                                  focus=f"interaction:{evaluation.interaction_id}", evidence=[
                                      Evidence(kind="evaluation", id=mine.evaluation_id,
                                               detail=f"self-evaluation {mine.score}, {abs(gap)} points {way}"),
                                      Evidence(kind="evaluation", id=evaluation.evaluation_id,
                                               detail=f"evaluator's score {evaluation.score}")]))
    return out


def from_evaluations(agent_id: str, evaluations: list[ScoredEvaluation], t: Thresholds) -> list[Suggestion]:
    return repeated_criteria(agent_id, evaluations, t) + self_evaluation_gaps(agent_id, evaluations, t)


def from_alert(alert_id: str, alert: KpiAlertRaised) -> Suggestion | None:
    """An agent's KPI crossing its warning or alert level; team and queue alerts are not one agent's focus."""
    if alert.scope is not Scope.AGENT or alert.level is AlertLevel.CLEARED:
        return None
    return Suggestion(agent_id=alert.scope_id, rule=Rule.KPI_ALERT, focus=alert.kpi, evidence=[
        Evidence(kind="kpi_alert", id=alert_id,
                 detail=f"{alert.level.value}: {alert.value} against {alert.threshold}")])


class StoredSuggestion(Suggestion):
    suggestion_id: str
    raised_at: datetime
