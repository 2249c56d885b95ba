"""Any request to coaching's write routes gets a 2xx or a 4xx problem naming what is wrong, never a 5xx.

Bodies mix valid fields with arbitrary JSON so many requests get past validation and reach PostgreSQL.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline_coaching.app import create_app
from coachline_coaching.kpi_client import KpiService
from coachline_coaching.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.date().isoformat()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)

VALID: dict[str, dict[str, Any]] = {
    "/v1/periods": {"agent_id": "a-17", "starts_on": TODAY, "ends_on": (NOW + timedelta(days=20)).date().isoformat(),
                    "participants": [{"person_id": "tl-3", "role": "team_lead"}]},
    "/v1/sessions": {"agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one", "planned_on": TODAY,
                     "held": {"held_at": NOW.isoformat(), "notes": "n", "evaluation_ids": [],
                              "actions": [{"owner": "agent", "description": "d", "due_on": TODAY}]}},
    "goals": {"kind": "kpi", "kpi": "aht_s", "target": "300", "due_on": TODAY, "description": "d",
              "corner": "efficiency", "scope": "agent"},
    "close": {"decisions": {"g-1": "achieved"}},
}


def near_valid(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.builds(
        lambda fields, extra: {**{k: v for k, v in fields.items() if v is not ...}, **extra},
        st.fixed_dictionaries({k: st.just(v) | json_values | st.just(...) for k, v in valid.items()}),
        st.dictionaries(st.text(max_size=10), json_values, max_size=1),
    )


@pytest.fixture
async def coaching(settings_for, run_app, identity) -> tuple[str, dict[str, str], str]:
    no_figures = httpx.MockTransport(lambda request: httpx.Response(
        200, json={"kpis": {request.url.params["kpi"]: {"value": None, "sample": "0"}}}))
    url: str = await run_app(create_app(settings_for(Settings), kpis=KpiService("http://kpi", 5, transport=no_figures)))
    admin = identity.headers("acme", "admin", subject="root")
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        opened = await c.post("/v1/periods", headers=admin, json={"agent_id": "a-1", "starts_on": TODAY})
        assert opened.status_code == 201, opened.text
    return url, admin, opened.json()["period_id"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(list(VALID)), data=st.data())
async def test_any_write_gets_a_success_or_a_problem_never_a_server_error(
    coaching: tuple[str, dict[str, str], str], route: str, data: st.DataObject
) -> None:
    url, admin, period_id = coaching
    body = data.draw(near_valid(VALID[route]) | json_values)
    path = {"goals": f"/v1/periods/{period_id}/goals", "close": f"/v1/periods/{period_id}/close"}.get(route, route)
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        answer = await c.post(path, headers={**admin, "content-type": "application/json"},
                              content=json.dumps(body).encode())
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == answer.status_code
        if answer.status_code == 422:
            assert problem["errors"] and all(e["loc"] for e in problem["errors"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# "." and ".." are not ids: URL parsers resolve them as path steps before the request is sent.
@given(segment=st.text(min_size=1, max_size=140).filter(lambda s: s not in {".", ".."}))
async def test_any_path_id_gets_an_answer_or_a_problem(coaching: tuple[str, dict[str, str], str],
                                                       segment: str) -> None:
    url, admin, _ = coaching
    quoted = "/v1/periods/" + quote(segment, safe="")
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        for path in (quoted, quoted.replace("/periods/", "/agents/") + "/timeline"):
            answer = await c.get(path, headers=admin)
            assert answer.status_code in (200, 404, 422), answer.text
            if answer.status_code != 200:
                assert answer.headers["content-type"] == "application/problem+json"
