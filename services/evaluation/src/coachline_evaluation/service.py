"""Use cases of evaluation. Each runs in one tenant transaction of a unit of work, so a state change
and the events announcing it (in the outbox) commit together or not at all.

Who may do what is decided here from the caller's :class:`~coachline.auth.Principal`: quality
evaluators work on what is assigned to them (and decide disputes routed to them), agents see their
own evaluations once released, team leads their teams' evaluations once submitted, admins everything
of their tenant. Something a caller may not see is reported as not found, so ids do not leak.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from coachline.auth import Principal, Role
from coachline.contracts.evaluations import CalibrationCompleted, CriterionAgreement, EvaluationKind
from coachline.contracts.interactions import InteractionWrappedUp
from coachline.contracts.mystery_shops import MysteryShopCompleted
from coachline.contracts.roster import AgentRostered
from coachline.contracts.surveys import SurveyAnswered
from coachline.envelope import CloudEvent, deterministic_id, new_event
from coachline_evaluation.domain import evaluations as lifecycle
from coachline_evaluation.domain.calibration import (
    Agreement,
    Calibration,
    CalibrationRequest,
    CalibrationState,
    CriterionReview,
    DisputeRate,
    agreement,
    criteria_to_review,
    dispute_rates,
)
from coachline_evaluation.domain.evaluations import (
    CommentText,
    DisputedItem,
    Evaluation,
    NotAllowed,
    Policy,
)
from coachline_evaluation.domain.lifecycle import SCORED, VISIBLE_TO_AGENT, State
from coachline_evaluation.domain.mystery_shopping import (
    PlannedVisit,
    Scenario,
    ScenarioDefinition,
    ScheduleRequest,
    StaffNotice,
    StaffNoticeDefinition,
    schedule,
    shopper_answers,
)
from coachline_evaluation.domain.sampling import PoolEntry, entry_to_evaluate, pool_entry
from coachline_evaluation.domain.scorecards import (
    Answer,
    Scorecard,
    ScorecardDefinition,
    ScorecardStatus,
)
from coachline_evaluation.domain.selection import Candidate, SamplingPolicy, SamplingPolicyDefinition, Selection, select
from coachline_evaluation.domain.statistics import MeanEstimate, mean_with_interval

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)

# Inbox names of the projections; they stay fixed when the consumer group is renamed.
SAMPLING_POOL = "sampling-pool"
SURVEYS = "surveys"
ROSTER = "roster"
MYSTERY_SHOPS = "mystery-shops"

SCORECARD = "scorecard"
SAMPLING_POLICY = "sampling-policy"
SAMPLING_RUN = "sampling-run"
SAMPLING_PERIOD = "sampling-period"
CALIBRATION = "calibration"
QUALITY_RULES = "quality-rules"
SCENARIO = "mystery-scenario"
SCHEDULE = "mystery-schedule"
STAFF_NOTICE = "staff-notice"


class Repository(Protocol):
    """What the use cases need from storage, inside one tenant's transaction."""

    tenant_id: str

    async def first_delivery(self, consumer: str, event_id: str) -> bool: ...
    async def enqueue(self, event: CloudEvent) -> None: ...
    async def save_pool_entry(self, entry: PoolEntry) -> None: ...
    async def pool_entries(self, interaction_id: str) -> list[PoolEntry]: ...
    async def list_pool(self, agent_id: str | None, limit: int) -> list[PoolEntry]: ...
    async def pool_between(self, start: datetime, end: datetime) -> list[PoolEntry]: ...
    async def save_survey(self, interaction_id: str, csat: int | None, nps: int | None,
                          answered_at: datetime) -> None: ...
    async def surveys(self, interaction_ids: Collection[str]) -> dict[str, tuple[int | None, int | None]]: ...
    async def save_agent(self, agent_id: str, team_id: str | None, started_on: date | None, active: bool,
                         as_of: datetime) -> None: ...
    async def agents(self) -> dict[str, tuple[str | None, date | None]]: ...
    async def mark_mystery_contact(self, interaction_id: str) -> None: ...
    async def mystery_contacts(self) -> set[str]: ...
    async def save_evaluation(self, evaluation: Evaluation) -> None: ...
    async def get_evaluation(self, evaluation_id: str) -> Evaluation | None: ...
    async def find_evaluations(
        self, *, agent_id: str | None = None, team_ids: Collection[str] | None = None,
        evaluator_id: str | None = None, interaction_id: str | None = None, kind: str | None = None,
        states: Collection[str] | None = None, limit: int = 500,
    ) -> list[Evaluation]: ...
    async def evaluated_interactions(self) -> set[tuple[str, str]]: ...
    async def put_record(self, kind: str, key: str, document: BaseModel) -> None: ...
    async def get_record(self, kind: str, key: str, model: type[M]) -> M | None: ...
    async def list_records(self, kind: str, model: type[M], key_prefix: str = "") -> list[M]: ...
    async def claim(self, kind: str, key: str) -> bool: ...


class UnitOfWork(Protocol):
    def transaction(self, tenant_id: str) -> AbstractAsyncContextManager[Repository]:
        """A repository for ``tenant_id`` whose changes commit when the block ends, or roll back if it raises."""
        ...

    async def due_releases(self, today: date) -> list[tuple[str, str]]: ...
    async def weekly_policies(self) -> list[tuple[str, str]]: ...


