"""HTTP routes of evaluation. The tenant comes from the caller's token, never from the request."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from coachline.auth import Caller, Principal, Role, requires
from coachline.contracts.base import Identifier, LongText
from coachline.contracts.evaluations import EvaluationKind
from coachline.problem import Problem
from coachline_evaluation import service
from coachline_evaluation.domain.calibration import Calibration, CalibrationRequest, CriterionReview, DisputeRate
from coachline_evaluation.domain.evaluations import CommentText, DisputedItem, Evaluation, NotAllowed, Policy
from coachline_evaluation.domain.lifecycle import IllegalTransition, State
from coachline_evaluation.domain.mystery_shopping import (
    Scenario,
    ScenarioDefinition,
    ScheduleRequest,
    StaffNotice,
    StaffNoticeDefinition,
)
from coachline_evaluation.domain.sampling import AgentNotNamed, NotInPool, PoolEntry
from coachline_evaluation.domain.scorecards import Answer, InvalidAnswers, Scorecard, ScorecardDefinition
from coachline_evaluation.domain.selection import SamplingPolicy, SamplingPolicyDefinition
from coachline_evaluation.metrics import Metrics

T = TypeVar("T")
# A sampling period is a week, a coaching period or a quarter at most; longer ones are a typo.
MAX_PERIOD_DAYS = 92

# The same bounds as an Identifier in the event contracts, so ids from the API fit the events.
_ID = {"min_length": 1, "max_length": 128, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$"}
PathId = Annotated[str, Path(**_ID)]

Admin = Annotated[Principal, requires(Role.ADMIN)]
Evaluator = Annotated[Principal, requires(Role.QUALITY_EVALUATOR, Role.ADMIN)]
Agent = Annotated[Principal, requires(Role.AGENT)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Items(BaseModel, Generic[T]):
    items: list[T]


class AssignBody(_Body):
    interaction_id: Identifier
    agent_id: Identifier | None = Field(default=None, description="Needed only when several agents handled it.")
    scorecard_id: Identifier
    evaluator_id: Identifier | None = Field(default=None, description="Admins may assign to someone else.")
    due_on: date | None = None
    answers: dict[Identifier, Answer] | None = Field(
        default=None, max_length=100, description="Answers per criterion: submit at once.")
    comments: list[CommentText] = Field(default_factory=list, max_length=200)


class SubmitBody(_Body):
    answers: dict[Identifier, Answer] = Field(max_length=100)
    comments: list[CommentText] = Field(default_factory=list, max_length=200)


class ReleaseBody(_Body):
    on: date | None = Field(default=None, description="Release on this date instead of now.")


class DisputeBody(_Body):
    items: list[DisputedItem] = Field(min_length=1, max_length=100)


class ResolutionBody(_Body):
    outcome: Literal["upheld", "rescored"]
    reason: LongText = Field(min_length=1)
    answers: dict[Identifier, Answer] = Field(default_factory=dict, max_length=100)


class SelfEvaluationBody(_Body):
    interaction_id: Identifier
    scorecard_id: Identifier


class StatusBody(_Body):
    status: Literal["published", "retired"]


class RunBody(_Body):
    period_start: date
    period_end: date
    seed: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    work_start: date | None = Field(
        default=None, description="First day of the evaluators' work; the period's start or today if later.")


class QualityScore(BaseModel):
    agent_id: str
    score: float | None
    n: int
    confidence: float
    low: float | None
    high: float | None
    note: str


class DisputeReport(BaseModel):
    evaluators: list[DisputeRate]
    criteria: list[DisputeRate]


async def _answer(call: Awaitable[T]) -> T:
    """Turn the use cases' refusals into problem answers; anything else stays a server error."""
    try:
        return await call
    except service.NotFound as exc:
        raise Problem(404, "Not found", f"Nothing visible to you with this id: {exc}") from None
    except NotInPool:
        raise Problem(404, "Interaction not in the sampling pool",
                      "The sampling pool has no completed interaction with this id (handled by this agent).") from None
    except AgentNotNamed as exc:
        raise Problem(409, "Agent not named",
                      "Several agents handled this interaction; say whose handling is scored in agent_id.",
                      agent_ids=exc.agent_ids) from None
    except IllegalTransition as exc:
        raise Problem(409, "Illegal transition", str(exc), state=exc.state.value, action=exc.action.value) from None
    except (NotAllowed, service.Conflict) as exc:
        raise Problem(409, "Not allowed", str(exc)) from None
    except InvalidAnswers as exc:
        raise Problem(422, "Request is not valid", "See errors.",
                      errors=[{"loc": f"body.{exc.field}", "msg": exc.message}]) from None


