"""HTTP routes of coaching: thin, the service layer decides; its refusals become problem+json answers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from coachline.auth import Caller
from coachline.problem import Problem
from coachline_coaching import service
from coachline_coaching.domain.common import IllegalTransition
from coachline_coaching.domain.evidence import AgentEvaluation
from coachline_coaching.domain.goals import Goal, GoalDecision, GoalProgress, SetGoal
from coachline_coaching.domain.periods import ClosePeriod, CoachingPeriod, OpenPeriod, PeriodSummary
from coachline_coaching.domain.sessions import (
    AgreedAction,
    CoachingSession,
    HoldSession,
    PlanSession,
    Reflection,
    TimelineEntry,
    WriteReflection,
)
from coachline_coaching.domain.suggestions import StoredSuggestion
from coachline_coaching.kpi_client import KpiService, KpiUnavailable
from coachline_coaching.metrics import Metrics

# The same bounds as an Identifier in the event contracts, so ids from the API fit the events.
_ID = {"min_length": 1, "max_length": 128, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$"}
# ":path" routes because identifiers may contain "/" (a platform's "north/a-17"), sent encoded as %2F.
AgentId = Annotated[str, Path(**_ID)]
Id = Annotated[str, Path(**_ID)]
# An agent's record grows with every session; one answer carries at most the latest MAX_PAGE entries.
MAX_PAGE = 500
Latest = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many, the latest.")]

T = TypeVar("T")

_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller may not do this for this agent"},
    404: {"description": "No such thing in the caller's tenant"},
    409: {"description": "Not in a state that allows this step"},
    422: {"description": "The request is not valid; the problem names the field"},
}


async def answer(call: Awaitable[T]) -> T:
    """The service's refusals as problems: 403, 404, 409, 422 naming the field, 503 for the KPI service."""
    try:
        return await call
    except service.Forbidden as exc:
        raise Problem(403, "Forbidden", str(exc)) from None
    except service.NotFound as exc:
        raise Problem(404, "Not found", f"The tenant has no such {exc.what}.") from None
    except (service.Conflict, IllegalTransition) as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    except service.Invalid as exc:
        raise Problem(422, "Request is not valid", str(exc), errors=[{"loc": f"body.{exc.field}", "msg": str(exc)}],
                      **exc.extensions) from None
    except KpiUnavailable as exc:
        raise Problem(503, "KPI service unavailable", str(exc), headers={"Retry-After": "30"}) from None


class Items(BaseModel, Generic[T]):
    items: list[T]


class GoalOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: GoalDecision


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes_in_events: bool