class Outcome(StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class NotFound(LookupError):
    """Nothing the caller may see has this id."""


class Conflict(Exception):
    """The request contradicts the current state (HTTP 409)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _id() -> str:
    return str(uuid.uuid4())


# Kafka: the sampling pool, surveys, roster, mystery shops -----------------------------------------


async def take_interaction(uow: UnitOfWork, event: CloudEvent) -> Outcome:
    """Put a completed interaction into the sampling pool; other interaction events have no effect here."""
    if not isinstance(event.data, InteractionWrappedUp):
        return Outcome.IGNORED
    entry = pool_entry(event.tenant_id, event.data)
    async with uow.transaction(event.tenant_id) as repo:
        if not await repo.first_delivery(SAMPLING_POOL, event.id):
            return Outcome.DUPLICATE
        await repo.save_pool_entry(entry)
    return Outcome.ADDED


async def take_survey(uow: UnitOfWork, event: CloudEvent) -> Outcome:
    """Keep CSAT and NPS per interaction, for targeted sampling."""
    if not isinstance(event.data, SurveyAnswered):
        return Outcome.IGNORED
    survey = event.data
    async with uow.transaction(event.tenant_id) as repo:
        if not await repo.first_delivery(SURVEYS, event.id):
            return Outcome.DUPLICATE
        await repo.save_survey(survey.interaction_id, survey.csat, survey.nps, survey.occurred_at)
    return Outcome.ADDED


async def take_roster(uow: UnitOfWork, event: CloudEvent) -> Outcome:
    """Keep agent → team and first working day; teams and queues are not needed here."""
    if not isinstance(event.data, AgentRostered):
        return Outcome.IGNORED
    agent = event.data
    async with uow.transaction(event.tenant_id) as repo:
        if not await repo.first_delivery(ROSTER, event.id):
            return Outcome.DUPLICATE
        await repo.save_agent(agent.agent_id, agent.team_id, agent.started_on, agent.active, agent.occurred_at)
    return Outcome.ADDED


class UnknownScenario(LookupError):
    """A mystery-shop result names a scenario the tenant has not defined."""


class UnattributedShop(LookupError):
    """A mystery-shop result names no agent and its contact is not in the sampling pool."""


async def take_mystery_shop(uow: UnitOfWork, event: CloudEvent, *, now: datetime | None = None) -> Outcome:
    """Score a shopper's result on the scenario's scorecard as a ``mystery_shop`` evaluation.

    Raises (so the message is dead-lettered with the reason) when the scenario is unknown, the
    answers do not fit the scorecard, or no agent can be found for the contact.
    """
    if not isinstance(event.data, MysteryShopCompleted):
        return Outcome.IGNORED
    shop = event.data
    at = now or _now()
    async with uow.transaction(event.tenant_id) as repo:
        if not await repo.first_delivery(MYSTERY_SHOPS, event.id):
            return Outcome.DUPLICATE
        scenario = await repo.get_record(SCENARIO, shop.scenario_id, Scenario)
        if scenario is None:
            raise UnknownScenario(f"scenario {shop.scenario_id} is not defined")
        scorecard = await _latest_published(repo, scenario.scorecard_id)
        agent_id, team_id = shop.agent_id, None
        if shop.interaction_id:
            await repo.mark_mystery_contact(shop.interaction_id)
            entries = await repo.pool_entries(shop.interaction_id)
            if entries and agent_id is None:
                agent_id, team_id = entries[0].agent_id, entries[0].team_id
        if agent_id is None:
            raise UnattributedShop(f"visit {shop.visit_id} names no agent and its contact is not in the pool")
        team_id = team_id or (await repo.agents()).get(agent_id, (None, None))[0]
        evaluation = Evaluation(
            # Derived from the visit, so a re-sent result maps to the same evaluation id.
            evaluation_id=deterministic_id(repo.tenant_id, "mystery-shop", shop.visit_id, "evaluation"),
            tenant_id=repo.tenant_id,
            interaction_id=shop.interaction_id or f"visit:{shop.visit_id}", agent_id=agent_id, team_id=team_id,
            evaluator_id=shop.shopper_ref or "mystery-shopper", kind=EvaluationKind.MYSTERY_SHOP,
            scorecard_id=scorecard.scorecard_id, scorecard_version=scorecard.version, assigned_at=at,
        )
        comments = [CommentText(text=shop.comment)] if shop.comment else []
        policy = await quality_rules_in(repo)
        evaluation = lifecycle.submit(evaluation, scorecard.definition, shopper_answers(shop.answers), comments,
                                      policy.model_copy(update={"require_evidence_for_deductions": False}), at)
        await repo.save_evaluation(evaluation)
        await repo.enqueue(lifecycle.submitted_event(evaluation))
    return Outcome.ADDED


# Scorecards -----------------------------------------------------------------------------------------


def _scorecard_key(scorecard_id: str, version: int) -> str:
    # Zero-padded so keys sort by version.
    return f"{scorecard_id}@{version:06d}"


async def _versions(repo: Repository, scorecard_id: str) -> list[Scorecard]:
    # Ids may contain "@" themselves, so the prefix can also match another scorecard's keys.
    found = await repo.list_records(SCORECARD, Scorecard, key_prefix=f"{scorecard_id}@")
    return [s for s in found if s.scorecard_id == scorecard_id]


async def _latest_published(repo: Repository, scorecard_id: str) -> Scorecard:
    published = [s for s in await _versions(repo, scorecard_id) if s.status is ScorecardStatus.PUBLISHED]
    if not published:
        raise NotFound(f"scorecard {scorecard_id} has no published version")
    return published[-1]


async def _scorecard(repo: Repository, scorecard_id: str, version: int) -> Scorecard:
    found = await repo.get_record(SCORECARD, _scorecard_key(scorecard_id, version), Scorecard)
    if found is None:
        raise NotFound(f"scorecard {scorecard_id} version {version}")
    return found


async def save_scorecard(uow: UnitOfWork, tenant_id: str, scorecard_id: str, definition: ScorecardDefinition,
                         *, now: datetime | None = None) -> Scorecard:
    """Create the scorecard, or edit it: a draft changes in place, a published version gets a new draft."""
    async with uow.transaction(tenant_id) as repo:
        versions = await _versions(repo, scorecard_id)
        latest = versions[-1] if versions else None
        if latest and latest.status is ScorecardStatus.DRAFT:
            scorecard = latest.model_copy(update={"definition": definition})
        else:
            if latest and latest.status is ScorecardStatus.RETIRED:
                raise Conflict("the scorecard is retired; give the new form a new id")
            scorecard = Scorecard(tenant_id=tenant_id, scorecard_id=scorecard_id,
                                  version=latest.version + 1 if latest else 1, status=ScorecardStatus.DRAFT,
                                  definition=definition, created_at=now or _now())
        await repo.put_record(SCORECARD, _scorecard_key(scorecard_id, scorecard.version), scorecard)
    return scorecard


async def change_scorecard_status(uow: UnitOfWork, tenant_id: str, scorecard_id: str, version: int,
                                  status: Literal["published", "retired"], *, now: datetime | None = None
                                  ) -> Scorecard:
    """Publish a draft, or retire a published version (draft → published → retired, nothing else)."""
    at = now or _now()
    async with uow.transaction(tenant_id) as repo:
        scorecard = await _scorecard(repo, scorecard_id, version)
        legal = {("draft", "published"), ("published", "retired")}
        if (scorecard.status.value, status) not in legal:
            raise Conflict(f"a {scorecard.status.value} scorecard cannot become {status}")
        stamp = {"published_at": at} if status == "published" else {"retired_at": at}
        scorecard = scorecard.model_copy(update={"status": ScorecardStatus(status), **stamp})
        await repo.put_record(SCORECARD, _scorecard_key(scorecard_id, version), scorecard)
    return scorecard


async def scorecard_versions(uow: UnitOfWork, tenant_id: str, scorecard_id: str) -> list[Scorecard]:
    async with uow.transaction(tenant_id) as repo:
        versions = await _versions(repo, scorecard_id)
    if not versions:
        raise NotFound(scorecard_id)
    return versions


async def list_scorecards(uow: UnitOfWork, tenant_id: str) -> list[Scorecard]:
    """The latest version of each of the tenant's scorecards."""
    async with uow.transaction(tenant_id) as repo:
        every = await repo.list_records(SCORECARD, Scorecard)
    latest: dict[str, Scorecard] = {}
    for scorecard in every:
        latest[scorecard.scorecard_id] = scorecard
    return list(latest.values())


# Quality rules ----------------------------------------------------------------------------------------


async def quality_rules_in(repo: Repository) -> Policy:
    return await repo.get_record(QUALITY_RULES, "tenant", Policy) or Policy()


async def quality_rules(uow: UnitOfWork, tenant_id: str) -> Policy:
    async with uow.transaction(tenant_id) as repo:
        return await quality_rules_in(repo)


async def set_quality_rules(uow: UnitOfWork, tenant_id: str, policy: Policy) -> Policy:
    async with uow.transaction(tenant_id) as repo:
        await repo.put_record(QUALITY_RULES, "tenant", policy)
    return policy


# Evaluations: who sees what ---------------------------------------------------------------------------


def can_read(principal: Principal, evaluation: Evaluation) -> bool:
    if principal.has(Role.ADMIN):
        return True
    if evaluation.kind is EvaluationKind.SELF:
        return principal.is_agent(evaluation.agent_id) or (
            principal.has(Role.TEAM_LEAD) and evaluation.team_id in principal.teams
            and evaluation.state in SCORED)
    if principal.has(Role.QUALITY_EVALUATOR) and (
        evaluation.evaluator_id == principal.subject
        or any(d.routed_to == principal.subject for d in evaluation.disputes)
    ):
        return True
    if principal.has(Role.TEAM_LEAD) and evaluation.team_id in principal.teams and evaluation.state in SCORED:
        return evaluation.kind is not EvaluationKind.CALIBRATION
    return (principal.has(Role.AGENT) and principal.is_agent(evaluation.agent_id)
            and evaluation.state in VISIBLE_TO_AGENT)


def _is_evaluator_of(principal: Principal, evaluation: Evaluation) -> bool:
    return principal.has(Role.ADMIN) or evaluation.evaluator_id == principal.subject or (
        evaluation.kind is EvaluationKind.SELF and principal.is_agent(evaluation.agent_id))


async def _readable(repo: Repository, principal: Principal, evaluation_id: str) -> Evaluation:
    evaluation = await repo.get_evaluation(evaluation_id)
    if evaluation is None or not can_read(principal, evaluation):
        raise NotFound(evaluation_id)
    return evaluation


async def find_evaluation(uow: UnitOfWork, principal: Principal, evaluation_id: str) -> Evaluation:
    async with uow.transaction(principal.tenant_id) as repo:
        return await _readable(repo, principal, evaluation_id)


async def list_evaluations(uow: UnitOfWork, principal: Principal, *, agent_id: str | None = None,
                           team_id: str | None = None, state: str | None = None, kind: str | None = None,
                           limit: int = 100) -> list[Evaluation]:
    """The evaluations the caller may see, narrowed by the filters."""
    teams: list[str] | None = None if team_id is None else [team_id]
    # Narrow in the database to what the role can see, so the limit applies to visible rows.
    if not principal.has(Role.ADMIN, Role.QUALITY_EVALUATOR, Role.TEAM_LEAD):
        if principal.agent_id is None or agent_id not in (None, principal.agent_id):
            return []
        agent_id = principal.agent_id
    elif not principal.has(Role.ADMIN, Role.QUALITY_EVALUATOR):
        teams = sorted(principal.teams & set(teams)) if teams is not None else sorted(principal.teams)
    async with uow.transaction(principal.tenant_id) as repo:
        found = await repo.find_evaluations(
            agent_id=agent_id, team_ids=teams, kind=kind,
            states=None if state is None else [state], limit=5000,
        )
    return [e for e in found if can_read(principal, e)][:limit]


# Evaluations: the lifecycle ---------------------------------------------------------------------------


class AssignEvaluation(BaseModel):
    """Assign an interaction by hand; with ``answers`` it is submitted at once."""

    model_config = {"extra": "forbid", "frozen": True}

    interaction_id: str
    agent_id: str | None = None
    scorecard_id: str
    evaluator_id: str | None = None
    due_on: date | None = None
    answers: dict[str, Answer] | None = None
    comments: list[CommentText] = []


async def assign_evaluation(uow: UnitOfWork, principal: Principal, command: AssignEvaluation,
                            *, now: datetime | None = None) -> Evaluation:
    """Raises ``NotInPool`` / ``AgentNotNamed`` when there is nothing to score, ``NotFound`` for the scorecard."""
    at = now or _now()
    evaluator = command.evaluator_id if principal.has(Role.ADMIN) and command.evaluator_id else principal.subject
    async with uow.transaction(principal.tenant_id) as repo:
        entry = entry_to_evaluate(await repo.pool_entries(command.interaction_id), command.agent_id)
        scorecard = await _latest_published(repo, command.scorecard_id)
        team_id = entry.team_id or (await repo.agents()).get(entry.agent_id, (None, None))[0]
        evaluation = Evaluation(
            evaluation_id=_id(), tenant_id=principal.tenant_id, interaction_id=entry.interaction_id,
            agent_id=entry.agent_id, team_id=team_id, evaluator_id=evaluator, scorecard_id=scorecard.scorecard_id,
            scorecard_version=scorecard.version, due_on=command.due_on, assigned_at=at,
        )
        await repo.enqueue(lifecycle.assigned_event(evaluation))
        if command.answers is not None:
            evaluation = lifecycle.submit(evaluation, scorecard.definition, command.answers, command.comments,
                                          await quality_rules_in(repo), at)
            await repo.enqueue(lifecycle.submitted_event(evaluation))
        await repo.save_evaluation(evaluation)
    return evaluation


async def self_evaluate(uow: UnitOfWork, principal: Principal, interaction_id: str, scorecard_id: str,
                        *, now: datetime | None = None) -> Evaluation:
    """An agent starts scoring their own handling of an interaction on the same scorecard."""
    if principal.agent_id is None:
        raise NotAllowed("only an agent can evaluate their own interaction")
    at = now or _now()
    async with uow.transaction(principal.tenant_id) as repo:
        entry = entry_to_evaluate(await repo.pool_entries(interaction_id), principal.agent_id)
        scorecard = await _latest_published(repo, scorecard_id)
        evaluation = Evaluation(
            evaluation_id=_id(), tenant_id=principal.tenant_id, interaction_id=interaction_id,
            agent_id=principal.agent_id, team_id=entry.team_id, evaluator_id=principal.agent_id,
            kind=EvaluationKind.SELF, state=State.IN_PROGRESS, scorecard_id=scorecard.scorecard_id,
            scorecard_version=scorecard.version, assigned_at=at, started_at=at,
        )
        await repo.save_evaluation(evaluation)
    return evaluation


async def start_evaluation(uow: UnitOfWork, principal: Principal, evaluation_id: str,
                           *, now: datetime | None = None) -> Evaluation:
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        if not _is_evaluator_of(principal, evaluation):
            raise NotAllowed("only the assigned evaluator starts an evaluation")
        evaluation = lifecycle.start(evaluation, now or _now())
        await repo.save_evaluation(evaluation)
    return evaluation


async def comment_on(uow: UnitOfWork, principal: Principal, evaluation_id: str, text: CommentText,
                     *, now: datetime | None = None) -> Evaluation:
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        scorecard = await _scorecard(repo, evaluation.scorecard_id, evaluation.scorecard_version)
        author = evaluation.agent_id if principal.is_agent(evaluation.agent_id) else principal.subject
        evaluation = lifecycle.comment(evaluation, scorecard.definition, text, author, now or _now())
        await repo.save_evaluation(evaluation)
    return evaluation


async def submit_evaluation(uow: UnitOfWork, principal: Principal, evaluation_id: str, answers: dict[str, Answer],
                            comments: list[CommentText], *, now: datetime | None = None) -> Evaluation:
    at = now or _now()
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        if not _is_evaluator_of(principal, evaluation):
            raise NotAllowed("only the assigned evaluator submits an evaluation")
        scorecard = await _scorecard(repo, evaluation.scorecard_id, evaluation.scorecard_version)
        evaluation = lifecycle.submit(evaluation, scorecard.definition, answers, comments,
                                      await quality_rules_in(repo), at)
        await repo.save_evaluation(evaluation)
        await repo.enqueue(lifecycle.submitted_event(evaluation))
        if evaluation.calibration_id:
            await _complete_calibration_if_done(repo, evaluation.calibration_id, at)
    return evaluation


async def release_evaluation(uow: UnitOfWork, principal: Principal, evaluation_id: str, on: date | None = None,
                             *, now: datetime | None = None) -> Evaluation:
    """Release to the agent now, or on a date (the release job does it then)."""
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        if not _is_evaluator_of(principal, evaluation):
            raise NotAllowed("only the evaluator or an admin releases an evaluation")
        evaluation = lifecycle.release(evaluation, now or _now(), on)
        await repo.save_evaluation(evaluation)
        if evaluation.state is State.RELEASED:
            await repo.enqueue(lifecycle.released_event(evaluation))
    return evaluation


async def release_due(uow: UnitOfWork, *, now: datetime | None = None) -> int:
    """Release every evaluation whose scheduled release date has come; returns how many."""
    at = now or _now()
    released = 0
    for tenant_id, evaluation_id in await uow.due_releases(at.date()):
        async with uow.transaction(tenant_id) as repo:
            evaluation = await repo.get_evaluation(evaluation_id)
            if evaluation is None or evaluation.state is not State.SUBMITTED:
                continue
            evaluation = lifecycle.release(evaluation, at)
            await repo.save_evaluation(evaluation)
            await repo.enqueue(lifecycle.released_event(evaluation))
            released += 1
    return released


def _own(principal: Principal, evaluation: Evaluation) -> None:
    if not principal.is_agent(evaluation.agent_id):
        raise NotAllowed("only the evaluated agent can do this")


async def acknowledge_evaluation(uow: UnitOfWork, principal: Principal, evaluation_id: str,
                                 *, now: datetime | None = None) -> Evaluation:
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        _own(principal, evaluation)
        evaluation = lifecycle.acknowledge(evaluation, now or _now())
        await repo.save_evaluation(evaluation)
        await repo.enqueue(lifecycle.acknowledged_event(evaluation))
    return evaluation


async def dispute_evaluation(uow: UnitOfWork, principal: Principal, evaluation_id: str, items: list[DisputedItem],
                             *, now: datetime | None = None) -> Evaluation:
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        _own(principal, evaluation)
        scorecard = await _scorecard(repo, evaluation.scorecard_id, evaluation.scorecard_version)
        evaluation = lifecycle.dispute(evaluation, scorecard.definition, items, principal.subject, _id(),
                                       await quality_rules_in(repo), now or _now())
        await repo.save_evaluation(evaluation)
        await repo.enqueue(lifecycle.disputed_event(evaluation, scorecard.definition))
    return evaluation


async def resolve_dispute(uow: UnitOfWork, principal: Principal, evaluation_id: str,
                          outcome: Literal["upheld", "rescored"], changes: dict[str, Answer], reason: str,
                          *, now: datetime | None = None) -> Evaluation:
    """The dispute's decider (or an admin) upholds or re-scores; the history keeps every score."""
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        open_dispute = evaluation.open_dispute()
        if open_dispute and not (principal.has(Role.ADMIN) or open_dispute.routed_to == principal.subject):
            raise NotAllowed(f"this dispute is decided by {open_dispute.routed_to}")
        scorecard = await _scorecard(repo, evaluation.scorecard_id, evaluation.scorecard_version)
        evaluation = lifecycle.resolve(evaluation, scorecard.definition, outcome, changes, reason,
                                       principal.subject, now or _now())
        await repo.save_evaluation(evaluation)
        await repo.enqueue(lifecycle.dispute_resolved_event(evaluation))
    return evaluation


async def close_evaluation(uow: UnitOfWork, principal: Principal, evaluation_id: str,
                           *, now: datetime | None = None) -> Evaluation:
    async with uow.transaction(principal.tenant_id) as repo:
        evaluation = await _readable(repo, principal, evaluation_id)
        if not (_is_evaluator_of(principal, evaluation) or principal.is_agent(evaluation.agent_id)):
            raise NotAllowed("only the agent, the evaluator or an admin closes an evaluation")
        evaluation = lifecycle.close(evaluation, now or _now())
        await repo.save_evaluation(evaluation)
    return evaluation


class Comparison(BaseModel):
    self_evaluation: Evaluation
    evaluations: list[Evaluation]
    differences: dict[str, Decimal | None]


async def compare_with_self(uow: UnitOfWork, principal: Principal, evaluation_id: str) -> Comparison:
    """A self-evaluation beside the evaluator's scored evaluations of the same handling (shown to both)."""
    async with uow.transaction(principal.tenant_id) as repo:
        own = await repo.get_evaluation(evaluation_id)
        if own is None or own.kind is not EvaluationKind.SELF or own.state not in SCORED:
            raise NotFound(evaluation_id)
        others = [e for e in await repo.find_evaluations(interaction_id=own.interaction_id, agent_id=own.agent_id,
                                                          kind=EvaluationKind.STANDARD.value)
                  if e.state in VISIBLE_TO_AGENT]
    if not (can_read(principal, own) or any(e.evaluator_id == principal.subject for e in others)):
        raise NotFound(evaluation_id)
    differences: dict[str, Decimal | None] = {}
    if others and own.score is not None and others[0].score is not None:
        differences["score"] = own.score - others[0].score
        theirs = {c.criterion_id: c for c in others[0].criteria}
        for mine in own.criteria:
            other = theirs.get(mine.criterion_id)
            differences[mine.criterion_id] = (mine.earned - other.earned
                                              if other and mine.applicable and other.applicable else None)
    return Comparison(self_evaluation=own, evaluations=others, differences=differences)


# Sampling -----------------------------------------------------------------------------------------------


async def sampling_pool(uow: UnitOfWork, tenant_id: str, agent_id: str | None, limit: int) -> list[PoolEntry]:
    """The tenant's pool, most recently completed first, optionally one agent's only."""
    async with uow.transaction(tenant_id) as repo:
        return await repo.list_pool(agent_id, limit)


async def _save_record(uow: UnitOfWork, tenant_id: str, kind: str, key: str, record: M) -> M:
    async with uow.transaction(tenant_id) as repo:
        await repo.put_record(kind, key, record)
    return record


async def _records(uow: UnitOfWork, tenant_id: str, kind: str, model: type[M]) -> list[M]:
    async with uow.transaction(tenant_id) as repo:
        return await repo.list_records(kind, model)


async def save_sampling_policy(uow: UnitOfWork, tenant_id: str, policy_id: str,
                               definition: SamplingPolicyDefinition) -> SamplingPolicy:
    policy = SamplingPolicy(**definition.model_dump(), tenant_id=tenant_id, policy_id=policy_id)
    return await _save_record(uow, tenant_id, SAMPLING_POLICY, policy_id, policy)


async def sampling_policies(uow: UnitOfWork, tenant_id: str) -> list[SamplingPolicy]:
    return await _records(uow, tenant_id, SAMPLING_POLICY, SamplingPolicy)


class SamplingRun(BaseModel):
    run_id: str
    policy_id: str
    scorecard_id: str
    scorecard_version: int
    selection: Selection
    evaluation_ids: list[str]
    ran_at: datetime


async def run_sampling(uow: UnitOfWork, tenant_id: str, policy_id: str, period_start: date, period_end: date,
                       seed: str | None = None, work_start: date | None = None, *, now: datetime | None = None
                       ) -> SamplingRun:
    """Select the period's interactions by the policy, assign them, and record the run with its seed.

    The work starts on ``work_start``, by default the period's first day or today, whichever is later.
    """
    at = now or _now()
    async with uow.transaction(tenant_id) as repo:
        policy = await repo.get_record(SAMPLING_POLICY, policy_id, SamplingPolicy)
        if policy is None:
            raise NotFound(policy_id)
        return await _run(repo, policy, period_start, period_end, seed, work_start, at)


async def run_weekly_sampling(uow: UnitOfWork, *, now: datetime | None = None) -> list[SamplingRun]:
    """Run every weekly policy once for the last full week (Monday to Monday in the policy's time zone).

    The week is claimed in the run's own transaction, so replicas running this job at the same time
    never sample a week twice; a policy without a published scorecard is left for the next attempt.
    """
    at = now or _now()
    runs = []
    for tenant_id, policy_id in await uow.weekly_policies():
        try:
            async with uow.transaction(tenant_id) as repo:
                policy = await repo.get_record(SAMPLING_POLICY, policy_id, SamplingPolicy)
                if policy is None or policy.cadence != "weekly":
                    continue
                today = at.astimezone(ZoneInfo(policy.time_zone)).date()
                monday = today - timedelta(days=today.weekday())
                week = monday - timedelta(days=7)
                if not await repo.claim(SAMPLING_PERIOD, f"{policy_id}/{week.isoformat()}"):
                    continue
                runs.append(await _run(repo, policy, week, monday, None, monday, at))
        except NotFound:
            log.warning("weekly sampling of policy %s skipped: its scorecard has no published version", policy_id)
    return runs


async def _run(repo: Repository, policy: SamplingPolicy, period_start: date, period_end: date, seed: str | None,
               work_start: date | None, at: datetime) -> SamplingRun:
    scorecard = await _latest_published(repo, policy.scorecard_id)
    zone = ZoneInfo(policy.time_zone)
    entries = await repo.pool_between(datetime.combine(period_start, time(), zone),
                                      datetime.combine(period_end, time(), zone))
    surveys = await repo.surveys({e.interaction_id for e in entries})
    roster = await repo.agents()
    mystery = await repo.mystery_contacts()
    evaluated = await repo.evaluated_interactions()
    candidates = [
        Candidate(entry=e, csat=surveys.get(e.interaction_id, (None, None))[0],
                  nps=surveys.get(e.interaction_id, (None, None))[1],
                  agent_started_on=roster.get(e.agent_id, (None, None))[1],
                  mystery_shop=e.interaction_id in mystery, evaluated=(e.interaction_id, e.agent_id) in evaluated)
        for e in entries
    ]
    first_day = work_start or max(period_start, at.astimezone(zone).date())
    selection = select(policy, candidates, period_start, period_end, seed or uuid.uuid4().hex, first_day)
    ids = []
    for pick in selection.picks:
        if pick.evaluator_id is None:
            continue
        evaluation = Evaluation(
            evaluation_id=_id(), tenant_id=repo.tenant_id, interaction_id=pick.interaction_id,
            agent_id=pick.agent_id, team_id=pick.team_id or roster.get(pick.agent_id, (None, None))[0],
            evaluator_id=pick.evaluator_id, scorecard_id=scorecard.scorecard_id,
            scorecard_version=scorecard.version, policy_id=policy.policy_id, due_on=pick.due_on, assigned_at=at,
        )
        await repo.save_evaluation(evaluation)
        await repo.enqueue(lifecycle.assigned_event(evaluation))
        ids.append(evaluation.evaluation_id)
    run = SamplingRun(run_id=_id(), policy_id=policy.policy_id, scorecard_id=scorecard.scorecard_id,
                      scorecard_version=scorecard.version, selection=selection, evaluation_ids=ids, ran_at=at)
    await repo.put_record(SAMPLING_RUN, run.run_id, run)
    return run


async def sampling_run(uow: UnitOfWork, tenant_id: str, run_id: str) -> SamplingRun:
    async with uow.transaction(tenant_id) as repo:
        run = await repo.get_record(SAMPLING_RUN, run_id, SamplingRun)
    if run is None:
        raise NotFound(run_id)
    return run


# Calibration --------------------------------------------------------------------------------------------


async def open_calibration(uow: UnitOfWork, tenant_id: str, request: CalibrationRequest,
                           *, now: datetime | None = None) -> Calibration:
    """A session in which each evaluator gets their own blind calibration evaluation of the interaction."""
    at = now or _now()
    async with uow.transaction(tenant_id) as repo:
        entry = entry_to_evaluate(await repo.pool_entries(request.interaction_id), request.agent_id)
        scorecard = await _latest_published(repo, request.scorecard_id)
        calibration_id = _id()
        evaluations = {}
        for evaluator_id in request.evaluator_ids:
            evaluation = Evaluation(
                evaluation_id=_id(), tenant_id=tenant_id, interaction_id=entry.interaction_id,
                agent_id=entry.agent_id, team_id=entry.team_id, evaluator_id=evaluator_id,
                kind=EvaluationKind.CALIBRATION, scorecard_id=scorecard.scorecard_id,
                scorecard_version=scorecard.version, calibration_id=calibration_id, assigned_at=at,
            )
            await repo.save_evaluation(evaluation)
            await repo.enqueue(lifecycle.assigned_event(evaluation))
            evaluations[evaluator_id] = evaluation.evaluation_id
        calibration = Calibration(
            tenant_id=tenant_id, calibration_id=calibration_id, interaction_id=entry.interaction_id,
            agent_id=entry.agent_id, team_id=entry.team_id, scorecard_id=scorecard.scorecard_id,
            scorecard_version=scorecard.version, evaluations=evaluations,
            reference_evaluator_id=request.reference_evaluator_id, tolerance=request.tolerance, created_at=at,
        )
        await repo.put_record(CALIBRATION, calibration_id, calibration)
    return calibration


def _decimal(value: float | None, places: str = "0.0001") -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal(places))


