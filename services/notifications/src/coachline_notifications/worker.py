"""The background tasks that deliver due webhooks and e-mails."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from prometheus_client import CollectorRegistry, Counter, Histogram

from coachline_notifications.domain.deliveries import AttemptResult, Delivery, Outcome
from coachline_notifications.mailer import SmtpMailer
from coachline_notifications.service import Dispatcher, Postman
from coachline_notifications.settings import Settings
from coachline_notifications.webhooks import Destinations, WebhookSender

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(self, dispatcher: Dispatcher, settings: Settings, registry: CollectorRegistry,
                 destinations: Destinations, tracer: Tracer) -> None:
        self.dispatcher = dispatcher
        self.tracer = tracer
        self.destinations = destinations
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
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        # Independent lanes, each claiming its own rounds: a receiver that hangs until the timeout holds
        # up only its lane's round, not every delivery of the replica.
        self._tasks = [asyncio.create_task(self._run(), name=f"webhook-delivery-{lane}")
                       for lane in range(self.settings.webhook_lanes)]

    async def stop(self) -> None:
        # An attempt cut short here stays claimed until its lease ends, then is made again.
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        settings = self.settings
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            limits=httpx.Limits(max_connections=settings.webhook_batch_size),
            follow_redirects=False,
        ) as client:
            sender = WebhookSender(client, settings.webhook_timeout_s, self.destinations)

            async def traced_send(delivery: Delivery) -> AttemptResult:
                # Ids go on spans, never on metric labels. Each attempt continues the trace of the event
                # that queued the delivery.
                with self.tracer.start_as_current_span("webhook delivery", context=propagate.extract(delivery.trace),
                                                       kind=SpanKind.CLIENT) as span:
                    span.set_attribute("coachline.tenant_id", delivery.tenant_id)
                    span.set_attribute("coachline.subscription_id", str(delivery.subscription_id))
                    span.set_attribute("coachline.delivery_id", str(delivery.id))
                    span.set_attribute("coachline.event_id", delivery.event_id)
                    span.set_attribute("coachline.attempt", delivery.attempt_number)
                    result = await sender.send(delivery)
                    if result.status_code is not None:
                        span.set_attribute("http.response.status_code", result.status_code)
                    if not result.ok:
                        span.set_status(StatusCode.ERROR, result.detail)
                    return result

            while True:
                try:
                    outcomes = await self.dispatcher.run_once(traced_send)
                except Exception:
                    log.exception("webhook delivery round failed; trying again")
                    outcomes = []
                for outcome, result in outcomes:
                    self.deliveries.labels(outcome.value).inc()
                    if result is not None:
                        self.duration.observe(result.latency_s)
                if len(outcomes) < settings.webhook_batch_size:
                    await asyncio.sleep(settings.webhook_poll_interval_s)


class EmailWorker:
    """Composes due daily digests and sends due e-mails, on every replica (SKIP LOCKED keeps them apart)."""

    def __init__(self, postman: Postman, mailer: SmtpMailer, settings: Settings, registry: CollectorRegistry) -> None:
        self.postman = postman
        self.mailer = mailer
        self.settings = settings
        self.emails = Counter(
            "coachline_notifications_emails",
            "E-mail attempts by outcome: delivered (the SMTP server took it), retry, failed (gave up).",
            ["outcome"],
            registry=registry,
        )
        for outcome in Outcome:
            self.emails.labels(outcome.value)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="email-delivery")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            outcomes: list[Outcome] = []
            try:
                await self.postman.compose_digests()
                outcomes = await self.postman.send_due(self.mailer.send)
            except Exception:
                log.exception("e-mail round failed; trying again")
            for outcome in outcomes:
                self.emails.labels(outcome.value).inc()
            if len(outcomes) < self.postman.batch_size:
                await asyncio.sleep(self.settings.email_poll_interval_s)
