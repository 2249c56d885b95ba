"""Evaluations from assignment to a resolved dispute: the record, the pure steps that change it, its events.

Each step takes an evaluation and returns the changed copy, or raises: :class:`IllegalTransition`
(wrong state), :class:`NotAllowed` (a rule of the tenant, such as the dispute window) or
:class:`InvalidAnswers` (the input does not fit the scorecard).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coachline.contracts.base import Identifier, LongText, Seconds, utc
from coachline.contracts.evaluations import (
    CriterionScore,
    DisputedCriterion,
    EvaluationAcknowledged,
    EvaluationAssigned,
    EvaluationDisputed,
    EvaluationDisputeResolved,
    EvaluationKind,
    EvaluationReleased,
    EvaluationSubmitted,
    ScoreDecision,
    SectionScore,
)
from coachline.envelope import CloudEvent, new_event
from coachline_evaluation.domain.lifecycle import Action, State, next_state
from coachline_evaluation.domain.scorecards import Answer, InvalidAnswers, ScorecardDefinition, criterion_points, score

SOURCE = "coachline/evaluation"


class Evidence(BaseModel):
    """Where in the interaction the comment's point can be heard or read: a time range, a quote, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: Seconds | None = None
    end_s: Seconds | None = None
    quote: LongText | None = None

    @model_validator(mode="after")
    def _something(self) -> Evidence:
        if self.start_s is None and self.end_s is None and not self.quote:
            raise ValueError("evidence needs a time range or a quote")
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            raise ValueError("end_s must not be before start_s")
        return self


class CommentText(BaseModel):
    """A comment as written: on one criterion (or the whole evaluation), optionally with evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion_id: Identifier | None = None
    text: LongText = Field(min_length=1)
    evidence: Evidence | None = None


class Comment(CommentText):
    author_id: str
    written_at: datetime


class DisputedItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion_id: Identifier
    proposed_answer: Answer | None = None
    reason: LongText = Field(min_length=1)


class Dispute(BaseModel):
    model_config = ConfigDict(frozen=True)

    dispute_id: str
    raised_by: str
    items: list[DisputedItem]
    routed_to: str
    raised_at: datetime
    outcome: Literal["upheld", "rescored"] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class ScoreChange(BaseModel):
    """One entry of the score history: the first scoring and every decision after it."""

    model_config = ConfigDict(frozen=True)

    decided_by: str
    decided_at: datetime
    reason: str
    previous_score: Decimal | None
    score: Decimal
    changed_criteria: list[str] = []
    dispute_id: str | None = None


class Evaluation(BaseModel):
    model_config = ConfigDict(frozen=True)

    evaluation_id: str
    tenant_id: str
    interaction_id: str
    agent_id: str
    team_id: str | None = None
    evaluator_id: str
    kind: EvaluationKind = EvaluationKind.STANDARD
    state: State = State.ASSIGNED
    scorecard_id: str
    scorecard_version: int
    policy_id: str | None = None
    calibration_id: str | None = None
    due_on: date | None = None
    assigned_at: datetime
    started_at: datetime | None = None
    answers: dict[str, Answer] = {}
    score: Decimal | None = None
    critical_failed: bool = False
    sections: list[SectionScore] = []
    criteria: list[CriterionScore] = []
    comments: list[Comment] = []
    submitted_at: datetime | None = None
    release_on: date | None = None
    released_at: datetime | None = None
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    disputes: list[Dispute] = []
    history: list[ScoreChange] = []

    def open_dispute(self) -> Dispute | None:
        return next((d for d in self.disputes if d.outcome is None), None)


class NotAllowed(Exception):
    """A rule forbids the step (dispute window closed, too many disputes, not the decider, ...)."""


class Policy(BaseModel):
    """A tenant's quality rules that the lifecycle enforces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    require_evidence_for_deductions: bool = False
    dispute_window_days: Annotated[int, Field(ge=1, le=365)] = 14
    max_disputes_per_evaluation: Annotated[int, Field(ge=0, le=20)] = 1
    dispute_arbiter_id: Identifier | None = Field(
        default=None, description="Who decides disputes; the original evaluator when not set.")


def _moved(evaluation: Evaluation, action: Action, **changes: object) -> Evaluation:
    return evaluation.model_copy(update={"state": next_state(evaluation.state, action), **changes})


def start(evaluation: Evaluation, now: datetime) -> Evaluation:
    return _moved(evaluation, Action.START, started_at=utc(now))


def _check_comments(definition: ScorecardDefinition, comments: list[CommentText]) -> None:
    for i, comment in enumerate(comments):
        if comment.criterion_id and definition.criterion(comment.criterion_id) is None:
            raise InvalidAnswers(f"comments.{i}.criterion_id", "not a criterion of this scorecard version")


def comment(evaluation: Evaluation, definition: ScorecardDefinition, text: CommentText, author_id: str,
            now: datetime) -> Evaluation:
    """Add a comment; a closed evaluation takes no more."""
    if evaluation.state is State.CLOSED:
        raise NotAllowed("a closed evaluation takes no more comments")
    _check_comments(definition, [text])
    written = Comment(**text.model_dump(), author_id=author_id, written_at=utc(now))
    return evaluation.model_copy(update={"comments": [*evaluation.comments, written]})