async def _complete_calibration_if_done(repo: Repository, calibration_id: str, at: datetime) -> None:
    calibration = await repo.get_record(CALIBRATION, calibration_id, Calibration)
    if calibration is None or calibration.state is CalibrationState.COMPLETED:
        return
    evaluations = [await repo.get_evaluation(e) for e in calibration.evaluations.values()]
    submitted = [e for e in evaluations if e is not None and e.state is State.SUBMITTED]
    if len(submitted) < len(calibration.evaluations):
        return
    figures = agreement(submitted, calibration.reference_evaluator_id, calibration.tolerance)
    calibration = calibration.model_copy(update={"state": CalibrationState.COMPLETED, "completed_at": at,
                                                 "agreement": figures})
    await repo.put_record(CALIBRATION, calibration_id, calibration)
    reference = calibration.reference_evaluator_id
    payload = CalibrationCompleted(
        calibration_id=calibration_id, interaction_id=calibration.interaction_id, agent_id=calibration.agent_id,
        scorecard_id=calibration.scorecard_id, scorecard_version=calibration.scorecard_version,
        evaluator_ids=sorted(calibration.evaluations), evaluation_ids=sorted(calibration.evaluations.values()),
        reference_score=_decimal(figures.scores[reference], "0.01") if reference else None,
        # Alpha is bounded below only by 2 - n; the contract keeps a floor of -100, far below any real session.
        alpha=_decimal(None if figures.alpha is None else max(figures.alpha, -100.0)),
        interpretation=figures.alpha_interpretation,
        criteria=[CriterionAgreement(criterion_id=c.criterion_id, spread=Decimal(str(round(c.spread, 3))),
                                     within_tolerance=_decimal(c.within_tolerance)) for c in figures.criteria],
        completed_at=at,
    )
    await repo.enqueue(new_event("qa.evaluation.calibration-completed.v1", repo.tenant_id, payload,
                                 source=lifecycle.SOURCE, subject=calibration_id, time=at))


