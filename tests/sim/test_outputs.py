"""The simulator's outputs against the real thing: signed NDJSON batches through intake, and Kafka."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from coachline.signing import new_secret
from coachline.sim import simulate, standard_centre
from coachline.sim.output import HttpSink, IntakeRejected, KafkaSink, ensure_topics, play
from coachline_intake.app import create_app as create_intake
from coachline_intake.settings import Settings as IntakeSettings

pytestmark = pytest.mark.integration
SECRET = new_secret()


def an_hour() -> Any:
    return simulate(standard_centre(agents=6), datetime(2026, 11, 23, 9, tzinfo=UTC), 1 / 24, 5)


async def test_signed_batches_through_intake_arrive_as_canonical_events(settings_for, run_app, topic_reader) -> None:
    out = an_hour()
    intake = await run_app(create_intake(settings_for(IntakeSettings, source_secrets={"demo": {"generic": [SECRET]}})))
    sink = HttpSink(intake, SECRET)
    try:
        assert await play(out.events, sink, speed=None, batch_size=97) == len(out.events)
    finally:
        await sink.close()
    expected = Counter(e.type for e in out.events)
    got: Counter[str] = Counter()
    for topic in sorted({e.topic for e in out.events}):
        on_topic = sum(1 for e in out.events if e.topic == topic)
        got.update(e.type for e in await (await topic_reader(topic)).events(on_topic))
    assert got == expected


async def test_an_unsigned_batch_is_refused_not_dropped(settings_for, run_app) -> None:
    intake = await run_app(create_intake(settings_for(IntakeSettings, source_secrets={"demo": {"generic": [SECRET]}})))
    sink = HttpSink(intake, secret=None)
    try:
        with pytest.raises(IntakeRejected, match="401"):
            await sink.send(an_hour().events[:10])
    finally:
        await sink.close()


async def test_straight_to_kafka_the_events_decode_with_stable_ids(service_env, topic_reader) -> None:
    out = an_hour()
    prefix = service_env["COACHLINE_TOPIC_PREFIX"]
    await ensure_topics(service_env["KAFKA_BOOTSTRAP_SERVERS"], prefix, {e.topic for e in out.events})
    sink = KafkaSink(service_env["KAFKA_BOOTSTRAP_SERVERS"], prefix)
    await sink.start()
    try:
        await play(out.events, sink, speed=None)
    finally:
        await sink.close()
    interactions = [e for e in out.events if e.topic == "cc.interactions.v1"]
    read = await (await topic_reader("cc.interactions.v1")).events(len(interactions))
    assert sorted(e.id for e in read) == sorted(e.event_id for e in interactions)
    assert {e.tenant_id for e in read} == {"demo"}
