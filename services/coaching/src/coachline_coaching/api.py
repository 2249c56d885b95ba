"""HTTP routes of coaching."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from coachline.problem import Problem
from coachline_coaching import service
from coachline_coaching.domain.evidence import AgentEvaluation
from coachline_coaching.domain.sessions import CoachingSession, RecordSession
from coachline_coaching.metrics import Metrics

# The same bounds as an Identifier in the event contracts, so ids from the API fit the events.
_ID = {"min_length": 1, "max_length": 128, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$"}
TenantId = Annotated[str, Query(description="The tenant whose data is read.", **_ID)]


class AgentEvaluations(BaseModel):
    items: list[AgentEvaluation]


def router(uow: service.UnitOfWork, metrics: Metrics) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["coaching"])

    # ":path" because identifiers may contain "/" (a platform's "north/a-17"), sent encoded as %2F.
    @api.get(
        "/agents/{agent_id:path}/evaluations",
        response_model=AgentEvaluations,
        summary="The agent's evaluations, most recent first: the evidence for coaching",
    )
    async def get_agent_evaluations(
        agent_id: Annotated[str, Path(**_ID)],
        tenant_id: TenantId,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> AgentEvaluations:
        return AgentEvaluations(items=await service.agent_evaluations(uow, tenant_id, agent_id, limit))

    @api.post(
        "/sessions",
        status_code=201,
        response_model=CoachingSession,
        summary="Record a held coaching session",
        responses={422: {"description": "The request is not valid, or names evaluations the agent does not have"}},
    )
    async def post_session(command: RecordSession, response: Response) -> CoachingSession:
        try:
            session = await service.record_session(uow, command)
        except service.UnknownEvidence as exc:
            raise Problem(422, "Unknown evaluations",
                          "These are not evaluations of this agent that coaching has received.",
                          evaluation_ids=exc.evaluation_ids) from None
        metrics.sessions_recorded.labels(session.kind.value).inc()
        query = urlencode({"tenant_id": session.tenant_id})
        response.headers["Location"] = f"/v1/sessions/{session.session_id}?{query}"
        return session

    @api.get(
        "/sessions/{session_id}",
        response_model=CoachingSession,
        summary="One coaching session",
        responses={404: {"description": "No such session for this tenant"}},
    )
    async def get_session(session_id: Annotated[str, Path(**_ID)], tenant_id: TenantId) -> CoachingSession:
        try:
            return await service.find_session(uow, tenant_id, session_id)
        except service.SessionNotFound:
            raise Problem(404, "Session not found", "The tenant has no coaching session with this id.") from None

    return api
