"""Evaluation: the sampling pool fed by interactions, and scored evaluations published to qa.evaluations.v1."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_evaluation import api, handlers
from coachline_evaluation.metrics import Metrics
from coachline_evaluation.repository import PostgresUnitOfWork
from coachline_evaluation.service import UnitOfWork
from coachline_evaluation.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, unit_of_work: UnitOfWork | None = None) -> FastAPI:
    """The service's app; ``unit_of_work`` replaces PostgreSQL storage (tests pass an in-memory one)."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    uow = unit_of_work or PostgresUnitOfWork(lambda: runtime.pool, runtime.enqueue)
    metrics = Metrics.on(runtime.registry)
    handlers.register(runtime, uow, metrics)
    runtime.declare_publishers(["qa.evaluations.v1"], description="Submitted evaluations, keyed by tenant:agent_id.")
    return create_service_app(
        runtime,
        title="Coachline evaluation",
        description="Keeps the sampling pool of completed interactions and records scored evaluations.",
        routers=[api.router(uow, metrics)],
        migrations=MIGRATIONS,
    )
