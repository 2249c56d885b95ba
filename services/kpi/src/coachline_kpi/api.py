"""HTTP routes of the KPI service: figures by scope and window, series, an agent's own view, team
leaderboards under the team's visibility decision, the tenant's KPI policy, and a live stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, date, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from coachline.auth import Caller, Principal, Role, requires
from coachline.contracts.base import Identifier, ShortText
from coachline.contracts.kpi import Scope
from coachline.problem import Problem
from coachline.runtime import Runtime
from coachline_kpi import service
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.live import ChangeFeed
from coachline_kpi.ranges import InvalidRange, KpiRange, RangeQueries
from coachline_kpi.service import Figures, Forbidden, Leaderboard, OwnView, ScopeFigures, VisibilityDecision
from coachline_kpi.settings import Settings

WINDOW = (r"^(15m:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|day:\d{4}-\d{2}-\d{2}|week:\d{4}-\d{2}-\d{2}"
          r"|period:\d{4}-\d{2}(-\d{2})?|30d:\d{4}-\d{2}-\d{2})$")


def _existing_time(window: str | None) -> str | None:
    """The pattern lets ``day:2026-02-30`` and ``15m:0000-00-00T00:00`` through; only real times pass."""
    if window is not None:
        label = window if window[:1].isdigit() else window.partition(":")[2]
        datetime.fromisoformat(label if len(label) > 7 else f"{label}-01")
    return window


Window = Annotated[str, Query(pattern=WINDOW, max_length=24,
                              description="`15m:YYYY-MM-DDTHH:MM` (UTC), `day:`, `week:` (Monday), `period:`, "
                                          "`30d:` (30 days ending that day) in the tenant's time zone."),
                   AfterValidator(_existing_time)]
WindowStart = Annotated[str, Query(pattern=r"^\d{4}-\d{2}(-\d{2}(T\d{2}:\d{2})?)?$", max_length=16),
                        AfterValidator(_existing_time)]
TeamId = Annotated[Identifier, Path(description="The team.")]
ADMINS = (Role.ADMIN,)


T = TypeVar("T")


async def guard(call: Awaitable[T]) -> T:
    """The service's refusals as 403 problems."""
    try:
        return await call
    except Forbidden as exc:
        raise Problem(403, "Forbidden", str(exc)) from exc


class KpiList(BaseModel):
    tenant_id: str
    min_sample: int
    items: list[ScopeFigures]


class VisibilityChange(BaseModel):
    """A team's decision on who sees whose figures, as the team recorded it."""

    visibility: Literal["self_vs_team", "open"]
    decision: ShortText = Field(min_length=1, description="What the team decided, and where (e.g. a meeting).")