class CalibrationView(BaseModel):
    calibration: Calibration
    own_evaluation_id: str | None
    submitted: list[str]
    scores: dict[str, Decimal | None] | None = None


async def calibration_view(uow: UnitOfWork, principal: Principal, calibration_id: str) -> CalibrationView:
    """Blind until the caller has submitted: others' scores are shown only after one's own."""
    async with uow.transaction(principal.tenant_id) as repo:
        calibration = await repo.get_record(CALIBRATION, calibration_id, Calibration)
        if calibration is None or not (principal.has(Role.ADMIN) or principal.subject in calibration.evaluations):
            raise NotFound(calibration_id)
        evaluations = {k: await repo.get_evaluation(v) for k, v in calibration.evaluations.items()}
    submitted = sorted(k for k, e in evaluations.items() if e is not None and e.state is State.SUBMITTED)
    sees_all = principal.has(Role.ADMIN) or principal.subject in submitted
    scores = {k: e.score if e else None for k, e in evaluations.items()} if sees_all else None
    shown = calibration if sees_all else calibration.model_copy(update={"agreement": None})
    return CalibrationView(calibration=shown, own_evaluation_id=calibration.evaluations.get(principal.subject),
                           submitted=submitted, scores=scores)


async def criteria_review(uow: UnitOfWork, tenant_id: str, scorecard_id: str) -> list[CriterionReview]:
    async with uow.transaction(tenant_id) as repo:
        sessions = await repo.list_records(CALIBRATION, Calibration)
    done: list[Agreement] = [c.agreement for c in sessions
                             if c.scorecard_id == scorecard_id and c.agreement is not None]
    return criteria_to_review(done)


