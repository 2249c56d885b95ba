"""No raw customer identifier leaves intake, across the whole running stack.

Every platform's sample corpus (phone numbers in E.164, national and ``tel:``/``sip:`` spellings,
e-mail addresses) is posted to intake, with a bad line and raw-topic messages carrying numbers too.
Once every service has consumed everything, every topic of the run (but the platforms' own raw
topics) and every service's log is searched: no number or address appears, and the customers'
pseudonyms do.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from coachline.signing import new_secret, signature_headers
from coachline.testing import eventually
from coachline_intake.cli import media_for
from coachline_intake.service import context_for
from coachline_intake.settings import Settings as IntakeSettings

from .conftest import SERVICES

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).parents[2] / "services/intake/tests/corpus"
# (source, corpus file, media type) of every platform's sample corpus.
SAMPLES = [(source, sample, media_for(source, CORPUS / sample, None))
           for sample, source in json.loads((CORPUS / "corpora.json").read_text()).items()]
SECRET = new_secret()
# The corpora's customers in every spelling they use, and the numbers this test adds.
RAW_IDENTIFIERS = re.compile(r"401234567|40 ?123 ?4567|507654321|50 ?765 ?4321|401112223|501112223|9998887|"
                             r"44 ?1234 ?567 ?890|@example\.fi|@example\.com")


@pytest.fixture
def stack_env() -> dict[str, str]:
    # Every source signed for the tenant; DEBUG so that anything a service might log is in the scan.
    return {"INTAKE_SOURCE_SECRETS": json.dumps({"acme": {source: [SECRET] for source, _, _ in SAMPLES}}),
            "COACHLINE_LOG_LEVEL": "DEBUG"}


def signed(body: bytes, content_type: str) -> dict[str, str]:
    return {"content-type": content_type, "coachline-tenant": "acme",
            **signature_headers(SECRET, f"privacy-{uuid.uuid4()}", body)}


async def committed(bootstrap: str, groups: list[str]) -> tuple[dict[TopicPartition, int], int]:
    """The services' committed offsets, and how many records they have not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        offsets: dict[TopicPartition, int] = {}
        for group in groups:
            offsets |= {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
        ends = await consumer.end_offsets(list(offsets)) if offsets else {}
        return offsets, sum(max(0, ends[tp] - offset) for tp, offset in offsets.items())
    finally:
        await consumer.stop()
        await admin.close()


async def everything_under(bootstrap: str, prefix: str) -> list[Any]:
    """Every record of every topic of this run, but the raw topics where platforms write their own input."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix) and ".raw." not in t]
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        unread = {tp for tp, end in ends.items() if end > 0}
        while unread:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            unread = {tp for tp in unread if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()


async def test_no_raw_phone_number_or_email_reaches_a_topic_or_a_log(stack, service_env, isolation, identity,
                                                                     tmp_path) -> None:
    intake, bootstrap = stack["intake"], service_env["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = service_env["COACHLINE_TOPIC_PREFIX"]
    async with httpx.AsyncClient(timeout=60) as client:
        for source, sample, content_type in SAMPLES:
            body = (CORPUS / sample).read_bytes()
            answer = await client.post(f"{intake}/v1/sources/{source}/events", content=body,
                                       headers=signed(body, content_type))
            assert answer.status_code == 202, (sample, answer.text)
        bad = b"1795424400|c-p1|billing|NONE|ENTERQUEUE||+44 1234 567890|1\n1795424400|c-p2|billing|NONE|NOPE|" \
              b"0401234567 or maija@example.com\n"
        mixed = await client.post(f"{intake}/v1/sources/asterisk/events", content=bad,
                                  headers=signed(bad, "text/plain"))
        assert [line["status"] for line in mixed.json()["lines"]] == ["accepted", "rejected"], mixed.text

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for line in (b"1795424400|c-p3|billing|NONE|ENTERQUEUE||sip:+358507654321@pbx.example.com|1",
                     b"1795424400|c-p4|billing|NONE|NOPE|050 765 4321"):
            await producer.send_and_wait(f"{prefix}cc.raw.asterisk.v1", line, headers=[("coachline-tenant", b"acme")])
    finally:
        await producer.stop()

    # Wait until the stack has done everything it will with these: figures exist, no consumer lags.
    async with httpx.AsyncClient(timeout=30) as client:
        async def figures() -> bool:
            answer = await client.get(f"{stack['kpi']}/v1/kpis", params={"scope": "queue", "window": "day:2026-11-23"},
                                      headers=identity.headers("acme", "service_manager"))
            return answer.status_code == 200 and bool(answer.json()["items"])

        await eventually(figures, timeout=120)
    # Caught up twice in a row with nothing moving in between: every consumer has seen everything.
    groups, seen = [f"{name}-{isolation}" for name in SERVICES], []

    async def settled() -> bool:
        offsets, behind = await committed(bootstrap, groups)
        seen.append(offsets if not behind else None)
        return len(seen) > 1 and seen[-1] is not None and seen[-1] == seen[-2]

    await eventually(settled, timeout=120, interval=1.0)

    records = await everything_under(bootstrap, prefix)
    texts = [(r.topic, (r.key or b"").decode(errors="replace") + (r.value or b"").decode(errors="replace")
              + json.dumps({k: v.decode(errors="replace") for k, v in r.headers})) for r in records]
    assert {t for t, _ in texts} >= {f"{prefix}cc.interactions.v1", f"{prefix}cc.intake.dlq.v1"}
    for topic, text in texts:
        assert not RAW_IDENTIFIERS.search(text), (topic, text[:400])
    pseudonymise = context_for(IntakeSettings(), "acme").pseudonymise
    everything = "\n".join(text for _, text in texts)
    for customer in ("+358401234567", "maija.meikalainen@example.fi", "+358507654321"):
        assert pseudonymise(customer) in everything, customer

    for name in SERVICES:
        log = (tmp_path / f"{name}.log").read_text(errors="replace")
        assert log, f"{name} logged nothing"
        leaked = RAW_IDENTIFIERS.search(log)
        assert leaked is None, (name, log[max(0, leaked.start() - 300):leaked.end() + 100])

