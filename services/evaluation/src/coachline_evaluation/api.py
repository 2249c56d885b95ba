"""HTTP routes of evaluation."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from coachline.problem import Problem
from coachline_evaluation import service
from coachline_evaluation.domain.evaluations import Evaluation, SubmitEvaluation
from coachline_evaluation.domain.sampling import AgentNotNamed, NotInPool, PoolEntry
from coachline_evaluation.metrics import Metrics

# The same bounds as an Identifier in the event contracts, so ids from the API fit the events.
_ID = {"min_length": 1, "max_length": 128, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$"}
TenantId = Annotated[str, Query(description="The tenant whose data is read.", **_ID)]


class SamplingPool(BaseModel):
    items: list[PoolEntry]


def router(uow: service.UnitOfWork, metrics: Metrics) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["evaluation"])

    @api.get("/sampling-pool", response_model=SamplingPool, summary="Interactions available for evaluation")
    async def get_sampling_pool(
        tenant_id: TenantId,
        agent_id: Annotated[str | None, Query(description="Only this agent's interactions.", **_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> SamplingPool:
        return SamplingPool(items=await service.sampling_pool(uow, tenant_id, agent_id, limit))

    @api.post(
        "/evaluations",
        status_code=201,
        response_model=Evaluation,
        summary="Submit a scored evaluation of an interaction in the sampling pool",
        responses={
            404: {"description": "The interaction (or the named agent's part of it) is not in the sampling pool"},
            409: {"description": "Several agents handled the interaction; name agent_id"},
            422: {"description": "The request is not valid"},
        },
    )
    async def post_evaluation(command: SubmitEvaluation, response: Response) -> Evaluation:
        try:
            evaluation = await service.submit_evaluation(uow, command)
        except NotInPool:
            raise Problem(404, "Interaction not in the sampling pool",
                          "The tenant's sampling pool has no completed interaction with this id"
                          + (" handled by this agent." if command.agent_id else ".")) from None
        except AgentNotNamed as exc:
            raise Problem(409, "Agent not named",
                          "Several agents handled this interaction; say whose handling is scored in agent_id.",
                          agent_ids=exc.agent_ids) from None
        metrics.evaluations_submitted.inc()
        query = urlencode({"tenant_id": evaluation.tenant_id})
        response.headers["Location"] = f"/v1/evaluations/{evaluation.evaluation_id}?{query}"
        return evaluation

    @api.get(
        "/evaluations/{evaluation_id}",
        response_model=Evaluation,
        summary="One evaluation",
        responses={404: {"description": "No such evaluation for this tenant"}},
    )
    async def get_evaluation(evaluation_id: Annotated[str, Path(**_ID)], tenant_id: TenantId) -> Evaluation:
        try:
            return await service.find_evaluation(uow, tenant_id, evaluation_id)
        except service.EvaluationNotFound:
            raise Problem(404, "Evaluation not found", "The tenant has no evaluation with this id.") from None

    return api
