"""Kafka wiring: the broker factory, subscribers that ack after their work, and dead letters.

Rules every service follows (and ``check_wiring`` enforces at start-up and in tests):
- the producer is idempotent, hence ``acks=all``;
- a subscriber with side effects never acks before its handler returns (no ``ACK_FIRST``);
- a message that cannot be decoded, or whose handler keeps failing for a reason other than an
  unavailable dependency, goes to the topic's dead-letter topic with the reason and its original bytes.

Order per key: the key picks the partition, and the producer keeps at most one request per broker in
flight (idempotent, so a retried batch keeps its place), so records sent in a given order are stored
in that order. :class:`BulkPublisher` relies on it to queue many records before awaiting any.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.prometheus.container import MetricsContainer
from faststream.prometheus.manager import MetricsManager
from faststream.prometheus.types import PublishingStatus
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter

from coachline.contracts.registry import TOPICS
from coachline.envelope import CloudEvent, EnvelopeError, decode, header_map
from coachline.settings import ServiceSettings

log = logging.getLogger(__name__)

EventHandler = Callable[[CloudEvent], Awaitable[None]]


@dataclass(frozen=True)
class Delivery:
    """A decoded event and the record it was read from."""

    event: CloudEvent
    topic: str
    partition: int
    offset: int


BatchHandler = Callable[[list[Delivery]], Awaitable[None]]

# Failures that mean "try again later", not "this message is bad": the database or broker is away.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.InterfaceError,
)
HANDLER_ATTEMPTS = 3


class WiringError(RuntimeError):
    """The broker breaks one of the delivery rules above."""


def create_broker(settings: ServiceSettings, registry: CollectorRegistry, tracer: TracerProvider) -> KafkaBroker:
    """A broker with an idempotent producer and the OTel and Prometheus middlewares."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"coachline-{settings.service_name}",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        # Per partition: a request of many records (intake's batches) fills few produce requests.
        max_batch_size=256 * 1024,
        middlewares=(
            KafkaTelemetryMiddleware(tracer_provider=tracer),
            KafkaPrometheusMiddleware(
                registry=registry, app_name=settings.service_name, metrics_prefix=f"coachline_{settings.service_name}"
            ),
        ),
        logger=None,
    )


@dataclass
class DeadLetters:
    """Publishes messages that cannot be handled to the dead-letter topic, untouched, with the reason."""

    broker: KafkaBroker
    settings: ServiceSettings
    counter: Counter

    async def send(self, msg: KafkaMessage, source_topic: str, reason: str) -> None:
        await self.send_record(msg.raw_message, msg.body, source_topic, reason)

    async def send_record(self, record: Any, body: bytes, source_topic: str, reason: str) -> None:
        """Dead-letter one Kafka record (of a single message or of a batch)."""
        registry_name = source_topic.removeprefix(self.settings.topic_prefix)
        topic = TOPICS[registry_name]
        if topic.dead_letter is None:
            raise WiringError(f"{registry_name} has no dead-letter topic")
        original = {k: v.decode(errors="backslashreplace") for k, v in getattr(record, "headers", ()) or ()}
        headers = {
            **original,
            "dlq_reason": reason[:1000],
            "dlq_topic": source_topic,
            "dlq_partition": str(getattr(record, "partition", "")),
            "dlq_offset": str(getattr(record, "offset", "")),
            "dlq_consumer_group": self.settings.consumer_group,
        }
        await self.broker.publish(
            body,
            topic=self.settings.topic_name(topic.dead_letter),
            key=getattr(record, "key", None),
            headers=headers,
        )
        self.counter.labels(topic=registry_name).inc()
        log.warning("dead-lettered a message from %s: %s", source_topic, reason)


def dead_letter_counter(settings: ServiceSettings, registry: CollectorRegistry) -> Counter:
    return Counter(
        f"coachline_{settings.service_name}_dead_lettered_messages",
        "Messages sent to a dead-letter topic.",
        ["topic"],
        registry=registry,
    )


def subscribe(
    broker: KafkaBroker,
    settings: ServiceSettings,
    dead_letters: DeadLetters,
    topic: str,
    handler: EventHandler,
    *,
    title: str,
    description: str,
) -> None:
    """Register ``handler`` for every valid event on ``topic`` (a registry name).

    The offset is committed only after the handler returns. A message that is not a valid event is
    dead-lettered. A handler failure is retried; transient failures (database or broker away) are
    retried until they pass, others go to the dead-letter topic after ``HANDLER_ATTEMPTS``.
    """
    physical = settings.topic_name(topic)

    async def on_message(msg: KafkaMessage) -> None:
        try:
            event = decode(header_map(getattr(msg.raw_message, "headers", None) or ()), msg.body,
                           expected_topic=topic)
        except EnvelopeError as exc:
            await dead_letters.send(msg, physical, f"undecodable: {exc.reason}")
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                await handler(event)
                return
            except TRANSIENT_ERRORS:
                log.exception("transient failure handling %s, retrying", event.id)
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
            except Exception as exc:
                if attempt >= HANDLER_ATTEMPTS:
                    log.exception("handler failed for %s after %d attempts", event.id, attempt)
                    await dead_letters.send(msg, physical, f"handler failed: {type(exc).__name__}: {exc}"[:1000])
                    return
                await asyncio.sleep(0.1 * attempt)

    broker.subscriber(
        physical,
        group_id=settings.consumer_group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        title=title,
        description=description,
    )(on_message)


