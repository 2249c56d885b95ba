"""KPI: projections of contact-centre events into figures per scope and window, served live."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from coachline.contracts.kpi import Scope
from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_kpi import api, handlers
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.live import ChangeFeed
from coachline_kpi.service import Projection, Retention, ScopeFigures, Snapshots
from coachline_kpi.settings import Settings
from coachline_kpi.wallboard import routes as wallboard

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


class PrometheusObserver:
    """Team and queue figures as gauges (never a person or a contact as a label), and projection latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.figure = Gauge("coachline_kpi_figure", "Today's figure of a team or queue (ratios 0-1, seconds).",
                            ["tenant", "scope", "scope_id", "kpi"], registry=registry)
        self.latency = Histogram(
            "coachline_kpi_event_to_projection_seconds", "From an event's time to its effect committing.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=registry)
        self.events = Counter("coachline_kpi_folded_events", "Events folded into the projections.",
                              registry=registry)
        self.duplicates = Counter("coachline_kpi_duplicate_events", "Redelivered or re-sent events dropped.",
                                  registry=registry)

    def folded(self, events: Sequence[CloudEvent], duplicates: int) -> None:
        now = datetime.now(UTC)
        self.events.inc(len(events))
        self.duplicates.inc(duplicates)
        for event in events:
            self.latency.observe(max(0.0, (now - event.time).total_seconds()))

    def shown(self, tenant_id: str, shown: ScopeFigures) -> None:
        if shown.scope not in (Scope.TEAM, Scope.QUEUE):
            return
        for kpi, value in shown.figures.items():
            if value is not None:
                self.figure.labels(tenant_id, shown.scope.value, shown.scope_id, kpi).set(float(value))


class LagSampler:
    """Samples each input topic's consumer lag (messages not yet consumed)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lag = Gauge("coachline_kpi_consumer_lag_messages", "Messages on an input topic not yet folded.",
                         ["topic"], registry=runtime.registry)

    async def sample(self) -> None:
        prefix = self.runtime.settings.topic_prefix
        totals: dict[str, int] = {}
        for sub in self.runtime.broker.subscribers:
            consumer = getattr(sub, "consumer", None)
            if consumer is None:
                continue
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is None:
                    continue
                position = await consumer.position(tp)
                topic = tp.topic.removeprefix(prefix)
                totals[topic] = totals.get(topic, 0) + max(0, high - position)
        for topic, lag in totals.items():
            self.lag.labels(topic).set(lag)


class Periodic:
    """Runs ``work`` every ``interval_s`` seconds while the app runs (the first time at start-up); a
    failure is logged and the next run goes ahead."""

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name = name
        self.work = work
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                await self.work()
            except Exception:
                log.warning("%s failed; it runs again in %.0f s", self.name, self.interval_s, exc_info=True)
            await asyncio.sleep(self.interval_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings)
    runtime.declare_publishers(["kpi.snapshots.v1", "kpi.alerts.v1"],
                               description="Current figures of each scope and window; targets crossed.")
    default_policy = TenantPolicy(time_zone=settings.time_zone, min_sample=settings.min_sample)
    observer = PrometheusObserver(runtime.registry)
    projection = Projection(lambda: runtime.pool, default_policy, observer)
    snapshots = Snapshots(lambda: runtime.pool, runtime.enqueue, default_policy, observer)
    retention = Retention(lambda: runtime.pool, timedelta(days=settings.inbox_horizon_days),
                          timedelta(days=settings.quarter_retention_days) if settings.quarter_retention_days else None)
    feed = ChangeFeed(settings.database_url)
    runtime.add_lifecycle(feed.start, feed.stop)
    for task in (Periodic("kpi-consumer-lag", LagSampler(runtime).sample, settings.metrics_interval_s),
                 Periodic("kpi-snapshots", snapshots.publish, settings.snapshot_interval_s),
                 Periodic("kpi-retention", retention.sweep, settings.sweep_interval_s)):
        runtime.add_lifecycle(task.start, task.stop)
    handlers.register(runtime, projection, settings.batch_max_records)
    return create_service_app(
        runtime,
        title="Coachline KPI",
        description="KPI figures per agent, team, queue and tenant, with a live stream for wallboards.",
        routers=[api.router(runtime, settings, feed), wallboard.attach(runtime, settings, feed)],
        migrations=MIGRATIONS,
    )
