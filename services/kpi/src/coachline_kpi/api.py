"""HTTP routes of the KPI service: figures on request, and a live SSE stream of changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

from coachline.contracts.base import Identifier
from coachline.contracts.kpi import Scope
from coachline.runtime import Runtime
from coachline_kpi import repository
from coachline_kpi.live import ChangeFeed
from coachline_kpi.service import ScopeFigures, view
from coachline_kpi.settings import Settings


class KpiList(BaseModel):
    tenant_id: str
    min_sample: int
    items: list[ScopeFigures]


Tenant = Annotated[Identifier, Query(description="Tenant whose figures to read.")]
Window = Annotated[str | None, Query(pattern=r"^day:\d{4}-\d{2}-\d{2}$", max_length=20)]


def router(runtime: Runtime, settings: Settings, feed: ChangeFeed) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["kpi"])

    @api.get("/kpis", summary="Current figures per scope and window")
    async def kpis(tenant_id: Tenant, scope: Scope | None = None, scope_id: Identifier | None = None,
                   window: Window = None) -> KpiList:
        rows = await repository.find(runtime.pool, tenant_id, scope.value if scope else None, scope_id, window)
        return KpiList(tenant_id=tenant_id, min_sample=settings.min_sample,
                       items=[view(r, settings.min_sample) for r in rows])

    @api.get("/kpis/stream", summary="Server-sent events: a snapshot, then every change as it commits",
             response_class=EventSourceResponse)
    async def stream(request: Request, tenant_id: Tenant) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, str]]:
            with feed.listen(tenant_id) as changes:
                rows = await repository.find(runtime.pool, tenant_id, None, None, None)
                snapshot = KpiList(tenant_id=tenant_id, min_sample=settings.min_sample,
                                   items=[view(r, settings.min_sample) for r in rows])
                yield {"event": "snapshot", "data": snapshot.model_dump_json()}
                while not await request.is_disconnected():
                    try:
                        keys = await asyncio.wait_for(changes.get(), timeout=1.0)
                    except TimeoutError:
                        continue
                    rows = await repository.find_keys(runtime.pool, tenant_id, keys)
                    for row in rows:
                        yield {"event": "kpi", "data": view(row, settings.min_sample).model_dump_json()}

        return EventSourceResponse(events(), ping=int(settings.sse_keepalive_s))

    return api
