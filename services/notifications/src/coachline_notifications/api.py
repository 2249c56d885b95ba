"""HTTP routes of notifications: webhook subscriptions and their delivery log, for a tenant's admins."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from coachline.auth import Principal, Role, requires
from coachline.problem import Problem
from coachline.runtime import Runtime
from coachline_notifications import service
from coachline_notifications.domain.destinations import DestinationRefused
from coachline_notifications.domain.subscriptions import (
    CreatedSubscription,
    DeliveryLog,
    DeliveryStatus,
    RotatedSecret,
    Subscription,
    SubscriptionRequest,
    Subscriptions,
)
from coachline_notifications.settings import Settings
from coachline_notifications.webhooks import Destinations

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such subscription (or it was deleted)"}}
Admin = Annotated[Principal, requires(Role.ADMIN)]


def _not_found(subscription_id: UUID) -> Problem:
    return Problem(404, "Subscription not found", f"there is no subscription {subscription_id}")


def router(runtime: Runtime, settings: Settings, destinations: Destinations) -> APIRouter:
    api = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])

    @api.post(
        "",
        status_code=201,
        response_model=CreatedSubscription,
        summary="Register a webhook; the answer holds the signing secret, shown only this once",
        responses={422: {"description": "Invalid subscription, or a URL that may not be called"}},
    )
    async def create(request: SubscriptionRequest, response: Response, caller: Admin) -> CreatedSubscription:
        try:
            created = await service.register(runtime.pool, caller.tenant_id, request, destinations.addresses)
        except DestinationRefused as refused:
            raise Problem(422, "Webhook URL refused", str(refused),
                          errors=[{"loc": "body.url", "msg": str(refused)}]) from None
        response.headers["location"] = f"/v1/subscriptions/{created.id}"
        return created

    @api.get("", response_model=Subscriptions, summary="The tenant's subscriptions, without their secrets")
    async def list_all(caller: Admin) -> Subscriptions:
        return Subscriptions(items=await service.list_all(runtime.pool, caller.tenant_id))

    @api.get("/{subscription_id}", response_model=Subscription, summary="A subscription, without its secret",
             responses=NOT_FOUND)
    async def read(subscription_id: UUID, caller: Admin) -> Subscription:
        found = await service.find(runtime.pool, caller.tenant_id, subscription_id)
        if found is None:
            raise _not_found(subscription_id)
        return found

    @api.delete("/{subscription_id}", status_code=204, summary="Delete a subscription; pending deliveries stop",
                responses=NOT_FOUND)
    async def delete(subscription_id: UUID, caller: Admin) -> Response:
        if not await service.remove(runtime.pool, caller.tenant_id, subscription_id):
            raise _not_found(subscription_id)
        return Response(status_code=204)

    @api.post("/{subscription_id}/enable", response_model=Subscription, responses=NOT_FOUND,
              summary="Enable a subscription a 410 Gone disabled; its waiting deliveries go out")
    async def enable(subscription_id: UUID, caller: Admin) -> Subscription:
        found = await service.enable(runtime.pool, caller.tenant_id, subscription_id)
        if found is None:
            raise _not_found(subscription_id)
        return found

    @api.post("/{subscription_id}/rotate-secret", response_model=RotatedSecret, responses=NOT_FOUND,
              summary="A new signing secret; until previous_secret_until deliveries are signed with both")
    async def rotate(subscription_id: UUID, caller: Admin) -> RotatedSecret:
        rotated = await service.rotate_secret(runtime.pool, caller.tenant_id, subscription_id,
                                              settings.secret_rotation_overlap_s)
        if rotated is None:
            raise _not_found(subscription_id)
        return rotated

    @api.get("/{subscription_id}/deliveries", response_model=DeliveryLog, responses=NOT_FOUND,
             summary="The delivery log: the latest deliveries, newest first, with attempts, status codes, latency")
    async def deliveries(subscription_id: UUID, caller: Admin, status: DeliveryStatus | None = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> DeliveryLog:
        found = await service.delivery_log(runtime.pool, caller.tenant_id, subscription_id, status, limit)
        if found is None:
            raise _not_found(subscription_id)
        return found

    @api.post("/{subscription_id}/deliveries/{delivery_id}/resend", status_code=202,
              summary="Send a failed delivery again (same webhook-id, the full number of attempts)",
              responses={404: {"description": "No such subscription or delivery"},
                         409: {"description": "The delivery has not failed"}})
    async def resend(subscription_id: UUID, delivery_id: UUID, caller: Admin) -> Response:
        outcome = await service.resend(runtime.pool, caller.tenant_id, subscription_id, delivery_id)
        if outcome is service.Resend.UNKNOWN:
            raise Problem(404, "Delivery not found", f"subscription {subscription_id} has no delivery {delivery_id}")
        if outcome is service.Resend.NOT_FAILED:
            raise Problem(409, "Delivery has not failed", "only a failed delivery can be sent again")
        return Response(status_code=202)

    return api
