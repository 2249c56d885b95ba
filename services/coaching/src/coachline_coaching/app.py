"""Coaching: evaluations kept as evidence per agent, and coaching sessions published to coaching.v1."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_coaching import api, handlers
from coachline_coaching.metrics import Metrics
from coachline_coaching.repository import PostgresUnitOfWork
from coachline_coaching.service import UnitOfWork
from coachline_coaching.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, unit_of_work: UnitOfWork | None = None) -> FastAPI:
    """The service's app; ``unit_of_work`` replaces PostgreSQL storage (tests pass an in-memory one)."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    uow = unit_of_work or PostgresUnitOfWork(lambda: runtime.pool, runtime.enqueue)
    metrics = Metrics.on(runtime.registry)
    handlers.register(runtime, uow, metrics)
    runtime.declare_publishers(
        ["coaching.v1"], description="Recorded coaching sessions for HR systems, keyed by tenant:agent_id."
    )
    return create_service_app(
        runtime,
        title="Coachline coaching",
        description="Keeps each agent's evaluations as coaching evidence and records coaching sessions.",
        routers=[api.router(uow, metrics)],
        migrations=MIGRATIONS,
    )
