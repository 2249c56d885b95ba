"""Notifications: webhook subscriptions, and signed delivery of the events they ask for."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_notifications import api, handlers
from coachline_notifications.domain.deliveries import RetryPolicy
from coachline_notifications.service import Dispatcher, FanOut
from coachline_notifications.settings import Settings
from coachline_notifications.worker import DeliveryWorker

MIGRATIONS = Path(__file__).parent / "migrations"
# How long past the attempt's own timeout a claimed delivery stays out of other workers' reach.
LEASE_MARGIN_S = 30.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings)
    runtime.declare_publishers(
        ["notifications.v1"], description="The outcome of each webhook delivery: delivered, or failed after retries."
    )

    def pool() -> asyncpg.Pool:
        return runtime.pool

    handlers.register(runtime, FanOut(pool))
    policy = RetryPolicy(settings.webhook_max_attempts, settings.webhook_retry_base_s, settings.webhook_retry_max_s)
    dispatcher = Dispatcher(pool, runtime.enqueue, policy, batch_size=settings.webhook_batch_size,
                            lease_s=settings.webhook_timeout_s + LEASE_MARGIN_S)
    worker = DeliveryWorker(dispatcher, settings, runtime.registry)
    runtime.add_lifecycle(worker.start, worker.stop)
    return create_service_app(
        runtime,
        title="Coachline notifications",
        description="Webhook subscriptions, and signed delivery (Standard Webhooks) of the events they name.",
        routers=[api.router(runtime)],
        migrations=MIGRATIONS,
    )