async def dispute_report(uow: UnitOfWork, tenant_id: str) -> tuple[list[DisputeRate], list[DisputeRate]]:
    async with uow.transaction(tenant_id) as repo:
        evaluations = await repo.find_evaluations(kind=EvaluationKind.STANDARD.value, limit=100000)
    return dispute_rates(evaluations)


# An agent's quality score ----------------------------------------------------------------------------------


async def quality_score(uow: UnitOfWork, principal: Principal, agent_id: str, since: date | None,
                        until: date | None) -> MeanEstimate:
    """Mean score of the agent's standard evaluations (submitted or later) with n and a 95% interval.

    Agents see their own; team leads their teams' agents; admins and evaluators anyone's.
    """
    async with uow.transaction(principal.tenant_id) as repo:
        team = (await repo.agents()).get(agent_id, (None, None))[0]
        evaluations = await repo.find_evaluations(agent_id=agent_id, kind=EvaluationKind.STANDARD.value,
                                                  states=[s.value for s in SCORED], limit=100000)
    teams = {team} | {e.team_id for e in evaluations}
    allowed = (principal.has(Role.ADMIN, Role.QUALITY_EVALUATOR) or principal.is_agent(agent_id)
               or (principal.has(Role.TEAM_LEAD) and bool(teams & principal.teams)))
    if not allowed:
        raise NotFound(agent_id)
    if principal.is_agent(agent_id) and not principal.has(Role.ADMIN):
        evaluations = [e for e in evaluations if e.state in VISIBLE_TO_AGENT]
    scores = [float(e.score) for e in evaluations if e.score is not None and e.submitted_at is not None
              and (since is None or e.submitted_at.date() >= since)
              and (until is None or e.submitted_at.date() < until + timedelta(days=1))]
    return mean_with_interval(scores)


