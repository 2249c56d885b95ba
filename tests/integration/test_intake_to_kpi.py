"""Intake and KPI in-process against real Kafka and PostgreSQL."""

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.signing import new_secret, signature_headers
from coachline.testing import eventually
from coachline_intake.app import create_app as create_intake
from coachline_intake.settings import Settings as IntakeSettings
from coachline_kpi.app import create_app as create_kpi
from coachline_kpi.settings import Settings as KpiSettings

pytestmark = pytest.mark.integration
SECRET = new_secret()


def intake_settings(settings_for: Any) -> IntakeSettings:
    # Nothing here comes over the raw topics; their consumers would only slow start and stop.
    return settings_for(IntakeSettings, source_secrets={"acme": {"generic": [SECRET]}}, raw_topics=False)


def signed(body: bytes, content_type: str = "application/json") -> dict[str, str]:
    """A platform's request, with a webhook-id of its own: a re-sent batch is a new delivery."""
    return {"content-type": content_type, "coachline-tenant": "acme",
            **signature_headers(SECRET, f"m-{uuid.uuid4()}", body)}


def event(kind: str, source_id: str, **data: Any) -> dict[str, Any]:
    base = {"interaction_id": "c-1", "queue_id": "billing", "channel": "voice",
            "occurred_at": "2026-11-23T09:00:00Z"}
    return {"specversion": "1.0", "id": source_id, "source": "pbx", "type": f"cc.interaction.{kind}.v1",
            "tenantid": "acme", "data": {**base, **data}}


def day_of_contacts(n: int) -> list[dict[str, Any]]:
    events = []
    for i in range(n):
        cid = f"c-{i}"
        events.append(event("offered", f"o-{i}", interaction_id=cid))
        if i % 4 == 3:
            events.append(event("abandoned", f"x-{i}", interaction_id=cid, queue_wait_s="40"))
            continue
        events.append(event("answered", f"a-{i}", interaction_id=cid, agent_id="a-1", team_id="north",
                            queue_wait_s="8"))
        events.append(event("wrapped-up", f"d-{i}", interaction_id=cid, agent_id="a-1", team_id="north",
                            talk_s=str(100 + i), hold_s="10", after_contact_work_s="20"))
    return events


async def test_posted_interactions_become_team_and_queue_figures_once(settings_for, run_app, identity) -> None:
    intake = await run_app(create_intake(intake_settings(settings_for)))
    kpi = await run_app(create_kpi(settings_for(KpiSettings)))
    manager = identity.headers("acme", "service_manager")
    events = day_of_contacts(8)
    ndjson = "\n".join(json.dumps(e) for e in events)
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(2):  # the platform re-sends the whole batch: nothing may count twice
            answer = await client.post(f"{intake}/v1/sources/generic/events", content=ndjson,
                                       headers=signed(ndjson.encode(), "application/x-ndjson"))
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == len(events)

        async def team_figures() -> dict[str, Any] | None:
            items = (await client.get(f"{kpi}/v1/kpis", params={"scope": "team", "window": "day:2026-11-23"},
                                      headers=manager)).json()
            figures = items["items"][0]["figures"] if items["items"] else None
            return figures if figures and figures["handled"] == "6" else None

        team = await eventually(team_figures)
        queue = (await client.get(f"{kpi}/v1/kpis", params={"scope": "queue", "scope_id": "billing",
                                                              "window": "day:2026-11-23"},
                                  headers=manager)).json()["items"][0]["figures"]
    # Six handled contacts: talk 100..106 without 103 and 107, plus 30 s of hold and wrap-up each.
    talk = sum(100 + i for i in range(8) if i % 4 != 3)
    assert team["aht_s"] == f"{(talk + 6 * 30) / 6:.3f}"
    assert (queue["offered"], queue["answered"], queue["abandoned"]) == ("8", "6", "2")


async def test_the_live_stream_sends_a_snapshot_then_changes(settings_for, run_app, identity) -> None:
    intake = await run_app(create_intake(intake_settings(settings_for)))
    kpi = await run_app(create_kpi(settings_for(KpiSettings)))
    async with httpx.AsyncClient(timeout=30) as client, client.stream(
        "GET", f"{kpi}/v1/kpis/stream", headers=identity.headers("acme", "service_manager")
    ) as stream:
        lines = stream.aiter_lines()
        assert await anext(lines) == "event: snapshot"
        assert json.loads((await anext(lines)).removeprefix("data: "))["items"] == []
        offered = json.dumps(event("offered", "o-1")).encode()
        posted = await client.post(f"{intake}/v1/sources/generic/events", content=offered, headers=signed(offered))
        assert posted.status_code == 202
        async for line in lines:
            if line.startswith("data: "):
                change = json.loads(line.removeprefix("data: "))
                assert change["figures"]["offered"] == "1"
                break


@pytest.fixture
async def intake_url(settings_for, run_app) -> str:
    return await run_app(create_intake(intake_settings(settings_for)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
near_valid = st.builds(lambda data, kind: {**event(kind, "f-1"), "data": data}, json_values,
                       st.sampled_from(["offered", "answered", "abandoned", "wrapped-up", "unknown"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, near_valid).map(json.dumps).map(str.encode) | st.binary(max_size=300),
       content_type=st.sampled_from(["application/json", "application/x-ndjson", "text/plain", ""]))
async def test_any_request_gets_an_answer_never_a_server_error(intake_url: str, body: bytes,
                                                                content_type: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(f"{intake_url}/v1/sources/generic/events", content=body,
                                   headers=signed(body, content_type))
    assert answer.status_code in (202, 413, 415, 422), answer.text
    if answer.status_code != 202:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == answer.status_code
