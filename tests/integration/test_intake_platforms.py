"""Intake against real Kafka: every platform's corpus lands on the canonical topics, bad lines on the
dead-letter topic with their reason, re-sending changes nothing, and no raw phone number or e-mail
address reaches a topic or a log line."""

import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from coachline.signing import new_secret, signature_headers
from coachline.testing import eventually
from coachline_intake.app import create_app
from coachline_intake.settings import Settings

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).parents[2] / "services/intake/tests/corpus"
SECRET = new_secret()
SAMPLES = [("amazon-connect", "amazon-connect.ndjson", "application/x-ndjson"),
           ("genesys-cloud", "genesys-cloud.json", "application/json"),
           ("twilio-taskrouter", "twilio-taskrouter.ndjson", "application/x-ndjson"),
           ("asterisk", "asterisk.queue_log", "text/plain"),
           ("survey", "survey.ndjson", "application/x-ndjson"),
           ("mystery-shop", "mystery-shop.json", "application/json"),
           ("roster", "roster.ndjson", "application/x-ndjson"),
           ("generic", "generic.ndjson", "application/x-ndjson")]
TOPICS = ["cc.interactions.v1", "cc.agent-states.v1", "cc.surveys.v1", "cc.roster.v1", "cc.mystery-shops.v1",
          "cc.intake.dlq.v1"]
# The corpora's customers in every spelling they use: none may leave intake.
RAW_IDENTIFIERS = re.compile(r"401234567|40 ?123 ?4567|507654321|50 ?765 ?4321|401112223|501112223|9998887|"
                             r"@example\.fi")


def signed(body: bytes, content_type: str) -> dict[str, str]:
    return {"content-type": content_type, "coachline-tenant": "acme", **signature_headers(SECRET, "m-1", body)}


