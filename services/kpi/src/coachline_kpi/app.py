"""KPI: projections of interaction events into figures per scope and window, served live."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_kpi import api, handlers
from coachline_kpi.live import ChangeFeed
from coachline_kpi.service import Projection
from coachline_kpi.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings)
    runtime.declare_publishers(["kpi.snapshots.v1"], description="Current figures of each scope and window.")
    projection = Projection(lambda: runtime.pool, runtime.enqueue, ZoneInfo(settings.time_zone), settings.min_sample)
    feed = ChangeFeed(settings.database_url)
    runtime.add_lifecycle(feed.start, feed.stop)
    handlers.register(runtime, projection)
    return create_service_app(
        runtime,
        title="Coachline KPI",
        description="KPI figures per agent, team, queue and tenant, with a live stream for wallboards.",
        routers=[api.router(runtime, settings, feed)],
        migrations=MIGRATIONS,
    )
