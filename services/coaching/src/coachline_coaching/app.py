"""Coaching: periods, goals, sessions and agreed actions per agent; suggestions; coaching.v1 for HR systems."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_coaching import api, handlers
from coachline_coaching.domain.periods import PeriodLength
from coachline_coaching.domain.suggestions import Thresholds
from coachline_coaching.kpi_client import KpiService
from coachline_coaching.metrics import Metrics
from coachline_coaching.repository import PostgresUnitOfWork
from coachline_coaching.service import Policy
from coachline_coaching.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, kpis: KpiService | None = None) -> FastAPI:
    """The service's app; ``kpis`` replaces the KPI service client (tests pass one on another transport)."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    uow = PostgresUnitOfWork(lambda: runtime.pool, runtime.enqueue)
    metrics = Metrics.on(runtime.registry)
    policy = Policy(
        length=PeriodLength(min_days=settings.period_min_days, max_days=settings.period_max_days,
                            default_days=settings.period_default_days),
        thresholds=Thresholds(repeated_failures=settings.repeated_failures, lookback=settings.failure_lookback,
                              self_gap_points=settings.self_gap_points),
    )
    handlers.register(runtime, uow, metrics, policy.thresholds)
    runtime.declare_publishers(
        ["coaching.v1"],
        description="Coaching periods, sessions, goals and agreed actions for HR systems, keyed by tenant:agent_id.",
    )
    return create_service_app(
        runtime,
        title="Coachline coaching",
        description="Coaching periods with goals on the goal triangle, sessions and agreed actions every agent "
                    "can see, suggestions from evaluations and KPI alerts, and the coaching.v1 contract.",
        routers=[api.router(uow, policy, kpis or KpiService(settings.kpi_base_url, settings.kpi_timeout_s), metrics)],
        migrations=MIGRATIONS,
    )