async def everything_on(service_env: dict[str, str], topics: list[str], expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(*(service_env["COACHLINE_TOPIC_PREFIX"] + t for t in topics),
                                bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"],
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[Any] = []
    try:
        async def all_there() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            return len(records) >= expected

        await eventually(all_there, timeout=60)
        extra = await consumer.getmany(timeout_ms=1000)
        records.extend(r for part in extra.values() for r in part)
    finally:
        await consumer.stop()
    return records


async def test_platform_corpora_reach_the_canonical_topics_once_and_nothing_personal_leaks(
        settings_for, run_app, service_env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = {source: [SECRET] for source, _, _ in SAMPLES}
    intake = await run_app(create_app(settings_for(Settings, source_secrets={"acme": secrets})))
    accepted: dict[str, list[str]] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(2):  # the platforms re-send everything: ids repeat, so consumers drop the copies
            for source, sample, content_type in SAMPLES:
                body = (CORPUS / sample).read_bytes()
                answer = await client.post(f"{intake}/v1/sources/{source}/events", content=body,
                                           headers=signed(body, content_type))
                assert answer.status_code == 202, answer.text
                assert answer.json()["rejected"] == 0
                ids = answer.json()["event_ids"]
                assert accepted.setdefault(source, ids) == ids
            bad = b"1795424400|c-9|billing|NONE|ENTERQUEUE||040 123 4567|1|x|y|z\n1795424400|c-9|billing|NONE|NOPE|" \
                  b"+358401234567\n"
            mixed = await client.post(f"{intake}/v1/sources/asterisk/events", content=bad,
                                      headers=signed(bad, "text/plain"))
            assert mixed.status_code == 202, mixed.text
            assert [line["status"] for line in mixed.json()["lines"]] == ["accepted", "rejected"]

    expected_events = sum(len(ids) for ids in accepted.values())
    records = await everything_on(service_env, TOPICS, 2 * (expected_events + 1) + 2)
    canonical = [r for r in records if not r.topic.endswith("cc.intake.dlq.v1")]
    dead = [r for r in records if r.topic.endswith("cc.intake.dlq.v1")]
    ids = [dict(r.headers)["ce_id"].decode() for r in canonical]
    assert len(ids) == 2 * (expected_events + 1)
    assert len(set(ids)) == expected_events + 1
    assert {i for source_ids in accepted.values() for i in source_ids} <= set(ids)
    assert len(dead) == 2
    headers = dict(dead[0].headers)
    assert b"unknown queue_log event" in headers["dlq_reason"]
    assert headers["dlq_source"] == b"asterisk" and headers["dlq_line"] == b"2" and dead[0].key == b"acme:asterisk"

    for record in records:
        text = (record.value or b"").decode() + json.dumps({k: v.decode(errors="replace") for k, v in record.headers})
        assert not RAW_IDENTIFIERS.search(text), (record.topic, text[:300])
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert log_text and not RAW_IDENTIFIERS.search(log_text)


async def test_raw_topics_go_through_the_same_adapters(settings_for, run_app, service_env) -> None:
    from aiokafka import AIOKafkaProducer

    await run_app(create_app(settings_for(Settings)))
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    prefix = service_env["COACHLINE_TOPIC_PREFIX"]
    try:
        lines = (CORPUS / "asterisk.queue_log").read_text().splitlines()
        for line in lines:
            await producer.send_and_wait(f"{prefix}cc.raw.asterisk.v1", line.encode(),
                                         headers=[("coachline-tenant", b"acme")])
        ctr = (CORPUS / "amazon-connect.ndjson").read_text().splitlines()[1]
        await producer.send_and_wait(f"{prefix}cc.raw.amazon-connect.v1", ctr.encode(),
                                     headers=[("coachline-tenant", b"acme")])
        await producer.send_and_wait(f"{prefix}cc.raw.asterisk.v1", b"1795424400|x|billing|NONE|NOPE|0401234567",
                                     headers=[("coachline-tenant", b"acme")])
        await producer.send_and_wait(f"{prefix}cc.raw.asterisk.v1", lines[2].encode())  # no tenant
    finally:
        await producer.stop()
    expected_asterisk = [json.loads(x) for x in (CORPUS / "asterisk.expected.ndjson").read_text().splitlines()]
    expected_connect = [json.loads(x) for x in (CORPUS / "amazon-connect.expected.ndjson").read_text().splitlines()]
    records = await everything_on(service_env, TOPICS, len(expected_asterisk) + 4 + 2)
    ids = {dict(r.headers)["ce_id"].decode() for r in records if not r.topic.endswith("cc.intake.dlq.v1")}
    # The same lines over Kafka give the same events as over HTTP or the CLI.
    assert {e["id"] for e in expected_asterisk} <= ids
    assert {e["id"] for e in expected_connect[1:5]} <= ids
    reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in records if r.topic.endswith("cc.intake.dlq.v1"))
    assert len(reasons) == 2
    assert any("unknown queue_log event" in r for r in reasons) and any("coachline-tenant" in r for r in reasons)
    for record in records:
        assert not RAW_IDENTIFIERS.search((record.value or b"").decode())


async def test_without_a_kafka_producer_intake_answers_503(settings_for, run_app,
                                                                              service_env) -> None:
    app = create_app(settings_for(Settings, source_secrets={"acme": {"generic": [SECRET]}}, publish_timeout_s=3))
    intake = await run_app(app)
    # The broker connection goes away under a running intake (as when Kafka is down).
    await app.state.runtime.broker.stop()
    body = (CORPUS / "generic.ndjson").read_bytes()
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(f"{intake}/v1/sources/generic/events", content=body,
                                   headers=signed(body, "application/x-ndjson"))
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json" and answer.headers["retry-after"]


async def test_the_shipper_posts_a_queue_log_signed(settings_for, run_app, service_env, tmp_path) -> None:
    import asyncio
    import os
    import sys

    intake = await run_app(create_app(settings_for(Settings, source_secrets={"acme": {"asterisk": [SECRET]}})))
    log = tmp_path / "queue_log"
    log.write_bytes((CORPUS / "asterisk.queue_log").read_bytes())
    shipper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from coachline_intake.cli import main; sys.exit(main(sys.argv[1:]))",
        "ship", "--url", intake, "--tenant", "acme", "--from-start", "--once", str(log),
        env={**os.environ, "INTAKE_SHIP_SECRET": SECRET}, stderr=asyncio.subprocess.PIPE)
    _, errors = await asyncio.wait_for(shipper.communicate(), timeout=60)
    assert shipper.returncode == 0, errors.decode()
    expected = [json.loads(x)["id"] for x in (CORPUS / "asterisk.expected.ndjson").read_text().splitlines()]
    records = await everything_on(service_env, ["cc.interactions.v1", "cc.agent-states.v1"], len(expected))
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(expected)
