"""The subscription API of notifications, served for real (lifespan, PostgreSQL, Kafka) over loopback."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline_notifications.app import create_app
from coachline_notifications.settings import Settings

pytestmark = pytest.mark.integration

VALID = {
    "tenant_id": "acme",
    "url": "https://hr.example/hooks/coaching",
    "event_types": ["coaching.session.recorded.v1"],
}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    return dict(problem)


@pytest.fixture
async def base_url(settings_for: Callable[..., Settings], run_app: Callable[[Any], Awaitable[str]]) -> str:
    return await run_app(create_app(settings_for(Settings)))


async def test_a_subscription_is_registered_read_and_deleted(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        created = await http.post("/v1/subscriptions", json=VALID)
        assert created.status_code == 201, created.text
        body = created.json()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", body["secret"])
        assert created.headers["location"] == f"/v1/subscriptions/{body['id']}"
        assert {k: body[k] for k in VALID} == VALID

        read = await http.get(f"/v1/subscriptions/{body['id']}")
        assert read.status_code == 200
        assert "secret" not in read.json()
        assert read.json() == {k: v for k, v in body.items() if k != "secret"}

        assert (await http.delete(f"/v1/subscriptions/{body['id']}")).status_code == 204
        assert_problem(await http.get(f"/v1/subscriptions/{body['id']}"), 404)
        assert_problem(await http.delete(f"/v1/subscriptions/{body['id']}"), 404)


async def test_every_registration_gets_its_own_secret(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        first, second = [(await http.post("/v1/subscriptions", json=VALID)).json() for _ in range(2)]
    assert first["id"] != second["id"]
    assert first["secret"] != second["secret"]


@pytest.mark.parametrize(
    "body",
    [
        {**VALID, "url": "ftp://hr.example/hooks"},
        {**VALID, "url": "https://hr.example/" + "a" * 2100},
        {**VALID, "event_types": ["kpi.alert.raised.v1"]},
        {**VALID, "event_types": []},
        {**VALID, "tenant_id": "acme corp"},
        {k: v for k, v in VALID.items() if k != "url"},
        [VALID],
        "not an object",
    ],
)
async def test_a_malformed_registration_gets_422_problem_json(base_url: str, body: object) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        problem = assert_problem(await http.post("/v1/subscriptions", json=body), 422)
    assert problem["errors"]


async def test_a_body_that_is_not_json_gets_422_problem_json(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post("/v1/subscriptions", content=b"{tenant_id: acme",
                                   headers={"content-type": "application/json"})
    assert_problem(response, 422)


async def test_unknown_and_malformed_ids_get_problem_json(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert_problem(await http.get(f"/v1/subscriptions/{uuid.uuid4()}"), 404)
        assert_problem(await http.delete(f"/v1/subscriptions/{uuid.uuid4()}"), 404)
        assert_problem(await http.get("/v1/subscriptions/not-a-uuid"), 422)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Bodies close to valid get past the first check that fails, down to the insert into PostgreSQL.
near_valid = st.fixed_dictionaries(
    {
        "tenant_id": st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,20}\Z") | json_values,
        "url": st.sampled_from(["https://hr.example/hooks", "http://127.0.0.1:9/x?y=1"])
        | st.text().map(lambda path: "https://hr.example/" + path)
        | json_values,
        "event_types": st.lists(st.just("coaching.session.recorded.v1"), min_size=1, max_size=3)
        | st.lists(st.sampled_from(["coaching.session.recorded.v1", "kpi.alert.raised.v1"]) | st.text(max_size=30),
                   max_size=25)
        | json_values,
    },
    optional={"secret": st.text(max_size=10)},
)


# The app keeps running on the event loop while Hypothesis draws in the worker thread; its own use of
# the global random generator (Kafka client back-off, retry jitter) is what Hypothesis notices here.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
async def test_no_body_makes_the_subscription_endpoint_fail(base_url: str) -> None:
    """Whatever arrives, the answer is a 201 or a 4xx problem document, never a server error."""

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=near_valid | json_values)
    def fuzz(body: object) -> None:
        response = http.post("/v1/subscriptions", json=body)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            assert response.status_code == 201
            assert response.json()["secret"].startswith("whsec_")

    # A blocking client in a worker thread: the app under test runs on this test's event loop.
    with httpx.Client(base_url=base_url, timeout=10) as http:
        await asyncio.to_thread(fuzz)
