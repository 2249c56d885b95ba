"""The shared wiring against real Kafka and PostgreSQL: migrations, inbox, outbox relay, dead letters."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from opentelemetry import trace

from coachline.contracts.interactions import InteractionOffered
from coachline.envelope import CloudEvent, new_event
from coachline.messaging import WiringError, check_wiring, ensure_topics
from coachline.observability import tracer_provider
from coachline.persistence import PLATFORM_MIGRATIONS, OutboxRelay, add_to_outbox, create_pool, first_delivery, migrate
from coachline.runtime import Runtime
from coachline.settings import ServiceSettings
from coachline.testing import eventually

pytestmark = pytest.mark.integration


class ProbeSettings(ServiceSettings):
    service_name: str = "probe"


def offered(i: int) -> CloudEvent:
    payload = InteractionOffered(interaction_id=f"c-{i}", queue_id="billing", channel="voice",
                                 occurred_at=datetime(2026, 11, 23, 9, tzinfo=UTC))
    return new_event("cc.interaction.offered.v1", "acme", payload, source="test")


async def test_concurrent_replicas_apply_each_migration_once(settings_for, tmp_path: Path) -> None:
    settings = settings_for(ProbeSettings)
    (tmp_path / "001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    pools = [await create_pool(settings.database_url, settings.db_schema) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(migrate(p, settings.db_schema, tmp_path) for p in pools))
        # The platform's own migrations come first, then the service's one file.
        expected = len(list(PLATFORM_MIGRATIONS.glob("*.sql"))) + 1
        assert sorted(len(a) for a in applied) == [0, 0, expected]
        assert await pools[0].fetchval("SELECT count(*) FROM schema_migrations") == expected
    finally:
        for p in pools:
            await p.close()


async def test_the_inbox_admits_an_event_once_and_only_with_its_transaction(settings_for) -> None:
    settings = settings_for(ProbeSettings)
    pool = await create_pool(settings.database_url, settings.db_schema)
    try:
        await migrate(pool, settings.db_schema, None)
        async with pool.acquire() as conn:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    assert await first_delivery(conn, "c", "e-1")
                    raise RuntimeError("the effect failed")
            async with conn.transaction():
                assert await first_delivery(conn, "c", "e-1")  # the rolled-back record left no trace
            async with conn.transaction():
                assert not await first_delivery(conn, "c", "e-1")
    finally:
        await pool.close()


async def test_the_outbox_relay_publishes_in_order_and_restores_the_trace(settings_for, topic_reader) -> None:
    settings = settings_for(ProbeSettings)
    await ensure_topics(settings, ["cc.interactions.v1"])
    pool = await create_pool(settings.database_url, settings.db_schema)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, enable_idempotence=True)
    await broker.start()
    try:
        await migrate(pool, settings.db_schema, None)
        tracer = tracer_provider("probe").get_tracer("test")
        events = [offered(i % 2) for i in range(6)]
        with tracer.start_as_current_span("request") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            async with pool.acquire() as conn, conn.transaction():
                for event in events:
                    await add_to_outbox(conn, settings.topic_name(event.topic), event)
        published: list[tuple[str, str]] = []

        async def publish(topic: str, key: bytes, headers: dict[str, str], body: bytes) -> None:
            published.append((headers["ce_id"], trace.get_current_span().get_span_context().trace_id))
            await broker.publish(body, topic=topic, key=key, headers=headers)

        relay = OutboxRelay(pool, settings.db_schema, publish)
        assert await relay.relay_once() == 6
        assert await relay.relay_once() == 0
        assert [p[0] for p in published] == [e.id for e in events]
        assert {format(p[1], "032x") for p in published} == {trace_id}
        reader = await topic_reader("cc.interactions.v1")
        got = await reader.events(6)
        by_key: dict[str, list[str]] = {}
        for e in got:
            by_key.setdefault(e.key, []).append(e.id)
        assert by_key == {"acme:c-0": [e.id for e in events[0::2]], "acme:c-1": [e.id for e in events[1::2]]}
    finally:
        await broker.stop()
        await pool.close()


async def test_undecodable_and_failing_messages_reach_the_dead_letter_topic(settings_for, topic_reader) -> None:
    settings = settings_for(ProbeSettings)
    runtime = Runtime(settings, uses_database=False)
    handled: list[str] = []

    async def handler(event: CloudEvent) -> None:
        if event.data.interaction_id == "c-13":  # type: ignore[attr-defined]
            raise ValueError("this interaction cannot be handled")
        handled.append(event.id)

    runtime.subscribe("cc.interactions.v1", handler, title="probe", description="probe")
    await runtime.start(None)
    try:
        topic = settings.topic_name("cc.interactions.v1")
        await runtime.broker.publish(b"\xff not json", topic=topic, key=b"k",
                                     headers={"ce_specversion": "1.0", "ce_type": "cc.interaction.offered.v1"})
        bad = offered(13)
        await runtime.publish(bad)
        good = offered(1)
        await runtime.publish(good)
        dead = await (await topic_reader("cc.interactions.dlq.v1")).records(2)
        reasons = {r.value: dict(r.headers)["dlq_reason"].decode() for r in dead}
        assert reasons[b"\xff not json"].startswith("undecodable: missing header ce_time")
        assert reasons[bad.body()].startswith("handler failed: ValueError")
        assert {dict(r.headers)["dlq_topic"].decode() for r in dead} == {topic}
        await eventually(lambda: asyncio.sleep(0, result=good.id in handled))
    finally:
        await runtime.stop()


async def test_wiring_check_refuses_a_producer_without_idempotence(settings_for) -> None:
    settings = settings_for(ProbeSettings)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, enable_idempotence=False)
    await broker.start()
    try:
        with pytest.raises(WiringError, match="not idempotent"):
            check_wiring(broker)
    finally:
        await broker.stop()


async def test_wiring_check_refuses_a_subscriber_that_acks_first(settings_for) -> None:
    settings = settings_for(ProbeSettings)
    await ensure_topics(settings, ["cc.interactions.v1"])
    broker = KafkaBroker(settings.kafka_bootstrap_servers, enable_idempotence=True)
    broker.subscriber(settings.topic_name("cc.interactions.v1"), group_id=settings.consumer_group,
                      ack_policy=AckPolicy.ACK_FIRST)(lambda body: None)
    await broker.start()
    try:
        check_wiring_error = None
        try:
            check_wiring(broker)
        except WiringError as exc:
            check_wiring_error = str(exc)
        assert check_wiring_error is not None and "ACK_FIRST" in check_wiring_error
    finally:
        await broker.stop()


def test_json_headers_survive_the_outbox_round_trip() -> None:
    event = offered(1)
    assert json.loads(json.dumps(event.headers())) == event.headers()