def router(uow: service.UnitOfWork, policy: service.Policy, kpis: KpiService, metrics: Metrics) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["coaching"], responses=_ANSWERS)

    def kpis_for(request: Request) -> service.KpiSource:
        return kpis.on_behalf_of(request.headers["authorization"])

    # Agents' records ------------------------------------------------------------------------------

    @api.get("/agents/{agent_id:path}/evaluations", response_model=Items[AgentEvaluation],
             summary="The agent's evaluations, most recent first: the evidence for coaching")
    async def get_agent_evaluations(agent_id: AgentId, caller: Caller,
                                    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> Items[AgentEvaluation]:
        return Items(items=await answer(service.agent_evaluations(uow, caller, agent_id, limit)))

    @api.get("/agents/{agent_id:path}/periods", response_model=Items[CoachingPeriod],
             summary="The agent's coaching periods, latest first")
    async def get_agent_periods(agent_id: AgentId, caller: Caller, limit: Latest = 100) -> Items[CoachingPeriod]:
        return Items(items=(await answer(service.agent_periods(uow, caller, agent_id)))[:limit])

    @api.get("/agents/{agent_id:path}/timeline", response_model=Items[TimelineEntry],
             summary="The latest sessions with what was agreed and the agent's reflections, oldest first")
    async def get_timeline(agent_id: AgentId, caller: Caller, limit: Latest = 100) -> Items[TimelineEntry]:
        return Items(items=(await answer(service.agent_timeline(uow, caller, agent_id)))[-limit:])

    @api.get("/agents/{agent_id:path}/actions", response_model=Items[AgreedAction],
             summary="The actions agreed with the agent, the latest of them, oldest first")
    async def get_actions(agent_id: AgentId, caller: Caller, limit: Latest = 100) -> Items[AgreedAction]:
        return Items(items=(await answer(service.agent_actions(uow, caller, agent_id)))[-limit:])

    @api.get("/agents/{agent_id:path}/suggestions", response_model=Items[StoredSuggestion],
             summary="Focus areas proposed for the agent's next session, each with its evidence (coaches)")
    async def get_suggestions(agent_id: AgentId, caller: Caller, limit: Latest = 100) -> Items[StoredSuggestion]:
        return Items(items=(await answer(service.agent_suggestions(uow, caller, agent_id)))[:limit])

    # Periods and goals ----------------------------------------------------------------------------

    @api.post("/periods", status_code=201, response_model=CoachingPeriod, summary="Open a coaching period")
    async def post_period(command: OpenPeriod, caller: Caller, response: Response) -> CoachingPeriod:
        period = await answer(service.open_period(uow, caller, command, policy.length))
        metrics.periods.labels("opened").inc()
        response.headers["Location"] = f"/v1/periods/{period.period_id}"
        return period

    @api.get("/periods/{period_id}", response_model=service.PeriodView,
             summary="A period with its goals, sessions, actions and, once closed, its look back")
    async def get_period(period_id: Id, caller: Caller) -> service.PeriodView:
        return await answer(service.view_period(uow, caller, period_id))

    @api.post("/periods/{period_id}/goals", status_code=201, response_model=Goal, summary="Set a goal")
    async def post_goal(period_id: Id, command: SetGoal, caller: Caller) -> Goal:
        return await answer(service.set_goal(uow, caller, period_id, command))

    @api.post("/periods/{period_id}/close", response_model=PeriodSummary,
              summary="Close the period: goals met or missed, and each KPI goal's effect against the period before")
    async def post_close(period_id: Id, caller: Caller, request: Request,
                         command: Annotated[ClosePeriod | None, Body()] = None) -> PeriodSummary:
        summary = await answer(service.close_period(uow, kpis_for(request), caller, period_id,
                                                    command or ClosePeriod()))
        metrics.periods.labels("closed").inc()
        return summary

    @api.post("/goals/{goal_id}/decision", response_model=Goal, summary="Record that a goal was achieved or missed")
    async def post_decision(goal_id: Id, body: GoalOutcome, caller: Caller) -> Goal:
        return await answer(service.decide_goal(uow, caller, goal_id, body.outcome))

    @api.get("/goals/{goal_id}/progress", response_model=GoalProgress,
             summary="A KPI goal's figure so far in its period, live from the KPI service")
    async def get_progress(goal_id: Id, caller: Caller, request: Request) -> GoalProgress:
        return await answer(service.goal_progress(uow, kpis_for(request), caller, goal_id))

    # Sessions, actions, reflections ---------------------------------------------------------------

    @api.post("/sessions", status_code=201, response_model=CoachingSession,
              summary="Plan a coaching session, or record one held already (with `held`)")
    async def post_session(command: PlanSession, caller: Caller, response: Response) -> CoachingSession:
        session = await answer(service.plan_session(uow, caller, command))
        metrics.sessions.labels(session.status.value, session.kind.value).inc()
        response.headers["Location"] = f"/v1/sessions/{session.session_id}"
        return session

    @api.get("/sessions/{session_id}", response_model=CoachingSession, summary="One coaching session")
    async def get_session(session_id: Id, caller: Caller) -> CoachingSession:
        return await answer(service.find_session(uow, caller, session_id))

    @api.post("/sessions/{session_id}/held", response_model=CoachingSession,
              summary="Record that a planned session was held: notes, what was discussed, agreed and followed up")
    async def post_held(session_id: Id, command: HoldSession, caller: Caller) -> CoachingSession:
        session = await answer(service.hold_session(uow, caller, session_id, command))
        metrics.sessions.labels(session.status.value, session.kind.value).inc()
        return session

    @api.post("/sessions/{session_id}/missed", response_model=CoachingSession,
              summary="Record that a planned session did not take place")
    async def post_missed(session_id: Id, caller: Caller) -> CoachingSession:
        session = await answer(service.miss_session(uow, caller, session_id))
        metrics.sessions.labels(session.status.value, session.kind.value).inc()
        return session

    @api.post("/sessions/{session_id}/reflections", status_code=201, response_model=Reflection,
              summary="The agent's own reflection on a session")
    async def post_reflection(session_id: Id, command: WriteReflection, caller: Caller) -> Reflection:
        return await answer(service.write_reflection(uow, caller, session_id, command))

    @api.post("/actions/{action_id}/complete", response_model=AgreedAction, summary="Mark an agreed action done")
    async def post_complete(action_id: Id, caller: Caller) -> AgreedAction:
        return await answer(service.complete_action(uow, caller, action_id))

    # Tenant settings ------------------------------------------------------------------------------

    @api.get("/settings", response_model=TenantSettings, summary="The tenant's coaching settings")
    async def get_settings(caller: Caller) -> TenantSettings:
        return TenantSettings(notes_in_events=await answer(service.notes_in_events(uow, caller)))

    @api.put("/settings", response_model=TenantSettings,
             summary="Opt in or out of free-text notes in coaching.v1 events (admin)")
    async def put_settings(body: TenantSettings, caller: Caller) -> TenantSettings:
        await answer(service.set_notes_in_events(uow, caller, body.notes_in_events))
        return body

    return api
