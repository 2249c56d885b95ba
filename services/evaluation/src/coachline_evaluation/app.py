"""Evaluation: scorecards, sampling, the evaluation lifecycle, calibration and mystery shopping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_evaluation import api, handlers, service
from coachline_evaluation.metrics import Metrics
from coachline_evaluation.repository import PostgresUnitOfWork
from coachline_evaluation.service import UnitOfWork
from coachline_evaluation.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, unit_of_work: UnitOfWork | None = None) -> FastAPI:
    """The service's app; ``unit_of_work`` replaces PostgreSQL storage (tests pass an in-memory one)."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    uow = unit_of_work or PostgresUnitOfWork(lambda: runtime.pool, runtime.enqueue)
    metrics = Metrics.on(runtime.registry)
    handlers.register(runtime, uow, metrics)
    runtime.declare_publishers(
        ["qa.evaluations.v1"],
        description="Evaluation lifecycle events (assigned, submitted, released, acknowledged, disputed, dispute "
                    "resolved, calibration completed), keyed by tenant:agent_id.",
    )
    _scheduled_work(runtime, uow, metrics, settings.release_interval_s)
    return create_service_app(
        runtime,
        title="Coachline evaluation",
        description="Scorecards, sampling, evaluations with disputes, calibration and mystery shopping.",
        routers=[api.router(uow, metrics)],
        migrations=MIGRATIONS,
    )


def _scheduled_work(runtime: Runtime, uow: UnitOfWork, metrics: Metrics, interval_s: float) -> None:
    """Every ``interval_s`` seconds: release evaluations whose date has come, and sample weeks that ended."""
    task: asyncio.Task[None] | None = None

    async def loop() -> None:
        while True:
            try:
                metrics.evaluations_released.inc(await service.release_due(uow))
                for run in await service.run_weekly_sampling(uow):
                    metrics.evaluations_assigned.inc(len(run.evaluation_ids))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled release or sampling failed; retrying")
            await asyncio.sleep(interval_s)

    async def start() -> None:
        nonlocal task
        task = asyncio.create_task(loop(), name="evaluation-scheduled-work")

    async def stop() -> None:
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    runtime.add_lifecycle(start, stop)
