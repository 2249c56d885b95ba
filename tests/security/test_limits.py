"""What one request may take, on the running services: a body over the limit is refused before it is
read (413), every list answers a bounded page, and kpi's event streams are capped per credential and
per replica. (Intake's own 413 and record limits: services/intake/tests/test_api.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from coachline.problem import PROBLEM_JSON
from coachline.testing import Identity, eventually
from coachline.web import HttpLimits

from .conftest import SERVICES, Stack

pytestmark = pytest.mark.integration

LIMIT = HttpLimits().max_body_bytes
# A route of each service that takes a JSON body.
WRITES = {
    "evaluation": ("PUT", "/v1/quality-rules"),
    "coaching": ("PUT", "/v1/settings"),
    "kpi": ("PUT", "/v1/kpi-policy"),
    "notifications": ("POST", "/v1/rules"),
}
PAGE = 500
# Lists without a limit parameter, and why they cannot grow without bound.
BOUNDED = {
    ("evaluation", "/v1/scorecards"): "the tenant's scorecards, written by its admins",
    ("evaluation", "/v1/scorecards/{scorecard_id}"): "the versions of one scorecard, one per admin's edit",
    ("evaluation", "/v1/sampling-policies"): "the tenant's policies, written by its admins",
    ("evaluation", "/v1/scorecards/{scorecard_id}/criteria-review"): "one row per criterion of one scorecard",
    ("evaluation", "/v1/mystery-shop/scenarios"): "the tenant's scenarios, written by its admins",
    ("evaluation", "/v1/mystery-shop/staff-notices"): "one record per briefing of staff, by admins",
    ("kpi", "/v1/kpis"): "at most 1000 figures, the query's own cap",
    ("kpi", "/v1/kpis/series"): "at most 2000 windows of one scope, the query's own cap",
    ("kpi", "/v1/teams/{team_id}/visibility"): "one decision per team meeting on visibility",
    ("kpi", "/v1/wallboards"): "the tenant's wallboards, made by its admins",
    ("kpi", "/v1/wallboards/{wallboard_id}/tokens"): "one board's kiosk tokens, issued by its admins",
    ("notifications", "/v1/subscriptions"): "the tenant's webhooks, registered by its admins",
    ("notifications", "/v1/rules"): "the tenant's rules, written by its admins",
}


async def test_a_body_over_the_limit_is_refused_before_it_is_read(stack: Stack, identity: Identity) -> None:
    admin = identity.headers("limits", "admin")

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(LIMIT // 1024 + 2):
            yield b" " * 1024

    async with httpx.AsyncClient(timeout=30) as client:
        for service in SERVICES:
            method, path = WRITES[service]
            url = stack.urls[service] + path
            json_body = {"content-type": "application/json"}
            # Declared: refused at once, before the token is even looked at.
            declared = await client.request(method, url, content=b" " * (LIMIT + 1), headers=json_body)
            # Chunked, no length given: refused once the bytes read pass the limit.
            streamed = await client.request(method, url, content=endless(), headers={**admin, **json_body})
            for answer in (declared, streamed):
                assert (answer.status_code, answer.headers["content-type"]) == (413, PROBLEM_JSON), (service, answer)
                assert answer.json()["field"] == "body"
            # Within the limit, white space and all, the body is read and judged on what it says.
            fitting = await client.request(method, url, content=b" " * (LIMIT - 2) + b"{}",
                                           headers={**admin, **json_body})
            assert fitting.status_code in (200, 422), (service, fitting.text)


def list_answers(app: Any) -> dict[str, list[dict[str, Any]]]:
    """GET routes whose answer is a list, or an object holding its list in ``items``: their parameters."""
    spec = app.openapi()
    schemas = spec["components"]["schemas"]

    def resolved(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    found = {}
    for path, operations in spec["paths"].items():
        answer = operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        schema = resolved(answer.get("application/json", {}).get("schema", {}))
        if schema.get("type") == "array" or resolved(schema.get("properties", {}).get("items", {})).get(
                "type") == "array":
            found[path] = operations["get"].get("parameters", [])
    return found


async def test_every_list_answers_a_bounded_page(stack: Stack, identity: Identity) -> None:
    admin = identity.headers("limits", "admin")
    unbounded = []
    async with httpx.AsyncClient(timeout=30) as client:
        for service in SERVICES:
            for path, parameters in list_answers(stack.apps[service]).items():
                limit = next((p["schema"] for p in parameters if p["name"] == "limit"), None)
                if limit is None:
                    if (service, path) not in BOUNDED:
                        unbounded.append(f"{service} GET {path}")
                    continue
                assert limit["maximum"] <= PAGE, (service, path)
                # Over the cap is refused, not quietly cut: the caller learns the page size.
                url = stack.urls[service] + path.format(agent_id="a-1", subscription_id="6f1b1f37-0c35-4a4c-8c2c-"
                                                                                       "3d1f8f0c9a11")
                answer = await client.get(url, params={"limit": limit["maximum"] + 1}, headers=admin)
                assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM_JSON), (service, path)
    assert unbounded == []
    listed = {(s, p) for s in SERVICES for p in list_answers(stack.apps[s])}
    assert set(BOUNDED) <= listed, "a list named here is gone or now takes a limit"


async def test_event_streams_are_capped_per_credential_and_per_replica(stack: Stack, identity: Identity) -> None:
    app = stack.apps["kpi"]
    url = stack.urls["kpi"] + "/v1/kpis/stream"
    lead = identity.headers("limits", "team_lead", subject="tl-1", teams=("t-1",))
    others = [identity.headers("limits", "agent", subject=f"u-{n}", agent_id=f"a-{n}") for n in range(2)]
    app.state.http_limits = HttpLimits(max_streams=3, max_streams_per_credential=2)
    try:
        async with httpx.AsyncClient(timeout=30) as client, AsyncExitStack() as streams:
            async def open_stream(headers: dict[str, str]) -> httpx.Response:
                return await streams.enter_async_context(client.stream("GET", url, headers=headers))

            first = await open_stream(lead)
            assert (await open_stream(lead)).status_code == 200
            third = await open_stream(lead)
            assert (third.status_code, third.headers["content-type"]) == (429, PROBLEM_JSON)
            assert third.headers["retry-after"]
            assert (await open_stream(others[0])).status_code == 200
            full = await open_stream(others[1])
            assert (full.status_code, full.headers["content-type"]) == (503, PROBLEM_JSON)

            await first.aclose()

            async def reopened() -> bool:
                async with client.stream("GET", url, headers=others[1]) as again:
                    return again.status_code == 200

            assert await eventually(reopened, timeout=30)
    finally:
        app.state.http_limits = HttpLimits()