# Mystery shopping ------------------------------------------------------------------------------------------


async def save_scenario(uow: UnitOfWork, tenant_id: str, scenario_id: str,
                        definition: ScenarioDefinition) -> Scenario:
    scenario = Scenario(**definition.model_dump(), tenant_id=tenant_id, scenario_id=scenario_id)
    return await _save_record(uow, tenant_id, SCENARIO, scenario_id, scenario)


async def scenarios(uow: UnitOfWork, tenant_id: str) -> list[Scenario]:
    return await _records(uow, tenant_id, SCENARIO, Scenario)


class MysterySchedule(BaseModel):
    schedule_id: str
    seed: str
    request: ScheduleRequest
    visits: list[PlannedVisit]
    planned_at: datetime


async def plan_mystery_shops(uow: UnitOfWork, tenant_id: str, request: ScheduleRequest,
                             *, now: datetime | None = None) -> MysterySchedule:
    async with uow.transaction(tenant_id) as repo:
        known = {s.scenario_id for s in await repo.list_records(SCENARIO, Scenario)}
        missing = sorted(set(request.scenario_ids) - known)
        if missing:
            raise NotFound(", ".join(missing))
        seed = request.seed or uuid.uuid4().hex
        planned = MysterySchedule(schedule_id=_id(), seed=seed, request=request, visits=schedule(request, seed),
                                  planned_at=now or _now())
        await repo.put_record(SCHEDULE, planned.schedule_id, planned)
    return planned


