"""Notifications: webhook subscriptions, and signed delivery of the events they ask for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_notifications import api, api_rules, handlers
from coachline_notifications.domain.deliveries import RetryPolicy
from coachline_notifications.domain.destinations import EgressPolicy
from coachline_notifications.mailer import SmtpMailer
from coachline_notifications.service import Dispatcher, FanOut, Postman
from coachline_notifications.settings import Settings
from coachline_notifications.webhooks import Destinations, Resolver, system_resolver
from coachline_notifications.worker import DeliveryWorker, EmailWorker

MIGRATIONS = Path(__file__).parent / "migrations"
# An SMTP exchange has a timeout per step; past twice that plus this, another replica may take the e-mail over.
LEASE_MARGIN_S = 30.0


def create_app(settings: Settings | None = None, *, resolver: Resolver = system_resolver,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    """The service. ``resolver`` answers DNS questions for the address checks and ``clock`` tells the
    time for quiet hours, digests and banners; tests pass their own."""
    settings = settings or Settings()
    runtime = Runtime(settings)
    runtime.declare_publishers(
        ["notifications.v1"],
        description="The outcome of each webhook and e-mail delivery (delivered, or failed after retries), and "
                    "wallboard banners.",
    )

    def pool() -> asyncpg.Pool:
        return runtime.pool

    destinations = Destinations(
        EgressPolicy(allow_http=settings.webhook_allow_http, allow_loopback=settings.webhook_allow_loopback),
        resolver,
    )
    handlers.register(runtime, FanOut(pool, runtime.enqueue, banner_ttl_s=settings.banner_ttl_s, now=clock))
    policy = RetryPolicy(settings.webhook_max_attempts, settings.webhook_retry_base_s, settings.webhook_retry_max_s,
                         settings.webhook_retry_after_max_s)
    dispatcher = Dispatcher(pool, runtime.enqueue, policy, batch_size=settings.webhook_batch_size,
                            lease_s=settings.webhook_timeout_s + settings.webhook_lease_margin_s)
    worker = DeliveryWorker(dispatcher, settings, runtime.registry, destinations,
                            runtime.tracer.get_tracer("coachline_notifications"))
    runtime.add_lifecycle(worker.start, worker.stop)
    email_policy = RetryPolicy(settings.email_max_attempts, settings.webhook_retry_base_s, settings.webhook_retry_max_s)
    postman = Postman(pool, runtime.enqueue, email_policy,
                      batch_size=settings.webhook_batch_size, lease_s=settings.smtp_timeout_s * 2 + LEASE_MARGIN_S,
                      now=clock)
    mail_worker = EmailWorker(postman, SmtpMailer(settings), settings, runtime.registry)
    runtime.add_lifecycle(mail_worker.start, mail_worker.stop)
    return create_service_app(
        runtime,
        title="Coachline notifications",
        description="Webhook subscriptions and signed delivery (Standard Webhooks); notification rules, e-mail, "
                    "daily digests and wallboard banners.",
        routers=[api.router(runtime, settings, destinations), api_rules.router(runtime, clock)],
        migrations=MIGRATIONS,
    )
