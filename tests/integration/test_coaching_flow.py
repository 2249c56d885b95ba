"""Coaching in-process against real Kafka and PostgreSQL: evaluations as evidence, recorded sessions, the outbox."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.evaluations import EvaluationSubmitted
from coachline.envelope import CloudEvent, decode, header_map, new_event
from coachline.testing import eventually
from coachline_coaching.app import create_app
from coachline_coaching.settings import Settings

pytestmark = pytest.mark.integration

SUBMITTED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HELD_AT = datetime.now(UTC) - timedelta(hours=1)


def submitted(evaluation_id: str = "e-5", agent: str = "a-17", tenant: str = "acme",
              score: str = "87.5") -> CloudEvent:
    data = EvaluationSubmitted(evaluation_id=evaluation_id, interaction_id="c-1001", agent_id=agent,
                               evaluator_id="q-2", scorecard_id="sc-voice", scorecard_version=3,
                               score=Decimal(score), submitted_at=SUBMITTED_AT)
    return new_event("qa.evaluation.submitted.v1", tenant, data, source="test")


async def publish(service_env: dict[str, str], *events: CloudEvent) -> None:
    """Publish as evaluation's relay does: binary-mode CloudEvents keyed by tenant and agent."""
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


async def evidence_of(client: httpx.AsyncClient, agent: str = "a-17", tenant: str = "acme") -> list[dict[str, Any]]:
    answer = await client.get(f"/v1/agents/{agent}/evaluations", params={"tenant_id": tenant})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def counted(client: httpx.AsyncClient, sample: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def session_request(**changes: Any) -> dict[str, Any]:
    return {"tenant_id": "acme", "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review",
            "planned_on": HELD_AT.date().isoformat(), "held_at": HELD_AT.isoformat(),
            "summary": "Agreed to confirm the customer's next step before closing.", "evaluation_ids": ["e-5"],
            **changes}


async def test_an_evaluation_becomes_evidence_and_a_recorded_session_is_published(
    settings_for, run_app, service_env, topic_reader
) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    await publish(service_env, submitted("e-5"), submitted("e-6", agent="a-20"), submitted("e-7", tenant="other"))

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        evidence = await eventually(lambda: evidence_of(client), timeout=60)
        assert evidence == [{
            "tenant_id": "acme", "evaluation_id": "e-5", "agent_id": "a-17", "interaction_id": "c-1001",
            "evaluator_id": "q-2", "scorecard_id": "sc-voice", "scorecard_version": 3, "score": "87.50",
            "critical_failed": False, "submitted_at": "2026-11-20T10:00:00Z",
        }]
        await eventually(lambda: evidence_of(client, tenant="other"), timeout=60)

        # Evidence from another agent or another tenant cannot be attached to this agent's session.
        refused = await client.post("/v1/sessions", json=session_request(evaluation_ids=["e-5", "e-6", "e-7"]))
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["evaluation_ids"] == ["e-6", "e-7"]

        posted = await client.post("/v1/sessions", json=session_request())
        assert posted.status_code == 201, posted.text
        session = posted.json()
        assert (await client.get(posted.headers["location"])).json() == session
        assert (await client.get(f"/v1/sessions/{session['session_id']}", params={"tenant_id": "other"})
                ).status_code == 404

    reader = await topic_reader("coaching.v1")
    [record] = await reader.records(1)
    event = decode(header_map(record.headers), record.value)
    assert record.key == b"acme:a-17"
    assert (event.type, event.tenant_id, event.subject) == ("coaching.session.recorded.v1", "acme",
                                                           session["session_id"])
    assert event.data.model_dump(mode="json") == {
        "session_id": session["session_id"], "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review",
        "planned_on": HELD_AT.date().isoformat(), "held_at": session["held_at"],
        "summary": "Agreed to confirm the customer's next step before closing.", "evaluation_ids": ["e-5"],
    }


async def test_a_redelivered_evaluation_changes_nothing(settings_for, run_app, service_env) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    first = submitted(score="87.5")
    # The same event id with different content: only the inbox, not an idempotent write, can drop it.
    redelivered = dataclasses.replace(first, data=submitted("e-5", score="12").data)

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await publish(service_env, first)
        [kept] = await eventually(lambda: evidence_of(client), timeout=60)
        await publish(service_env, redelivered)
        duplicates = 'coachline_coaching_evaluation_events_total{outcome="duplicate"}'
        assert await eventually(lambda: counted(client, duplicates)) == 1

        assert await evidence_of(client) == [kept]
        assert kept["score"] == "87.50"


@pytest.fixture
async def coaching_url(settings_for, run_app, service_env) -> str:
    url = await run_app(create_app(settings_for(Settings)))
    await publish(service_env, submitted())
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await eventually(lambda: evidence_of(client), timeout=60)
    return url


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Valid fields mixed with arbitrary ones, so many requests reach PostgreSQL rather than stop at validation.
near_valid = st.builds(
    lambda fields, extra: {**{k: v for k, v in fields.items() if v is not ...}, **extra},
    st.fixed_dictionaries({k: st.just(v) | json_values | st.just(...) for k, v in session_request().items()}),
    st.dictionaries(st.text(max_size=12), json_values, max_size=1),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=near_valid | json_values)
async def test_any_session_request_gets_a_recorded_session_or_a_problem_never_a_server_error(
    coaching_url: str, body: Any
) -> None:
    async with httpx.AsyncClient(base_url=coaching_url, timeout=30) as client:
        answer = await client.post("/v1/sessions", content=json.dumps(body).encode(),
                                   headers={"content-type": "application/json"})
    assert answer.status_code in (201, 422), answer.text
    if answer.status_code != 201:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == answer.status_code