async def mystery_schedule(uow: UnitOfWork, tenant_id: str, schedule_id: str) -> MysterySchedule:
    async with uow.transaction(tenant_id) as repo:
        found = await repo.get_record(SCHEDULE, schedule_id, MysterySchedule)
    if found is None:
        raise NotFound(schedule_id)
    return found


async def record_staff_notice(uow: UnitOfWork, principal: Principal, notice: StaffNoticeDefinition) -> StaffNotice:
    recorded = StaffNotice(**notice.model_dump(), tenant_id=principal.tenant_id, notice_id=_id(),
                           recorded_by=principal.subject)
    async with uow.transaction(principal.tenant_id) as repo:
        await repo.put_record(STAFF_NOTICE, f"{notice.informed_on.isoformat()}/{recorded.notice_id}", recorded)
    return recorded


async def staff_notices(uow: UnitOfWork, tenant_id: str) -> list[StaffNotice]:
    async with uow.transaction(tenant_id) as repo:
        return await repo.list_records(STAFF_NOTICE, StaffNotice)


async def mystery_results(uow: UnitOfWork, tenant_id: str, limit: int) -> list[Evaluation]:
    async with uow.transaction(tenant_id) as repo:
        return await repo.find_evaluations(kind=EvaluationKind.MYSTERY_SHOP.value, limit=limit)