def router(runtime: Runtime, settings: Settings, feed: ChangeFeed) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["kpi"])
    default_policy = TenantPolicy(time_zone=settings.time_zone, min_sample=settings.min_sample)
    reader = service.FigureQueries(lambda: runtime.pool, default_policy)
    ranges = RangeQueries(lambda: runtime.pool, default_policy)

    @api.get("/kpis", summary="Figures by scope and window that the caller may see")
    async def kpis(caller: Caller, scope: Scope | None = None, scope_id: Identifier | None = None,
                   window: Annotated[str | None, Query(pattern=WINDOW, max_length=24),
                                     AfterValidator(_existing_time)] = None) -> KpiList:
        if window and window.startswith("30d:") and not (scope and scope_id):
            raise Problem(422, "Request is not valid", "A 30d window needs scope and scope_id.",
                          errors=[{"loc": "query.window", "msg": "30d windows are read one scope at a time"}])
        items, policy = await guard(reader.find(caller, scope, scope_id, window))
        return KpiList(tenant_id=caller.tenant_id, min_sample=policy.min_sample, items=items)

    @api.get("/kpis/series", summary="One scope's figures window by window")
    async def series(caller: Caller, scope: Scope, scope_id: Identifier,
                     kind: Annotated[Literal["15m", "day", "week", "period"], Query()],
                     since: WindowStart, until: WindowStart) -> KpiList:
        items, policy = await guard(reader.series(caller, scope, scope_id, kind, since, until))
        return KpiList(tenant_id=caller.tenant_id, min_sample=policy.min_sample, items=items)

    @api.get("/kpis/range", summary="One scope's KPIs over a range of days, each with its sample",
             description="The days' numerators and denominators are summed before any ratio is taken (never "
                         "an average of daily ratios). Each figure's `sample` is the total it rests on: the "
                         "count a ratio divides by, the count itself for counts, the sales for `sales_value`, "
                         "the agents for `coaching_cadence`, seconds of handling and available time for "
                         "`occupancy`. A value is null when its sample is below the tenant's minimum (not "
                         "enough data). Without `kpi`, every KPI is returned.")
    async def over_days(caller: Caller, scope: Scope, scope_id: Identifier,
                        since: Annotated[date, Query(description="The first day, in the tenant's time zone.")],
                        until: Annotated[date, Query(description="The last day, included.")],
                        kpi: Annotated[Identifier | None, Query(description="Only this KPI, e.g. `csat`.")] = None,
                        ) -> KpiRange:
        try:
            return await guard(ranges.over_days(caller, scope, scope_id, since, until, kpi))
        except InvalidRange as exc:
            raise Problem(422, "Request is not valid", exc.reason,
                          errors=[{"loc": f"query.{exc.field}", "msg": exc.reason}]) from exc

    @api.get("/kpis/live", summary="Contacts waiting, the longest wait and agents by state, now")
    async def live(caller: Caller, scope: Scope = Scope.TENANT,
                   scope_id: Identifier | None = None) -> Figures:
        return await guard(reader.live(caller, scope, scope_id or caller.tenant_id, datetime.now(UTC)))

    @api.get("/me/kpis", summary="The caller's own figures against their team's")
    async def own(caller: Caller, window: Window) -> OwnView:
        return await guard(reader.own(caller, window))

    @api.get("/teams/{team_id}/leaderboard", summary="Every member's figures, if the team chose `open`")
    async def leaderboard(caller: Caller, team_id: TeamId, window: Window) -> Leaderboard:
        return await guard(reader.leaderboard(caller, team_id, window))

    @api.get("/teams/{team_id}/visibility", summary="The team's visibility and the decisions that set it")
    async def visibility(caller: Caller, team_id: TeamId) -> list[VisibilityDecision]:
        return await guard(reader.visibility(caller, team_id))

    @api.put("/teams/{team_id}/visibility", summary="Record the team's decision on visibility")
    async def decide(caller: Caller, team_id: TeamId, change: VisibilityChange) -> VisibilityDecision:
        return await guard(reader.decide(caller, team_id, change.visibility, change.decision))

    @api.get("/kpi-policy", summary="The tenant's KPI policy: thresholds, variant, time zone, targets")
    async def policy(caller: Caller) -> TenantPolicy:
        return await guard(reader.policy(caller.tenant_id))

    @api.put("/kpi-policy", summary="Replace the tenant's KPI policy")
    async def set_policy(new: Annotated[TenantPolicy, Body()],
                         caller: Annotated[Principal, requires(*ADMINS)]) -> TenantPolicy:
        await guard(reader.set_policy(caller, new))
        return new

    @api.get("/kpis/stream", summary="Server-sent events: a snapshot, then every change as it commits",
             response_class=EventSourceResponse)
    async def stream(request: Request, caller: Caller) -> EventSourceResponse:
        tenant_id = caller.tenant_id

        async def events() -> AsyncIterator[dict[str, str]]:
            with feed.listen(tenant_id) as changes:
                items, policy = await guard(reader.find(caller, None, None, None))
                snapshot = KpiList(tenant_id=tenant_id, min_sample=policy.min_sample, items=items)
                yield {"event": "snapshot", "data": snapshot.model_dump_json()}
                while not await request.is_disconnected():
                    try:
                        keys = await asyncio.wait_for(changes.get(), timeout=1.0)
                    except TimeoutError:
                        continue
                    for item in await guard(reader.keys(caller, keys)):
                        yield {"event": "kpi", "data": item.model_dump_json()}

        return EventSourceResponse(events(), ping=int(settings.sse_keepalive_s))

    return api

