"""The background task that delivers due webhooks, on every replica (SKIP LOCKED keeps them apart)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from coachline_notifications.domain.deliveries import AttemptResult, Delivery, Outcome
from coachline_notifications.service import Dispatcher
from coachline_notifications.settings import Settings
from coachline_notifications.webhooks import WebhookSender

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(self, dispatcher: Dispatcher, settings: Settings, registry: CollectorRegistry) -> None:
        self.dispatcher = dispatcher
        self.settings = settings
        self.deliveries = Counter(
            "coachline_notifications_webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered, retry (another attempt is scheduled), failed (gave up).",
            ["outcome"],
            registry=registry,
        )
        for outcome in Outcome:
            self.deliveries.labels(outcome.value)
        self.duration = Histogram(
            "coachline_notifications_webhook_delivery_duration_seconds",
            "Time from sending a webhook attempt to the receiver's answer, or to the failure.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def stop(self) -> None:
        # An attempt cut short here stays claimed until its lease ends, then is made again.
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        settings = self.settings
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            limits=httpx.Limits(max_connections=settings.webhook_batch_size),
            follow_redirects=False,
        ) as client:
            sender = WebhookSender(client, settings.webhook_timeout_s)

            async def timed_send(delivery: Delivery) -> AttemptResult:
                started = time.perf_counter()
                try:
                    return await sender.send(delivery)
                finally:
                    self.duration.observe(time.perf_counter() - started)

            while True:
                try:
                    outcomes = await self.dispatcher.run_once(timed_send)
                except Exception:
                    log.exception("webhook delivery round failed; trying again")
                    outcomes = []
                for outcome in outcomes:
                    self.deliveries.labels(outcome.value).inc()
                if len(outcomes) < settings.webhook_batch_size:
                    await asyncio.sleep(settings.webhook_poll_interval_s)