async def _handle(handler: Callable[[], Awaitable[None]], what: str) -> Exception | None:
    """Run ``handler`` with the retry rules of :func:`subscribe`; returns the error that made it give up."""
    attempt = 0
    while True:
        attempt += 1
        try:
            await handler()
            return None
        except TRANSIENT_ERRORS:
            log.exception("transient failure handling %s, retrying", what)
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        except Exception as exc:
            if attempt >= HANDLER_ATTEMPTS:
                log.exception("handler failed for %s after %d attempts", what, attempt)
                return exc
            await asyncio.sleep(0.1 * attempt)


def subscribe_batch(
    broker: KafkaBroker,
    settings: ServiceSettings,
    dead_letters: DeadLetters,
    topics: Sequence[str],
    handler: BatchHandler,
    *,
    title: str,
    description: str,
    max_records: int = 500,
    batch_timeout_ms: int = 20,
) -> None:
    """Like :func:`subscribe`, for a handler that takes what the consumer has ready as one list.

    One consumer reads all ``topics`` (registry names), so a process is one member of its consumer
    group however many topics it reads, and starting it costs one rebalance. A batch is what the
    consumer has fetched, up to ``max_records``: it is handed over as soon as any record is there
    (``batch_timeout_ms`` is how long an idle consumer waits), so a busy topic gives large batches and
    a quiet one small, prompt ones. Each event comes with the record it was read from (a
    :class:`Delivery`). Undecodable records are dead-lettered and the rest handled together; the
    offsets are committed after the handler returns. A batch that keeps failing is handled one event
    at a time, so only the event that cannot be handled goes to the dead-letter topic.
    """
    by_physical = {settings.topic_name(topic): topic for topic in topics}

    async def on_batch(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        decoded: list[tuple[Any, Delivery]] = []
        for record in records:
            try:
                event = decode(header_map(record.headers or ()), record.value or b"",
                               expected_topic=by_physical[record.topic])
            except EnvelopeError as exc:
                await dead_letters.send_record(record, record.value or b"", record.topic,
                                               f"undecodable: {exc.reason}")
                continue
            decoded.append((record, Delivery(event, record.topic, record.partition, record.offset)))
        if not decoded or await _handle(lambda: handler([d for _, d in decoded]), f"a batch of {len(decoded)}") is None:
            return
        for record, delivery in decoded:
            failure = await _handle(lambda one=delivery: handler([one]), delivery.event.id)  # type: ignore[misc]
            if failure is not None:
                await dead_letters.send_record(record, record.value or b"", record.topic,
                                               f"handler failed: {type(failure).__name__}: {failure}"[:1000])

    broker.subscriber(
        *by_physical,
        group_id=settings.consumer_group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        decoder=_records_decode_themselves,
        title=title,
        description=description,
    )(on_batch)


async def _records_decode_themselves(_msg: Any) -> None:
    # ``on_batch`` decodes each record against its contract; faststream's own JSON decoding of every
    # body would be thrown away, and costs as much again.
    return None


async def publish_event(broker: KafkaBroker, settings: ServiceSettings, event: CloudEvent) -> None:
    """Publish one event in binary mode to its registered topic, keyed for per-entity order."""
    record = event_record(settings, event)
    await broker.publish(record.body, topic=record.topic, key=record.key, headers=record.headers)


@dataclass(frozen=True)
class OutgoingRecord:
    """One Kafka record to publish: physical topic, key, headers and body."""

    topic: str
    key: bytes
    headers: dict[str, str]
    body: bytes


def event_record(settings: ServiceSettings, event: CloudEvent) -> OutgoingRecord:
    """``event`` as :func:`publish_event` sends it: binary mode, on its registered topic, keyed."""
    return OutgoingRecord(settings.topic_name(event.topic), event.key.encode(), event.headers(), event.body())


class BulkPublisher:
    """Publishes many records at once: they are grouped per partition into record batches handed to the
    producer together, then every acknowledgement is awaited, so a request of hundreds of events costs a
    few produce requests instead of a round trip (and a pass through the middlewares) per record.

    Each key goes to the partition the producer's default partitioner gives it, and a partition's records
    keep the order given. One producer span covers the call and its context travels in every record's
    headers, so consumers continue the trace as they do for :func:`publish_event`. Records are counted in
    the broker's Prometheus family of published messages.
    """

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, registry: CollectorRegistry) -> None:
        self.broker = broker
        container = MetricsContainer(registry, metrics_prefix=f"coachline_{settings.service_name}",
                                     custom_label_names=())
        self._metrics = MetricsManager(container, app_name=settings.service_name)
        self._tracer = trace.get_tracer(__name__)

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Return once Kafka acknowledged every record; raise the first failure otherwise."""
        if not records:
            return
        producer = connected_producer(self.broker)
        with self._tracer.start_as_current_span("kafka publish", kind=trace.SpanKind.PRODUCER, attributes={
                "messaging.system": "kafka", "messaging.batch.message_count": len(records)}):
            # FastStream's batch subscribers (kpi) link to a record's producer span only when the record
            # has a correlation_id; one per call gives such a batch one link to this span.
            carrier: dict[str, str] = {"correlation_id": str(uuid.uuid4())}
            propagate.inject(carrier)
            context = [(name, value.encode()) for name, value in carrier.items()]
            partitions: dict[str, tuple[int, ...]] = {}
            by_partition: dict[tuple[str, int], list[OutgoingRecord]] = {}
            for record in records:
                if record.topic not in partitions:
                    partitions[record.topic] = tuple(await producer.partitions_for(record.topic))
                place = (record.topic, _partition(record.key, partitions[record.topic]))
                by_partition.setdefault(place, []).append(record)
            sent = [(place, chunk, await _send_in_batches(producer, place, chunk, context))
                    for place, chunk in by_partition.items()]
            outcomes = [(place[0], len(chunk), await asyncio.gather(*acks, return_exceptions=True))
                        for place, chunk, acks in sent]
        failures = [o for _, _, results in outcomes for o in results if isinstance(o, BaseException)]
        for topic, count, results in outcomes:
            failed = any(isinstance(o, BaseException) for o in results)
            self._metrics.add_published_message(broker="kafka", destination=topic, amount=count,
                                                status=PublishingStatus.error if failed else PublishingStatus.success)
        if failures:
            raise failures[0]


@functools.lru_cache(maxsize=65536)
def _partition(key: bytes, partitions: tuple[int, ...]) -> int:
    # The placement ``producer.send`` gives a key, remembered: an entity's events come in runs.
    return DefaultPartitioner()(key, list(partitions), list(partitions))  # type: ignore[no-any-return]


async def _send_in_batches(producer: AIOKafkaProducer, place: tuple[str, int], records: list[OutgoingRecord],
                           context: list[tuple[str, bytes]]) -> list[asyncio.Future[Any]]:
    """Queue ``records`` for one partition in as few record batches as fit; the acknowledgements to await."""
    topic, partition = place
    acks = []
    batch = producer.create_batch()
    for record in records:
        headers = [(name, value.encode()) for name, value in record.headers.items()] + context
        if batch.append(timestamp=None, key=record.key, value=record.body, headers=headers) is None:
            # Full: a fresh batch always takes its first record, however large.
            batch.close()
            acks.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            batch.append(timestamp=None, key=record.key, value=record.body, headers=headers)
    batch.close()
    acks.append(await producer.send_batch(batch, topic, partition=partition))
    return acks


def connected_producer(broker: KafkaBroker) -> AIOKafkaProducer:
    """The aiokafka producer under ``broker``; :class:`WiringError` while the broker is not connected."""
    state = getattr(broker.config.producer, "_producer", None)
    producer = getattr(state, "producer", None) if state else None
    if producer is None:
        raise WiringError("the broker has no connected producer")
    return producer  # type: ignore[no-any-return]


def check_wiring(broker: KafkaBroker) -> None:
    """Raise :class:`WiringError` if the running broker breaks a delivery rule."""
    producer = connected_producer(broker)
    if producer._txn_manager is None:
        raise WiringError("the producer is not idempotent (enable_idempotence=False)")
    if producer._sender._acks != -1:
        raise WiringError("the producer does not wait for all in-sync replicas (acks != all)")
    for sub in broker.subscribers:
        if sub.ack_policy is AckPolicy.ACK_FIRST:
            raise WiringError(f"subscriber {sub!r} acks before its handler runs (ACK_FIRST)")


async def ensure_topics(settings: ServiceSettings, names: list[str] | None = None) -> None:
    """Create the registry's topics (with their partitions and configs) if they do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [TOPICS[n] for n in (list(TOPICS) if names is None else names)]
        new = [
            NewTopic(
                settings.topic_name(t.name), t.partitions, settings.kafka_replication_factor, topic_configs=t.config()
            )
            for t in wanted
            if settings.topic_name(t.name) not in existing
        ]
        if new:
            # Another service may create the same topics at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()
