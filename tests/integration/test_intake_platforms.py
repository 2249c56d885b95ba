"""Intake against real Kafka: every platform's corpus lands on the canonical topics, bad lines on the
dead-letter topic with their reason, re-sending changes nothing, and a repeated webhook-id is not taken
again. (That no raw phone number or e-mail address reaches a topic or a log is checked across the whole
stack in ``tests/e2e/test_intake_privacy.py``.)"""

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from coachline.signing import new_secret, signature_headers
from coachline.testing import eventually
from coachline_intake.app import create_app
from coachline_intake.cli import media_for
from coachline_intake.settings import Settings

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).parents[2] / "services/intake/tests/corpus"
SECRET = new_secret()
# (source, corpus file, media type) of every platform's sample corpus.
SAMPLES = [(source, sample, media_for(source, CORPUS / sample, None))
           for sample, source in json.loads((CORPUS / "corpora.json").read_text()).items()]
TOPICS = ["cc.interactions.v1", "cc.agent-states.v1", "cc.surveys.v1", "cc.roster.v1", "cc.mystery-shops.v1",
          "cc.intake.dlq.v1"]


def signed(body: bytes, content_type: str, msg_id: str | None = None) -> dict[str, str]:
    """A platform's request: each delivery has its own webhook-id unless ``msg_id`` repeats one."""
    return {"content-type": content_type, "coachline-tenant": "acme",
            **signature_headers(SECRET, msg_id or f"m-{uuid.uuid4()}", body)}


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


async def test_platform_corpora_reach_the_canonical_topics_once_in_order(settings_for, run_app,
                                                                         service_env) -> None:
    secrets = {source: [SECRET] for source, _, _ in SAMPLES}
    intake = await run_app(create_app(settings_for(Settings, source_secrets={"acme": secrets}, raw_topics=False)))
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
                assert accepted.setdefault(sample, ids) == ids
            bad = b"1795424400|c-9|billing|NONE|ENTERQUEUE||040 123 4567|1|x|y|z\n1795424400|c-9|billing|NONE|NOPE|" \
                  b"+358401234567\n"
            mixed = await client.post(f"{intake}/v1/sources/asterisk/events", content=bad,
                                      headers=signed(bad, "text/plain"))
            assert mixed.status_code == 202, mixed.text
            assert [line["status"] for line in mixed.json()["lines"]] == ["accepted", "rejected"]

        # A captured request sent again as it was, and a retry of it (same webhook-id, newly signed): not taken.
        body = (CORPUS / "generic.ndjson").read_bytes()
        first = signed(body, "application/x-ndjson", "m-replayed")
        assert (await client.post(f"{intake}/v1/sources/generic/events", content=body, headers=first)).status_code \
            == 202
        for repeat in (first, signed(body, "application/x-ndjson", "m-replayed")):
            again = await client.post(f"{intake}/v1/sources/generic/events", content=body, headers=repeat)
            assert (again.status_code, again.json()["status"]) == (200, "already-taken"), again.text
        # Two copies of one delivery at once: one is taken, the other waits (409) or is told it was taken.
        twice = signed(bad, "text/plain", "m-twice")
        answers = await asyncio.gather(*(client.post(f"{intake}/v1/sources/asterisk/events", content=bad,
                                                     headers=twice) for _ in range(2)))
        assert sorted(a.status_code for a in answers) in ([200, 202], [202, 409]), [a.text for a in answers]

    # Genesys notifications and detail records name the steps both report alike: fewer ids than events.
    expected_ids = {i for sample_ids in accepted.values() for i in sample_ids}
    # Two rounds of every corpus and the mixed lines, the generic corpus once more, the mixed lines once more.
    sent = 2 * (sum(len(ids) for ids in accepted.values()) + 1) + len(accepted["generic.ndjson"]) + 1
    records = await everything_on(service_env, TOPICS, sent + 3)
    canonical = [r for r in records if not r.topic.endswith("cc.intake.dlq.v1")]
    dead = [r for r in records if r.topic.endswith("cc.intake.dlq.v1")]
    ids = [dict(r.headers)["ce_id"].decode() for r in canonical]
    assert len(ids) == sent
    assert len(set(ids)) == len(expected_ids) + 1
    assert expected_ids <= set(ids)
    assert len(dead) == 3
    headers = dict(dead[0].headers)
    assert b"unknown queue_log event" in headers["dlq_reason"]
    assert headers["dlq_source"] == b"asterisk" and headers["dlq_line"] == b"2" and dead[0].key == b"acme:asterisk"
    # A request's events are queued all at once, yet one key's events are stored in the order of the answer.
    stored = {}
    for record in sorted(canonical, key=lambda r: r.offset, reverse=True):
        stored[dict(record.headers)["ce_id"].decode()] = (record.topic, record.key, record.offset)
    counted = Counter(i for sample_ids in accepted.values() for i in sample_ids)
    for sample_ids in accepted.values():
        own = [i for i in sample_ids if counted[i] == 1]  # not also sent by the other Genesys corpus
        for key in {stored[i][:2] for i in own}:
            offsets = [stored[i][2] for i in own if stored[i][:2] == key]
            assert offsets == sorted(offsets), key


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


async def test_without_a_kafka_producer_intake_answers_503(settings_for, run_app,
                                                                              service_env) -> None:
    app = create_app(settings_for(Settings, source_secrets={"acme": {"generic": [SECRET]}}, publish_timeout_s=3,
                                  raw_topics=False))
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

    intake = await run_app(create_app(settings_for(Settings, source_secrets={"acme": {"asterisk": [SECRET]}},
                                                   raw_topics=False)))
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
