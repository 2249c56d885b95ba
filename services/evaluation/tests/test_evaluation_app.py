"""The app with in-memory storage: HTTP through the real routes and error handlers, Kafka through TestKafkaBroker."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.interactions import InteractionOffered, InteractionWrappedUp
from coachline.envelope import CloudEvent, new_event
from coachline_evaluation.app import create_app
from coachline_evaluation.service import take_interaction
from coachline_evaluation.settings import Settings

from .evaluation_fakes import FakeUnitOfWork

pytestmark = pytest.mark.component

VALID = {
    "tenant_id": "acme", "interaction_id": "c-1001", "evaluator_id": "q-2", "scorecard_id": "sc-voice",
    "scorecard_version": 3, "score": 87.5, "critical_failed": False,
}


def completed(tenant: str = "acme", interaction: str = "c-1001", agent: str = "a-17") -> CloudEvent:
    data = InteractionWrappedUp(
        interaction_id=interaction, queue_id="billing", channel="voice", agent_id=agent,
        occurred_at=datetime(2026, 11, 23, 9, 6, 40, tzinfo=UTC), talk_s=Decimal("310"),
    )
    return new_event("cc.interaction.wrapped-up.v1", tenant, data, source="test")


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
    async with httpx.AsyncClient(transport=transport, base_url="http://evaluation") as client:
        yield client


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_a_completed_interaction_on_the_topic_enters_the_pool(
    app: FastAPI, client: httpx.AsyncClient, uow: FakeUnitOfWork
) -> None:
    offered = new_event("cc.interaction.offered.v1", "acme", InteractionOffered(
        interaction_id="c-1001", queue_id="billing", channel="voice", occurred_at=datetime.now(UTC)), source="test")
    done = completed()

    async with TestKafkaBroker(app.state.runtime.broker) as broker:
        for event in (offered, done, done):
            await broker.publish(event.body(), topic="cc.interactions.v1", key=event.key.encode(),
                                 headers=event.headers())

    assert [(e.tenant_id, e.interaction_id, e.agent_id) for e in uow.state.pool.values()] == [
        ("acme", "c-1001", "a-17")]
    metrics = (await client.get("/metrics")).text
    assert 'coachline_evaluation_interaction_events_total{outcome="added"} 1.0' in metrics
    assert 'coachline_evaluation_interaction_events_total{outcome="duplicate"} 1.0' in metrics
    assert 'coachline_evaluation_interaction_events_total{outcome="ignored"} 1.0' in metrics


async def test_an_evaluation_is_submitted_and_read_back(client: httpx.AsyncClient, uow: FakeUnitOfWork) -> None:
    await take_interaction(uow, completed())

    response = await client.post("/v1/evaluations", json=VALID)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["agent_id"] == "a-17" and body["score"] == "87.50"
    assert response.headers["location"] == f"/v1/evaluations/{body['evaluation_id']}?tenant_id=acme"
    assert (await client.get(response.headers["location"])).json() == body
    assert_problem(await client.get(f"/v1/evaluations/{body['evaluation_id']}?tenant_id=other"), 404)
    [event] = uow.state.outbox
    assert event.data.model_dump(mode="json")["evaluation_id"] == body["evaluation_id"]


async def test_a_tenant_id_with_any_identifier_character_works_in_links(
    client: httpx.AsyncClient, uow: FakeUnitOfWork
) -> None:
    await take_interaction(uow, completed(tenant="acme+eu", agent="north/a-17"))

    posted = await client.post("/v1/evaluations", json={**VALID, "tenant_id": "acme+eu"})
    pool = await client.get("/v1/sampling-pool", params={"tenant_id": "acme+eu", "agent_id": "north/a-17"})

    assert posted.status_code == 201, posted.text
    assert (await client.get(posted.headers["location"])).json()["agent_id"] == "north/a-17"
    assert len(pool.json()["items"]) == 1


async def test_the_sampling_pool_is_listed_per_tenant_and_agent(
    client: httpx.AsyncClient, uow: FakeUnitOfWork
) -> None:
    for event in (completed(agent="a-17"), completed(interaction="c-2", agent="a-20"), completed(tenant="other")):
        await take_interaction(uow, event)

    everyone = (await client.get("/v1/sampling-pool?tenant_id=acme")).json()["items"]
    one_agent = (await client.get("/v1/sampling-pool?tenant_id=acme&agent_id=a-20")).json()["items"]

    assert {e["interaction_id"] for e in everyone} == {"c-1001", "c-2"}
    assert [e["agent_id"] for e in one_agent] == ["a-20"]
    assert one_agent[0]["handle_s"] == "310.000"


async def test_an_interaction_outside_the_pool_is_not_found(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/v1/evaluations", json=VALID), 404)

    assert body["title"] == "Interaction not in the sampling pool"


async def test_a_transferred_interaction_needs_the_agent_named(
    client: httpx.AsyncClient, uow: FakeUnitOfWork
) -> None:
    await take_interaction(uow, completed(agent="a-17"))
    await take_interaction(uow, completed(agent="a-20"))

    body = assert_problem(await client.post("/v1/evaluations", json=VALID), 409)
    named = await client.post("/v1/evaluations", json={**VALID, "agent_id": "a-20"})

    assert body["agent_ids"] == ["a-17", "a-20"]
    assert named.status_code == 201 and named.json()["agent_id"] == "a-20"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/v1/evaluations", {**VALID, "score": 101}),
        ("POST", "/v1/evaluations", {**VALID, "extra": 1}),
        ("POST", "/v1/evaluations", {k: v for k, v in VALID.items() if k != "critical_failed"}),
        ("POST", "/v1/evaluations", [VALID]),
        ("GET", "/v1/sampling-pool", None),
        ("GET", "/v1/sampling-pool?tenant_id=acme&limit=0", None),
        ("GET", "/v1/sampling-pool?tenant_id=acme&limit=501", None),
        ("GET", "/v1/sampling-pool?tenant_id=ac%20me", None),
        ("GET", "/v1/evaluations/e-1", None),
        ("GET", "/v1/evaluations/%20e?tenant_id=acme", None),
    ],
)
async def test_bad_requests_are_refused_as_problems(
    client: httpx.AsyncClient, method: str, url: str, body: Any
) -> None:
    assert_problem(await client.request(method, url, json=body), 422)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b'{"score": NaN}', b"null"])
async def test_a_body_that_is_not_a_json_object_is_refused_as_a_problem(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    response = await client.post("/v1/evaluations", content=raw, headers={"content-type": "application/json"})

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
async def test_any_body_gets_a_created_evaluation_or_a_problem_never_a_server_error(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, body: Any
) -> None:
    await take_interaction(uow, completed())
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    response = await client.post("/v1/evaluations", content=raw, headers={"content-type": "application/json"})

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
    else:
        assert response.status_code == 201