def router(uow: service.UnitOfWork, metrics: Metrics) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["evaluation"])

    # Scorecards ----------------------------------------------------------------------------------

    @api.put("/scorecards/{scorecard_id}", response_model=Scorecard,
             summary="Create a scorecard or edit it (a published version gets a new draft version)")
    async def put_scorecard(scorecard_id: PathId, definition: ScorecardDefinition, caller: Admin) -> Scorecard:
        return await _answer(service.save_scorecard(uow, caller.tenant_id, scorecard_id, definition))

    @api.post("/scorecards/{scorecard_id}/versions/{version}/status", response_model=Scorecard,
              summary="Publish a draft or retire a published version", responses={409: {"description": "Illegal"}})
    async def post_scorecard_status(scorecard_id: PathId, version: Annotated[int, Path(ge=1, le=1_000_000)],
                                    body: StatusBody, caller: Admin) -> Scorecard:
        return await _answer(service.change_scorecard_status(uow, caller.tenant_id, scorecard_id, version,
                                                             body.status))

    @api.get("/scorecards", response_model=Items[Scorecard], summary="The latest version of each scorecard")
    async def get_scorecards(caller: Caller) -> Items[Scorecard]:
        return Items(items=await service.list_scorecards(uow, caller.tenant_id))

    @api.get("/scorecards/{scorecard_id}", response_model=Items[Scorecard], summary="Every version of a scorecard")
    async def get_scorecard(scorecard_id: PathId, caller: Caller) -> Items[Scorecard]:
        return Items(items=await _answer(service.scorecard_versions(uow, caller.tenant_id, scorecard_id)))

    # Quality rules --------------------------------------------------------------------------------

    @api.get("/quality-rules", response_model=Policy, summary="The tenant's evidence and dispute rules")
    async def get_rules(caller: Caller) -> Policy:
        return await service.quality_rules(uow, caller.tenant_id)

    @api.put("/quality-rules", response_model=Policy, summary="Set the tenant's evidence and dispute rules")
    async def put_rules(rules: Policy, caller: Admin) -> Policy:
        return await service.set_quality_rules(uow, caller.tenant_id, rules)

    # Evaluations ----------------------------------------------------------------------------------

    @api.post("/evaluations", status_code=201, response_model=Evaluation,
              summary="Assign an interaction for evaluation (with answers: submit it at once)",
              responses={404: {"description": "Not in the pool / no published scorecard"},
                         409: {"description": "Several agents handled it; name agent_id"}})
    async def post_evaluation(body: AssignBody, caller: Evaluator, response: Response) -> Evaluation:
        command = service.AssignEvaluation(**body.model_dump(exclude={"comments"}), comments=body.comments)
        evaluation = await _answer(service.assign_evaluation(uow, caller, command))
        if evaluation.submitted_at:
            metrics.evaluations_submitted.inc()
        response.headers["Location"] = f"/v1/evaluations/{evaluation.evaluation_id}"
        return evaluation

    @api.get("/evaluations", response_model=Items[Evaluation], summary="Evaluations you may see")
    async def get_evaluations(
        caller: Caller,
        agent_id: Annotated[str | None, Query(**_ID)] = None,
        team_id: Annotated[str | None, Query(**_ID)] = None,
        state: State | None = None,
        kind: EvaluationKind | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Items[Evaluation]:
        return Items(items=await service.list_evaluations(
            uow, caller, agent_id=agent_id, team_id=team_id, state=state.value if state else None,
            kind=kind.value if kind else None, limit=limit))

    @api.get("/evaluations/{evaluation_id}", response_model=Evaluation, summary="One evaluation",
             responses={404: {"description": "No such evaluation visible to you"}})
    async def get_evaluation(evaluation_id: PathId, caller: Caller) -> Evaluation:
        return await _answer(service.find_evaluation(uow, caller, evaluation_id))

    @api.post("/evaluations/{evaluation_id}/start", response_model=Evaluation, summary="Start scoring")
    async def post_start(evaluation_id: PathId, caller: Caller) -> Evaluation:
        return await _answer(service.start_evaluation(uow, caller, evaluation_id))

    @api.post("/evaluations/{evaluation_id}/comments", response_model=Evaluation,
              summary="Comment on a criterion, with evidence")
    async def post_comment(evaluation_id: PathId, body: CommentText, caller: Caller) -> Evaluation:
        return await _answer(service.comment_on(uow, caller, evaluation_id, body))

    @api.post("/evaluations/{evaluation_id}/submission", response_model=Evaluation,
              summary="Submit answers; the score is computed from the scorecard")
    async def post_submission(evaluation_id: PathId, body: SubmitBody, caller: Caller) -> Evaluation:
        evaluation = await _answer(service.submit_evaluation(uow, caller, evaluation_id, dict(body.answers),
                                                             list(body.comments)))
        metrics.evaluations_submitted.inc()
        return evaluation

    @api.post("/evaluations/{evaluation_id}/release", response_model=Evaluation,
              summary="Release to the agent now or on a date")
    async def post_release(evaluation_id: PathId, body: ReleaseBody, caller: Caller) -> Evaluation:
        return await _answer(service.release_evaluation(uow, caller, evaluation_id, body.on))

    @api.post("/evaluations/{evaluation_id}/acknowledgement", response_model=Evaluation,
              summary="The agent accepts the evaluation")
    async def post_acknowledgement(evaluation_id: PathId, caller: Agent) -> Evaluation:
        return await _answer(service.acknowledge_evaluation(uow, caller, evaluation_id))

    @api.post("/evaluations/{evaluation_id}/disputes", response_model=Evaluation,
              summary="The agent disputes criteria, proposing answers")
    async def post_dispute(evaluation_id: PathId, body: DisputeBody, caller: Agent) -> Evaluation:
        evaluation = await _answer(service.dispute_evaluation(uow, caller, evaluation_id, list(body.items)))
        metrics.disputes.labels("raised").inc()
        return evaluation

    @api.post("/evaluations/{evaluation_id}/dispute-resolution", response_model=Evaluation,
              summary="Uphold the score or re-score with a reason")
    async def post_resolution(evaluation_id: PathId, body: ResolutionBody, caller: Evaluator) -> Evaluation:
        evaluation = await _answer(service.resolve_dispute(uow, caller, evaluation_id, body.outcome,
                                                           dict(body.answers), body.reason))
        metrics.disputes.labels(body.outcome).inc()
        return evaluation

    @api.post("/evaluations/{evaluation_id}/close", response_model=Evaluation, summary="Close")
    async def post_close(evaluation_id: PathId, caller: Caller) -> Evaluation:
        return await _answer(service.close_evaluation(uow, caller, evaluation_id))

    @api.post("/self-evaluations", status_code=201, response_model=Evaluation,
              summary="An agent scores their own interaction")
    async def post_self_evaluation(body: SelfEvaluationBody, caller: Agent) -> Evaluation:
        return await _answer(service.self_evaluate(uow, caller, body.interaction_id, body.scorecard_id))

    @api.get("/self-evaluations/{evaluation_id}/comparison", response_model=service.Comparison,
             summary="A self-evaluation beside the evaluator's")
    async def get_comparison(evaluation_id: PathId, caller: Caller) -> service.Comparison:
        return await _answer(service.compare_with_self(uow, caller, evaluation_id))

    @api.get("/agents/{agent_id}/quality-score", response_model=QualityScore,
             summary="An agent's quality score with sample size and 95% confidence interval")
    async def get_quality_score(agent_id: PathId, caller: Caller, since: date | None = None,
                                until: date | None = None) -> QualityScore:
        estimate = await _answer(service.quality_score(uow, caller, agent_id, since, until))
        note = ("no evaluations yet" if estimate.n == 0 else
                "one evaluation: no interval" if estimate.n == 1 else
                f"95% of intervals built this way hold the true score; n={estimate.n}")
        return QualityScore(agent_id=agent_id, score=estimate.mean, n=estimate.n, confidence=estimate.confidence,
                            low=estimate.low, high=estimate.high, note=note)

    # Sampling -------------------------------------------------------------------------------------

    @api.get("/sampling-pool", response_model=Items[PoolEntry], summary="Interactions available for evaluation")
    async def get_sampling_pool(
        caller: Evaluator,
        agent_id: Annotated[str | None, Query(description="Only this agent's interactions.", **_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Items[PoolEntry]:
        return Items(items=await service.sampling_pool(uow, caller.tenant_id, agent_id, limit))

    @api.put("/sampling-policies/{policy_id}", response_model=SamplingPolicy, summary="Create or change a policy")
    async def put_policy(policy_id: PathId, body: SamplingPolicyDefinition, caller: Admin) -> SamplingPolicy:
        return await service.save_sampling_policy(uow, caller.tenant_id, policy_id, body)

    @api.get("/sampling-policies", response_model=Items[SamplingPolicy], summary="The tenant's policies")
    async def get_policies(caller: Evaluator) -> Items[SamplingPolicy]:
        return Items(items=await service.sampling_policies(uow, caller.tenant_id))

    @api.post("/sampling-policies/{policy_id}/runs", status_code=201, response_model=service.SamplingRun,
              summary="Select and assign a period's evaluations (seeded, reproducible)")
    async def post_run(policy_id: PathId, body: RunBody, caller: Admin) -> service.SamplingRun:
        if not 0 < (body.period_end - body.period_start).days <= MAX_PERIOD_DAYS:
            raise Problem(422, "Request is not valid", "See errors.", errors=[{
                "loc": "body.period_end", "msg": f"must be 1 to {MAX_PERIOD_DAYS} days after period_start"}])
        run = await _answer(service.run_sampling(uow, caller.tenant_id, policy_id, body.period_start,
                                                 body.period_end, body.seed, body.work_start))
        metrics.evaluations_assigned.inc(len(run.evaluation_ids))
        return run

    @api.get("/sampling-runs/{run_id}", response_model=service.SamplingRun, summary="A recorded run and its seed")
    async def get_run(run_id: PathId, caller: Admin) -> service.SamplingRun:
        return await _answer(service.sampling_run(uow, caller.tenant_id, run_id))

    # Calibration ----------------------------------------------------------------------------------

    @api.post("/calibrations", status_code=201, response_model=Calibration, summary="Open a calibration session")
    async def post_calibration(body: CalibrationRequest, caller: Admin) -> Calibration:
        return await _answer(service.open_calibration(uow, caller.tenant_id, body))

    @api.get("/calibrations/{calibration_id}", response_model=service.CalibrationView,
             summary="A session; others' scores only after you submitted yours")
    async def get_calibration(calibration_id: PathId, caller: Evaluator) -> service.CalibrationView:
        return await _answer(service.calibration_view(uow, caller, calibration_id))

    @api.get("/scorecards/{scorecard_id}/criteria-review", response_model=Items[CriterionReview],
             summary="Agreement per criterion across calibration sessions; low agreement flags the wording")
    async def get_criteria_review(scorecard_id: PathId, caller: Evaluator) -> Items[CriterionReview]:
        return Items(items=await service.criteria_review(uow, caller.tenant_id, scorecard_id))

    @api.get("/reports/disputes", response_model=DisputeReport,
             summary="Dispute and overturn rates per evaluator and per criterion")
    async def get_dispute_report(caller: Evaluator) -> DisputeReport:
        evaluators, criteria = await service.dispute_report(uow, caller.tenant_id)
        return DisputeReport(evaluators=evaluators, criteria=criteria)

    # Mystery shopping -----------------------------------------------------------------------------

    @api.put("/mystery-shop/scenarios/{scenario_id}", response_model=Scenario, summary="Create or change a scenario")
    async def put_scenario(scenario_id: PathId, body: ScenarioDefinition, caller: Admin) -> Scenario:
        return await service.save_scenario(uow, caller.tenant_id, scenario_id, body)

    @api.get("/mystery-shop/scenarios", response_model=Items[Scenario], summary="Scenarios")
    async def get_scenarios(caller: Evaluator) -> Items[Scenario]:
        return Items(items=await service.scenarios(uow, caller.tenant_id))

    @api.post("/mystery-shop/schedules", status_code=201, response_model=service.MysterySchedule,
              summary="Plan visits over peak and quiet hours")
    async def post_schedule(body: ScheduleRequest, caller: Admin) -> service.MysterySchedule:
        return await _answer(service.plan_mystery_shops(uow, caller.tenant_id, body))

    @api.get("/mystery-shop/schedules/{schedule_id}", response_model=service.MysterySchedule, summary="A schedule")
    async def get_schedule(schedule_id: PathId, caller: Admin) -> service.MysterySchedule:
        return await _answer(service.mystery_schedule(uow, caller.tenant_id, schedule_id))

    @api.post("/mystery-shop/staff-notices", status_code=201, response_model=StaffNotice,
              summary="Record that staff were told mystery shopping happens")
    async def post_notice(body: StaffNoticeDefinition, caller: Admin) -> StaffNotice:
        return await service.record_staff_notice(uow, caller, body)

    @api.get("/mystery-shop/staff-notices", response_model=Items[StaffNotice], summary="Staff notices")
    async def get_notices(caller: Caller) -> Items[StaffNotice]:
        return Items(items=await service.staff_notices(uow, caller.tenant_id))

    @api.get("/mystery-shop/results", response_model=Items[Evaluation],
             summary="Mystery-shop evaluations, reported apart from normal quality")
    async def get_results(caller: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Items[Evaluation]:
        return Items(items=await service.mystery_results(uow, caller.tenant_id, limit))

    return api