def submit(evaluation: Evaluation, definition: ScorecardDefinition, answers: dict[str, Answer],
           comments: list[CommentText], policy: Policy, now: datetime) -> Evaluation:
    """Score the answers; with evidence required, every deduction needs a comment with evidence."""
    _check_comments(definition, comments)
    scoring = score(definition, answers)
    written = [Comment(**c.model_dump(), author_id=evaluation.evaluator_id, written_at=utc(now)) for c in comments]
    all_comments = [*evaluation.comments, *written]
    if policy.require_evidence_for_deductions:
        evidenced = {c.criterion_id for c in all_comments if c.evidence is not None}
        for item in scoring.criteria:
            if item.applicable and item.earned < item.possible and item.criterion_id not in evidenced:
                raise InvalidAnswers(item.criterion_id, "a deduction needs a comment with evidence")
    at = utc(now)
    return _moved(
        evaluation, Action.SUBMIT, answers=dict(answers), score=scoring.score, critical_failed=scoring.critical_failed,
        sections=scoring.sections, criteria=scoring.criteria, comments=all_comments, submitted_at=at,
        history=[ScoreChange(decided_by=evaluation.evaluator_id, decided_at=at, reason="submitted",
                             previous_score=None, score=scoring.score)],
    )


def release(evaluation: Evaluation, now: datetime, on: date | None = None) -> Evaluation:
    """Release now, or schedule the release for ``on`` (the evaluation stays submitted until then)."""
    if evaluation.kind in (EvaluationKind.CALIBRATION, EvaluationKind.SELF):
        raise NotAllowed("calibration and self-evaluations are not released to agents")
    if on is not None and on > now.date():
        next_state(evaluation.state, Action.RELEASE)  # refuses a schedule the state could never honour
        return evaluation.model_copy(update={"release_on": on})
    return _moved(evaluation, Action.RELEASE, released_at=utc(now), release_on=None)


def acknowledge(evaluation: Evaluation, now: datetime) -> Evaluation:
    return _moved(evaluation, Action.ACKNOWLEDGE, acknowledged_at=utc(now))


def close(evaluation: Evaluation, now: datetime) -> Evaluation:
    return _moved(evaluation, Action.CLOSE, closed_at=utc(now))


def dispute(evaluation: Evaluation, definition: ScorecardDefinition, items: list[DisputedItem], raised_by: str,
            dispute_id: str, policy: Policy, now: datetime) -> Evaluation:
    """Open a dispute on criteria of a released evaluation, within the window and the maximum count."""
    moved = _moved(evaluation, Action.DISPUTE)
    assert evaluation.released_at is not None
    if utc(now) > evaluation.released_at + timedelta(days=policy.dispute_window_days):
        raise NotAllowed(f"the dispute window of {policy.dispute_window_days} days has closed")
    if len(evaluation.disputes) >= policy.max_disputes_per_evaluation:
        raise NotAllowed(f"at most {policy.max_disputes_per_evaluation} disputes per evaluation")
    for i, item in enumerate(items):
        criterion = definition.criterion(item.criterion_id)
        if criterion is None:
            raise InvalidAnswers(f"items.{i}.criterion_id", "not a criterion of this scorecard version")
        if item.proposed_answer is not None:
            try:
                criterion_points(criterion, item.proposed_answer)
            except InvalidAnswers as exc:
                raise InvalidAnswers(f"items.{i}.proposed_answer", exc.message) from None
    raised = Dispute(dispute_id=dispute_id, raised_by=raised_by, items=items,
                     routed_to=policy.dispute_arbiter_id or evaluation.evaluator_id, raised_at=utc(now))
    return moved.model_copy(update={"disputes": [*evaluation.disputes, raised]})


def resolve(evaluation: Evaluation, definition: ScorecardDefinition, outcome: Literal["upheld", "rescored"],
            changes: dict[str, Answer], reason: str, decided_by: str, now: datetime) -> Evaluation:
    """Decide the open dispute: uphold the score, or re-score with changed answers. History keeps both."""
    moved = _moved(evaluation, Action.RESOLVE)
    open_dispute = evaluation.open_dispute()
    assert open_dispute is not None and evaluation.score is not None
    if outcome == "upheld" and changes:
        raise InvalidAnswers("answers", "an upheld dispute changes no answers")
    if outcome == "rescored" and not changes:
        raise InvalidAnswers("answers", "a re-score names the answers it changes")
    answers = {**evaluation.answers, **changes}
    scoring = score(definition, answers)
    at = utc(now)
    decided = open_dispute.model_copy(update={"outcome": outcome, "decided_by": decided_by, "decided_at": at,
                                              "reason": reason})
    change = ScoreChange(decided_by=decided_by, decided_at=at, reason=reason, previous_score=evaluation.score,
                         score=scoring.score, changed_criteria=sorted(changes), dispute_id=open_dispute.dispute_id)
    return moved.model_copy(update={
        "answers": answers, "score": scoring.score, "critical_failed": scoring.critical_failed,
        "sections": scoring.sections, "criteria": scoring.criteria,
        "disputes": [decided if d.dispute_id == open_dispute.dispute_id else d for d in evaluation.disputes],
        "history": [*evaluation.history, change],
    })


