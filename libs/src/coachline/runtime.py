"""What a running service holds: settings, telemetry, the broker, the database pool and the outbox relay."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from coachline.contracts.registry import TOPICS
from coachline.envelope import CloudEvent
from coachline.messaging import (
    BatchHandler,
    DeadLetters,
    EventHandler,
    check_wiring,
    create_broker,
    dead_letter_counter,
    ensure_topics,
    publish_event,
    subscribe,
    subscribe_batch,
)
from coachline.observability import metrics_registry, register_database_metrics, tracer_provider
from coachline.persistence import OutboxRelay, add_to_outbox, create_pool, migrate
from coachline.settings import ServiceSettings


class Runtime:
    """Built once per process by ``create_app``; handlers and routes reach infrastructure through it."""

    def __init__(self, settings: ServiceSettings, *, uses_database: bool = True) -> None:
        self.settings = settings
        self.uses_database = uses_database
        self.registry: CollectorRegistry = metrics_registry()
        self.tracer: TracerProvider = tracer_provider(settings.service_name)
        self.broker: KafkaBroker = create_broker(settings, self.registry, self.tracer)
        self.dead_letters = DeadLetters(self.broker, settings, dead_letter_counter(settings, self.registry))
        self._pool: asyncpg.Pool | None = None
        # Registry names of what this service reads and writes: the source of its AsyncAPI document.
        self.consumes: list[str] = []
        self.produces: list[str] = []
        self._relay: OutboxRelay | None = None
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        if uses_database:
            register_database_metrics(self.registry, settings.service_name, lambda: self._pool,
                                      lambda: self._relay.oldest_age_s if self._relay else 0.0)

    def add_lifecycle(self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]) -> None:
        """Run ``start`` once the database and broker are up, and ``stop`` (in reverse order) before they close."""
        self._on_start.append(start)
        self._on_stop.insert(0, stop)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not started")
        return self._pool

    def subscribe(self, topic: str, handler: EventHandler, *, title: str, description: str) -> None:
        """Handle every valid event on ``topic``; see :func:`coachline.messaging.subscribe`."""
        subscribe(self.broker, self.settings, self.dead_letters, topic, handler, title=title, description=description)
        self.consumes.append(topic)

    def subscribe_batch(self, topics: list[str], handler: BatchHandler, *, title: str, description: str,
                        max_records: int = 500) -> None:
        """Handle valid events on ``topics`` in batches; see :func:`coachline.messaging.subscribe_batch`."""
        subscribe_batch(self.broker, self.settings, self.dead_letters, topics, handler, title=title,
                        description=description, max_records=max_records)
        self.consumes.extend(topics)

    def declare_publishers(self, topics: list[str], *, description: str) -> None:
        """Name what this service publishes, so its AsyncAPI document lists it."""
        for name in topics:
            self.produces.append(name)
            self.broker.publisher(self.settings.topic_name(name), title=f"{name}:publish", description=description)

    async def publish(self, event: CloudEvent) -> None:
        """Publish straight to Kafka (for stateless services; others go through :meth:`enqueue`)."""
        await publish_event(self.broker, self.settings, event)

    async def enqueue(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        """Queue ``event`` in the outbox within the caller's transaction."""
        await add_to_outbox(conn, self.settings.topic_name(event.topic), event)

    async def _publish_raw(self, topic: str, key: bytes, headers: dict[str, str], body: bytes) -> None:
        await self.broker.publish(body, topic=topic, key=key, headers=headers)

    def topics(self) -> list[str]:
        """Every topic this service touches: what it reads and writes, and the dead letters of what it reads."""
        dead = [TOPICS[t].dead_letter for t in self.consumes]
        return list(dict.fromkeys([*self.consumes, *self.produces, *(d for d in dead if d)]))

    async def start(self, migrations: Path | None) -> None:
        await ensure_topics(self.settings, self.topics())
        if self.uses_database:
            self._pool = await create_pool(self.settings.database_url, self.settings.db_schema)
            await migrate(self._pool, self.settings.db_schema, migrations)
        await self.broker.start()
        check_wiring(self.broker)
        if self.uses_database:
            self._relay = OutboxRelay(self.pool, self.settings.db_schema, self._publish_raw)
            self._relay.start()
        for start in self._on_start:
            await start()

    async def stop(self) -> None:
        for stop in self._on_stop:
            await stop()
        if self._relay:
            await self._relay.stop()
        await self.broker.stop()
        if self._pool:
            await self._pool.close()

    async def readiness(self) -> dict[str, bool]:
        checks = {"kafka": await self.broker.ping(timeout=2.0)}
        if self.uses_database:
            try:
                async with asyncio.timeout(2.0):
                    checks["postgresql"] = await self.pool.fetchval("SELECT 1") == 1
            except Exception:
                checks["postgresql"] = False
        return checks
