"""Messages the KPI projection cannot use go to the dead-letter topic with the reason; the rest of
their batch is still folded, exactly once."""

from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from coachline.persistence import create_pool
from coachline.testing import eventually
from coachline_kpi.app import create_app
from coachline_kpi.repository import counters
from coachline_kpi.settings import Settings
from services.kpi.tests.kpi_events import event

pytestmark = pytest.mark.integration
BAD = [
    ([("ce_specversion", b"0.3")], b"{}"),
    ([("ce_specversion", b"1.0"), ("ce_type", b"cc.interaction.offered.v1"), ("ce_id", b"x-1"),
      ("ce_time", b"2026-11-23T09:00:00Z"), ("ce_source", b"x"), ("ce_tenantid", b"acme")], b'{"interaction_id": 5}'),
    ([("ce_specversion", b"1.0"), ("ce_type", b"cc.survey.answered.v1"), ("ce_id", b"x-2"),
      ("ce_time", b"2026-11-23T09:00:00Z"), ("ce_source", b"x"), ("ce_tenantid", b"acme")], b"\xff\x00"),
]


@pytest.fixture
async def projection(settings_for, run_app, service_env):
    kpi_settings = settings_for(Settings)
    await run_app(create_app(kpi_settings))
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    pool = await create_pool(kpi_settings.database_url, kpi_settings.db_schema)
    yield producer, pool, service_env["COACHLINE_TOPIC_PREFIX"]
    await pool.close()
    await producer.stop()


async def test_bad_messages_are_dead_lettered_and_their_neighbours_fold_once(projection, topic_reader) -> None:
    producer, pool, prefix = projection
    good = [event("cc.interaction.offered.v1", "acme", {"interaction_id": f"c-{n}", "queue_id": "dlq-test",
                                                        "channel": "voice",
                                                        "occurred_at": datetime(2026, 11, 23, 9, tzinfo=UTC)},
                  f"good-{n}") for n in range(3)]
    sent = [(g.body(), [(k, v.encode()) for k, v in g.headers().items()]) for g in good]
    # Bad messages between good ones, and every good one twice: one batch must fold each once.
    bad = [(body, headers) for headers, body in BAD]
    mixed = [sent[0], bad[0], sent[1], bad[1], sent[0], bad[2], sent[2], sent[1]]
    for value, headers in mixed:
        await producer.send(prefix + "cc.interactions.v1", value, key=b"acme:one-partition", headers=headers)
    await producer.flush()

    async def offered() -> bool:
        raw = await pool.fetchval("SELECT sums FROM kpi_sums WHERE tenant_id = 'acme' AND scope = 'queue' "
                                  "AND scope_id = 'dlq-test' AND window_key = 'day:2026-11-23'")
        return raw is not None and counters(raw).get("offered") == 3

    await eventually(offered, timeout=90)
    records = await (await topic_reader("cc.interactions.dlq.v1")).records(3)
    reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in records)
    assert len(records) == 3 and all(r.startswith("undecodable: ") for r in reasons), reasons
    assert any("does not belong on" in r for r in reasons)