# Events ---------------------------------------------------------------------------------------------


def _event(type_name: str, evaluation: Evaluation, payload: BaseModel, at: datetime) -> CloudEvent:
    return new_event(type_name, evaluation.tenant_id, payload, source=SOURCE, subject=evaluation.evaluation_id,
                     time=at)


def _who(evaluation: Evaluation) -> dict[str, object]:
    return {"evaluation_id": evaluation.evaluation_id, "agent_id": evaluation.agent_id,
            "team_id": evaluation.team_id, "kind": evaluation.kind}


def assigned_event(evaluation: Evaluation) -> CloudEvent:
    payload = EvaluationAssigned(
        **_who(evaluation), interaction_id=evaluation.interaction_id,  # type: ignore[arg-type]
        evaluator_id=evaluation.evaluator_id, scorecard_id=evaluation.scorecard_id,
        scorecard_version=evaluation.scorecard_version, policy_id=evaluation.policy_id, due_on=evaluation.due_on,
        assigned_at=evaluation.assigned_at,
    )
    return _event("qa.evaluation.assigned.v1", evaluation, payload, evaluation.assigned_at)


def submitted_event(evaluation: Evaluation) -> CloudEvent:
    assert evaluation.score is not None and evaluation.submitted_at is not None
    payload = EvaluationSubmitted(
        evaluation_id=evaluation.evaluation_id, interaction_id=evaluation.interaction_id,
        agent_id=evaluation.agent_id, evaluator_id=evaluation.evaluator_id, scorecard_id=evaluation.scorecard_id,
        scorecard_version=evaluation.scorecard_version, score=evaluation.score,
        critical_failed=evaluation.critical_failed, submitted_at=evaluation.submitted_at,
        team_id=evaluation.team_id, kind=evaluation.kind, sections=evaluation.sections, criteria=evaluation.criteria,
    )
    return _event("qa.evaluation.submitted.v1", evaluation, payload, evaluation.submitted_at)


def released_event(evaluation: Evaluation) -> CloudEvent:
    assert evaluation.score is not None and evaluation.released_at is not None
    payload = EvaluationReleased(**_who(evaluation), score=evaluation.score,  # type: ignore[arg-type]
                                 released_at=evaluation.released_at)
    return _event("qa.evaluation.released.v1", evaluation, payload, evaluation.released_at)


def acknowledged_event(evaluation: Evaluation) -> CloudEvent:
    assert evaluation.acknowledged_at is not None
    payload = EvaluationAcknowledged(**_who(evaluation),  # type: ignore[arg-type]
                                     acknowledged_at=evaluation.acknowledged_at)
    return _event("qa.evaluation.acknowledged.v1", evaluation, payload, evaluation.acknowledged_at)


def disputed_event(evaluation: Evaluation, definition: ScorecardDefinition) -> CloudEvent:
    raised = evaluation.disputes[-1]
    items = []
    for item in raised.items:
        criterion = definition.criterion(item.criterion_id)
        assert criterion is not None
        proposed = None if item.proposed_answer is None else criterion_points(criterion, item.proposed_answer)
        items.append(DisputedCriterion(criterion_id=item.criterion_id, reason=item.reason,
                                       proposed=None if proposed is None else proposed.quantize(Decimal("0.001"))))
    payload = EvaluationDisputed(**_who(evaluation), dispute_id=raised.dispute_id,  # type: ignore[arg-type]
                                 criteria=items, routed_to=raised.routed_to, disputed_at=raised.raised_at)
    return _event("qa.evaluation.disputed.v1", evaluation, payload, raised.raised_at)


def dispute_resolved_event(evaluation: Evaluation) -> CloudEvent:
    change = evaluation.history[-1]
    assert evaluation.score is not None and change.previous_score is not None and change.dispute_id is not None
    decided = next(d for d in evaluation.disputes if d.dispute_id == change.dispute_id)
    assert decided.outcome is not None
    payload = EvaluationDisputeResolved(
        **_who(evaluation), dispute_id=change.dispute_id, interaction_id=evaluation.interaction_id,  # type: ignore[arg-type]
        scorecard_id=evaluation.scorecard_id, scorecard_version=evaluation.scorecard_version,
        outcome=decided.outcome, score=evaluation.score, critical_failed=evaluation.critical_failed,
        resolved_at=change.decided_at,
        decision=ScoreDecision(decided_by=change.decided_by, decided_at=change.decided_at, reason=change.reason,
                               previous_score=change.previous_score, score=change.score,
                               changed_criteria=change.changed_criteria),
        sections=evaluation.sections, criteria=evaluation.criteria,
    )
    return _event("qa.evaluation.dispute-resolved.v1", evaluation, payload, change.decided_at)
