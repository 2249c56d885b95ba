"""Evaluation in-process against real Kafka and PostgreSQL: the sampling pool, submitted evaluations, the outbox."""

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.interactions import InteractionAnswered, InteractionOffered, InteractionWrappedUp
from coachline.envelope import CloudEvent, decode, header_map, new_event
from coachline.testing import eventually
from coachline_evaluation.app import create_app
from coachline_evaluation.settings import Settings

pytestmark = pytest.mark.integration

OCCURRED = datetime(2026, 11, 23, 9, 6, 40, tzinfo=UTC)


def completed(interaction: str = "c-1001", agent: str = "a-17", tenant: str = "acme",
              talk_s: str = "310") -> CloudEvent:
    data = InteractionWrappedUp(interaction_id=interaction, queue_id="billing", channel="voice", agent_id=agent,
                                team_id="t-north", occurred_at=OCCURRED, talk_s=Decimal(talk_s),
                                hold_s=Decimal("25"), after_contact_work_s=Decimal("45"))
    return new_event("cc.interaction.wrapped-up.v1", tenant, data, source="test")


async def publish(service_env: dict[str, str], *events: CloudEvent) -> None:
    """Publish as intake does: binary-mode CloudEvents, keyed for per-interaction order."""
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"], enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                service_env["COACHLINE_TOPIC_PREFIX"] + event.topic, event.body(), key=event.key.encode(),
                headers=[(k, v.encode()) for k, v in event.headers().items()],
            )
    finally:
        await producer.stop()


async def pool_of(client: httpx.AsyncClient, tenant: str = "acme", **params: str) -> list[dict[str, Any]]:
    answer = await client.get("/v1/sampling-pool", params={"tenant_id": tenant, **params})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def counted(client: httpx.AsyncClient, sample: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


async def test_a_completed_interaction_is_evaluated_and_the_evaluation_published(
    settings_for, run_app, service_env, topic_reader
) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    offered = new_event("cc.interaction.offered.v1", "acme", InteractionOffered(
        interaction_id="c-1001", queue_id="billing", channel="voice", occurred_at=OCCURRED), source="test")
    answered = new_event("cc.interaction.answered.v1", "acme", InteractionAnswered(
        interaction_id="c-1001", queue_id="billing", channel="voice", agent_id="a-17", occurred_at=OCCURRED,
        queue_wait_s=Decimal(12)), source="test")
    await publish(service_env, offered, answered, completed(), completed("c-2", agent="a-20"))

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        pool = await eventually(lambda: pool_of(client, agent_id="a-17"), timeout=60)
        assert pool == [{
            "tenant_id": "acme", "interaction_id": "c-1001", "agent_id": "a-17", "team_id": "t-north",
            "queue_id": "billing", "channel": "voice", "completed_at": "2026-11-23T09:06:40Z", "talk_s": "310.000",
            "hold_s": "25.000", "after_contact_work_s": "45.000", "transferred": False, "handle_s": "380.000",
        }]
        # Offered and answered share c-1001's partition and came first, so they are handled by now.
        ignored = 'coachline_evaluation_interaction_events_total{outcome="ignored"}'
        assert await counted(client, ignored) == 2
        assert await pool_of(client, tenant="other") == []

        posted = await client.post("/v1/evaluations", json={
            "tenant_id": "acme", "interaction_id": "c-1001", "evaluator_id": "q-2", "scorecard_id": "sc-voice",
            "scorecard_version": 3, "score": "87.5", "critical_failed": False})
        assert posted.status_code == 201, posted.text
        evaluation = posted.json()
        assert (evaluation["agent_id"], evaluation["score"]) == ("a-17", "87.50")
        assert (await client.get(posted.headers["location"])).json() == evaluation

        elsewhere = await client.post("/v1/evaluations", json={
            "tenant_id": "other", "interaction_id": "c-1001", "evaluator_id": "q-2", "scorecard_id": "sc-voice",
            "scorecard_version": 3, "score": 50, "critical_failed": True})
        assert elsewhere.status_code == 404
        assert elsewhere.headers["content-type"] == "application/problem+json"

    reader = await topic_reader("qa.evaluations.v1")
    [record] = await reader.records(1)
    event = decode(header_map(record.headers), record.value)
    assert record.key == b"acme:a-17"
    assert (event.type, event.tenant_id, event.source) == ("qa.evaluation.submitted.v1", "acme",
                                                          "coachline/evaluation")
    assert event.data.model_dump(mode="json") == {
        "evaluation_id": evaluation["evaluation_id"], "interaction_id": "c-1001", "agent_id": "a-17",
        "evaluator_id": "q-2", "scorecard_id": "sc-voice", "scorecard_version": 3, "score": "87.50",
        "critical_failed": False, "submitted_at": evaluation["submitted_at"],
    }


async def test_a_redelivered_interaction_changes_nothing(settings_for, run_app, service_env) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    first = completed(talk_s="310")
    # The same event id with different content: only the inbox, not an idempotent write, can drop it.
    redelivered = dataclasses.replace(first, data=completed(talk_s="999").data)

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await publish(service_env, first)
        [entry] = await eventually(lambda: pool_of(client), timeout=60)
        await publish(service_env, redelivered)
        duplicates = 'coachline_evaluation_interaction_events_total{outcome="duplicate"}'
        assert await eventually(lambda: counted(client, duplicates)) == 1

        assert await pool_of(client) == [entry]
        assert entry["talk_s"] == "310.000"
        assert await counted(client, 'coachline_evaluation_interaction_events_total{outcome="added"}') == 1


@pytest.fixture
async def evaluation_url(settings_for, run_app, service_env) -> str:
    url = await run_app(create_app(settings_for(Settings)))
    await publish(service_env, completed())
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await eventually(lambda: pool_of(client), timeout=60)
    return url


VALID = {"tenant_id": "acme", "interaction_id": "c-1001", "evaluator_id": "q-2", "scorecard_id": "sc-voice",
         "scorecard_version": 3, "score": 87.5, "critical_failed": False}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Valid fields mixed with arbitrary ones, so many requests reach PostgreSQL rather than stop at validation.
near_valid = st.builds(
    lambda fields, extra: {**{k: v for k, v in fields.items() if v is not ...}, **extra},
    st.fixed_dictionaries({k: st.just(v) | json_values | st.just(...) for k, v in VALID.items()}),
    st.dictionaries(st.text(max_size=12), json_values, max_size=1),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=near_valid | json_values)
async def test_any_submission_gets_a_created_evaluation_or_a_problem_never_a_server_error(
    evaluation_url: str, body: Any
) -> None:
    async with httpx.AsyncClient(base_url=evaluation_url, timeout=30) as client:
        answer = await client.post("/v1/evaluations", content=json.dumps(body).encode(),
                                   headers={"content-type": "application/json"})
    assert answer.status_code in (201, 404, 409, 422), answer.text
    if answer.status_code != 201:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == answer.status_code
