"""HTTP routes of notification rules (admins) and wallboard banners (admins, service managers, team leads)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response

from coachline.auth import Principal, Role, requires
from coachline.contracts.notifications import BannerScope, WallboardBannerPublished
from coachline.problem import Problem
from coachline.runtime import Runtime
from coachline_notifications import service
from coachline_notifications.domain.banners import BannerRequest
from coachline_notifications.domain.rules import Rule, RuleRequest, Rules

Admin = Annotated[Principal, requires(Role.ADMIN)]
BannerAuthor = Annotated[Principal, requires(Role.ADMIN, Role.SERVICE_MANAGER, Role.TEAM_LEAD)]


def router(runtime: Runtime, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.post("/rules", status_code=201, response_model=Rule, tags=["rules"],
              summary="Send an event type by e-mail (at once or in a daily digest) or as a wallboard banner",
              responses={422: {"description": "Invalid rule"}})
    async def create_rule(request: RuleRequest, response: Response, caller: Admin) -> Rule:
        rule = await service.add_rule(runtime.pool, caller.tenant_id, request)
        response.headers["location"] = f"/v1/rules/{rule.id}"
        return rule

    @api.get("/rules", response_model=Rules, tags=["rules"], summary="The tenant's notification rules")
    async def list_rules(caller: Admin) -> Rules:
        return Rules(items=await service.list_rules(runtime.pool, caller.tenant_id))

    @api.delete("/rules/{rule_id}", status_code=204, tags=["rules"], summary="Delete a rule",
                responses={404: {"description": "No such rule"}})
    async def delete_rule(rule_id: UUID, caller: Admin) -> Response:
        if not await service.remove_rule(runtime.pool, caller.tenant_id, rule_id):
            raise Problem(404, "Rule not found", f"there is no rule {rule_id}")
        return Response(status_code=204)

    @api.post("/banners", status_code=202, response_model=WallboardBannerPublished, tags=["banners"],
              summary="Put a banner on the wallboards of a scope until it expires",
              responses={403: {"description": "A team lead may address their own teams only"}})
    async def publish_banner(request: BannerRequest, caller: BannerAuthor) -> WallboardBannerPublished:
        if not caller.has(Role.ADMIN, Role.SERVICE_MANAGER) and not (
                request.scope is BannerScope.TEAM and request.scope_id in caller.teams):
            raise Problem(403, "Forbidden", "A team lead may put banners on their own teams' wallboards only.")
        return await service.publish_banner(runtime.pool, runtime.enqueue, caller.tenant_id, request, now())

    return api
