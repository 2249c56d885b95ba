"""HTTP routes of notifications: register, read and delete webhook subscriptions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from coachline.problem import Problem
from coachline.runtime import Runtime
from coachline_notifications import service
from coachline_notifications.domain.subscriptions import CreatedSubscription, Subscription, SubscriptionRequest

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such subscription (or it was deleted)"}}


def _not_found(subscription_id: UUID) -> Problem:
    return Problem(404, "Subscription not found", f"there is no subscription {subscription_id}")


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])

    @api.post(
        "",
        status_code=201,
        response_model=CreatedSubscription,
        summary="Register a webhook; the answer holds the signing secret, shown only this once",
        responses={422: {"description": "Invalid subscription"}},
    )
    async def create(request: SubscriptionRequest, response: Response) -> CreatedSubscription:
        created = await service.register(runtime.pool, request)
        response.headers["location"] = f"/v1/subscriptions/{created.id}"
        return created

    @api.get("/{subscription_id}", response_model=Subscription, summary="A subscription, without its secret",
             responses=NOT_FOUND)
    async def read(subscription_id: UUID) -> Subscription:
        found = await service.find(runtime.pool, subscription_id)
        if found is None:
            raise _not_found(subscription_id)
        return found

    @api.delete("/{subscription_id}", status_code=204, summary="Delete a subscription; pending deliveries stop",
                responses=NOT_FOUND)
    async def delete(subscription_id: UUID) -> Response:
        if not await service.remove(runtime.pool, subscription_id):
            raise _not_found(subscription_id)
        return Response(status_code=204)

    return api
