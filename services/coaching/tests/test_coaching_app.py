"""The app with in-memory storage: HTTP through the real routes and error handlers, Kafka through TestKafkaBroker."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.evaluations import EvaluationSubmitted
from coachline.envelope import CloudEvent, new_event
from coachline_coaching.app import create_app
from coachline_coaching.service import take_evaluation
from coachline_coaching.settings import Settings

from .coaching_fakes import FakeUnitOfWork

pytestmark = pytest.mark.component

HELD_AT = datetime.now(UTC) - timedelta(hours=2)
VALID = {
    "tenant_id": "acme", "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review",
    "planned_on": HELD_AT.date().isoformat(), "held_at": HELD_AT.isoformat().replace("+00:00", "Z"),
    "summary": "Agreed to confirm the next step.", "evaluation_ids": ["e-5"],
}


def submitted(evaluation_id: str = "e-5", tenant: str = "acme", agent: str = "a-17") -> CloudEvent:
    data = EvaluationSubmitted(
        evaluation_id=evaluation_id, interaction_id="c-1001", agent_id=agent, evaluator_id="q-2",
        scorecard_id="sc-voice", scorecard_version=3, score=Decimal("87.5"),
        submitted_at=datetime.now(UTC) - timedelta(days=1),
    )
    return new_event("qa.evaluation.submitted.v1", tenant, data, source="test")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def app(uow: FakeUnitOfWork) -> FastAPI:
    return create_app(Settings(), unit_of_work=uow)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # No lifespan: the in-memory storage needs neither PostgreSQL nor a running broker.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://coaching") as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_an_evaluation_on_the_topic_becomes_evidence_once(
    app: FastAPI, client: httpx.AsyncClient, uow: FakeUnitOfWork
) -> None:
    event = submitted()

    async with TestKafkaBroker(app.state.runtime.broker) as broker:
        for _ in range(2):
            await broker.publish(event.body(), topic="qa.evaluations.v1", key=event.key.encode(),
                                 headers=event.headers())

    listed = (await client.get("/v1/agents/a-17/evaluations?tenant_id=acme")).json()["items"]
    assert [(e["evaluation_id"], e["score"]) for e in listed] == [("e-5", "87.50")]
    metrics = (await client.get("/metrics")).text
    assert 'coachline_coaching_evaluation_events_total{outcome="recorded"} 1.0' in metrics
    assert 'coachline_coaching_evaluation_events_total{outcome="duplicate"} 1.0' in metrics


async def test_a_session_is_recorded_and_read_back(client: httpx.AsyncClient, uow: FakeUnitOfWork) -> None:
    await take_evaluation(uow, submitted())

    response = await client.post("/v1/sessions", json=VALID)

    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in VALID} == VALID
    assert response.headers["location"] == f"/v1/sessions/{body['session_id']}?tenant_id=acme"
    assert (await client.get(response.headers["location"])).json() == body
    assert_problem(await client.get(f"/v1/sessions/{body['session_id']}?tenant_id=other"), 404)
    [event] = uow.state.outbox
    assert event.data.model_dump(mode="json")["session_id"] == body["session_id"]
    assert 'coachline_coaching_sessions_recorded_total{kind="evaluation_review"} 1.0' in (
        await client.get("/metrics")).text


async def test_ids_with_any_identifier_character_work_in_paths_and_links(
    client: httpx.AsyncClient, uow: FakeUnitOfWork
) -> None:
    await take_evaluation(uow, submitted(tenant="acme+eu", agent="north/a-17"))

    listed = await client.get("/v1/agents/north%2Fa-17/evaluations", params={"tenant_id": "acme+eu"})
    posted = await client.post("/v1/sessions", json={**VALID, "tenant_id": "acme+eu", "agent_id": "north/a-17"})

    assert [e["agent_id"] for e in listed.json()["items"]] == ["north/a-17"]
    assert posted.status_code == 201, posted.text
    assert (await client.get(posted.headers["location"])).json()["tenant_id"] == "acme+eu"


async def test_a_session_naming_evaluations_the_agent_does_not_have_is_refused(
    client: httpx.AsyncClient, uow: FakeUnitOfWork
) -> None:
    await take_evaluation(uow, submitted("e-6", agent="a-20"))

    body = assert_problem(await client.post("/v1/sessions", json={**VALID, "evaluation_ids": ["e-6", "e-5"]}), 422)

    assert body["evaluation_ids"] == ["e-6", "e-5"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/v1/sessions", {**VALID, "kind": "pep_talk"}),
        ("POST", "/v1/sessions", {**VALID, "held_at": 0}),
        ("POST", "/v1/sessions", {**VALID, "summary": "a\x00b"}),
        ("POST", "/v1/sessions", {**VALID, "evaluation_ids": ["e-5", "e-5"]}),
        ("POST", "/v1/sessions", {**VALID, "extra": 1}),
        ("POST", "/v1/sessions", [VALID]),
        ("GET", "/v1/agents/a-17/evaluations", None),
        ("GET", "/v1/agents/a-17/evaluations?tenant_id=acme&limit=0", None),
        ("GET", "/v1/agents/a%2017/evaluations?tenant_id=acme", None),
        ("GET", "/v1/sessions/cs-1", None),
    ],
)
async def test_bad_requests_are_refused_as_problems(
    client: httpx.AsyncClient, method: str, url: str, body: Any
) -> None:
    assert_problem(await client.request(method, url, json=body), 422)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"null"])
async def test_a_body_that_is_not_a_json_object_is_refused_as_a_problem(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    response = await client.post("/v1/sessions", content=raw, headers={"content-type": "application/json"})

    assert_problem(response, 422)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Each field valid or arbitrary, sometimes missing, sometimes joined by unknown ones: this gets past
# the first validation error far more often than arbitrary JSON does.
near_valid = st.builds(
    lambda fields, extra: {**{k: v for k, v in fields.items() if v is not ...}, **extra},
    st.fixed_dictionaries({k: st.just(v) | json_values | st.just(...) for k, v in VALID.items()}),
    st.dictionaries(st.text(max_size=12), json_values, max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values | near_valid | st.binary(max_size=64))
async def test_any_body_gets_a_recorded_session_or_a_problem_never_a_server_error(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, body: Any
) -> None:
    await take_evaluation(uow, submitted())
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    response = await client.post("/v1/sessions", content=raw, headers={"content-type": "application/json"})

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
    else:
        assert response.status_code == 201
