"""Coaching in-process against real Kafka and PostgreSQL: a period from opening to its look back.

Roster events place the agent in a team; a team lead opens a period, sets goals, plans and holds
sessions with agreed actions; the agent sees them on their timeline and adds reflections; every step
is published on ``coaching.v1`` through the outbox; illegal steps answer 409.
"""

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from coachline.contracts.evaluations import EvaluationSubmitted
from coachline.contracts.roster import AgentRostered, TeamRostered
from coachline.envelope import CloudEvent, new_event
from coachline.testing import eventually, metric_value
from coachline_coaching.app import create_app
from coachline_coaching.kpi_client import KpiService
from coachline_coaching.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.date()
SUBMITTED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def rostered(agent: str = "a-17", team: str = "t-north", unit: str = "u-hel", tenant: str = "acme") -> list[CloudEvent]:
    return [
        new_event("cc.roster.team.v1", tenant, TeamRostered(team_id=team, name="North", unit_id=unit,
                                                             occurred_at=NOW - timedelta(days=30)), source="test"),
        new_event("cc.roster.agent.v1", tenant, AgentRostered(agent_id=agent, team_id=team,
                                                              occurred_at=NOW - timedelta(days=30)), source="test"),
    ]


def submitted(evaluation_id: str = "e-5", agent: str = "a-17", tenant: str = "acme", score: str = "87.5") -> CloudEvent:
    data = EvaluationSubmitted(evaluation_id=evaluation_id, interaction_id="c-1001", agent_id=agent,
                               evaluator_id="q-2", scorecard_id="sc-voice", scorecard_version=3,
                               score=Decimal(score), submitted_at=SUBMITTED_AT)
    return new_event("qa.evaluation.submitted.v1", tenant, data, source="test")


@dataclasses.dataclass
class Coaching:
    url: str
    lead: dict[str, str]
    agent: dict[str, str]
    admin: dict[str, str]
    client: httpx.AsyncClient


@pytest.fixture
async def coaching(settings_for, run_app, service_env, publish, identity) -> AsyncIterator[Coaching]:
    # A KPI service that has no figures yet: the effect is then "not enough data" on both sides.
    no_figures = httpx.MockTransport(lambda request: httpx.Response(
        200, json={"kpis": {request.url.params["kpi"]: {"value": None, "sample": "0"}}}))
    url = await run_app(create_app(settings_for(Settings), kpis=KpiService("http://kpi", 5, transport=no_figures)))
    await publish(*rostered(), submitted("e-5"))
    lead = identity.headers("acme", "team_lead", subject="tl-3", teams=("t-north",))
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def evidence() -> list[Any]:
            answer = await client.get("/v1/agents/a-17/evaluations", headers=lead)
            return answer.json()["items"] if answer.status_code == 200 else []

        await eventually(evidence, timeout=60)
        yield Coaching(url, lead, identity.headers("acme", "agent", agent_id="a-17", subject="a-17"),
                       identity.headers("acme", "admin", subject="root"), client)


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


async def test_a_period_from_opening_to_close_with_sessions_actions_and_the_agents_timeline(
    coaching: Coaching, topic_reader
) -> None:
    c, lead, agent = coaching.client, coaching.lead, coaching.agent
    opened = await c.post("/v1/periods", headers=lead, json={
        "agent_id": "a-17", "starts_on": TODAY.isoformat(),
        "participants": [{"person_id": "tl-3", "role": "team_lead"}, {"person_id": "sc-1", "role": "sales_coach"},
                         {"person_id": "mm-1", "role": "managers_manager"}]})
    assert opened.status_code == 201, opened.text
    period = opened.json()
    # Default length 21 days, both ends counted.
    assert (period["status"], period["team_id"], period["ends_on"]) == (
        "open", "t-north", (TODAY + timedelta(days=20)).isoformat())
    pid = period["period_id"]
    assert_problem(await c.post("/v1/periods", headers=lead, json={"agent_id": "a-17",
                                                                   "starts_on": TODAY.isoformat()}), 409)

    kpi_goal = await c.post(f"/v1/periods/{pid}/goals", headers=lead, json={
        "kind": "kpi", "kpi": "aht_s", "target": "300", "due_on": period["ends_on"],
        "description": "Shorter calls without rushing the customer"})
    assert kpi_goal.status_code == 201, kpi_goal.text
    assert (kpi_goal.json()["corner"], kpi_goal.json()["scope"]) == ("efficiency", "agent")
    smile = await c.post(f"/v1/periods/{pid}/goals", headers=lead, json={
        "kind": "behavioural", "corner": "quality", "due_on": period["ends_on"],
        "description": "Hear a smile in every call", "observed_by": "Side-by-side listening, three calls a week"})
    assert smile.status_code == 201, smile.text
    late = await c.post(f"/v1/periods/{pid}/goals", headers=lead, json={
        "kind": "behavioural", "corner": "quality", "due_on": (TODAY + timedelta(days=60)).isoformat(),
        "description": "x", "observed_by": "y"})
    assert assert_problem(late, 422)["errors"][0]["loc"] == "body.due_on"

    planned = await c.post("/v1/sessions", headers=lead, json={
        "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review", "period_id": pid,
        "planned_on": TODAY.isoformat()})
    assert planned.status_code == 201, planned.text
    sid = planned.json()["session_id"]
    assert planned.json()["status"] == "scheduled"
    held = await c.post(f"/v1/sessions/{sid}/held", headers=lead, json={
        "held_at": (NOW - timedelta(minutes=5)).isoformat(), "notes": "Went through the greeting.",
        "evaluation_ids": ["e-5"], "interaction_ids": ["c-1001"],
        "actions": [{"owner": "agent", "description": "Use the customer's name twice", "due_on": TODAY.isoformat()},
                    {"owner": "coach", "description": "Send the call-flow card", "due_on": TODAY.isoformat()}]})
    assert held.status_code == 200, held.text
    assert_problem(await c.post(f"/v1/sessions/{sid}/held", headers=lead,
                                json={"held_at": NOW.isoformat()}), 409)
    assert_problem(await c.post(f"/v1/sessions/{sid}/missed", headers=lead), 409)

    # The agent sees what was agreed, and adds a reflection; they may complete their own action only.
    timeline = (await c.get("/v1/agents/a-17/timeline", headers=agent)).json()["items"]
    [entry] = timeline
    assert entry["session"]["session_id"] == sid
    agreed = {a["owner"]: a for a in entry["actions_agreed"]}
    assert {a["description"] for a in agreed.values()} == {"Use the customer's name twice",
                                                         "Send the call-flow card"}
    reflected = await c.post(f"/v1/sessions/{sid}/reflections", headers=agent,
                             json={"text": "I forget the name when the customer is upset."})
    assert reflected.status_code == 201, reflected.text
    assert_problem(await c.post(f"/v1/sessions/{sid}/reflections", headers=lead, json={"text": "no"}), 403)
    assert_problem(await c.post(f"/v1/actions/{agreed['coach']['action_id']}/complete", headers=agent), 403)
    done = await c.post(f"/v1/actions/{agreed['agent']['action_id']}/complete", headers=agent)
    assert done.json()["status"] == "completed"
    assert_problem(await c.post(f"/v1/actions/{agreed['agent']['action_id']}/complete", headers=agent), 409)

    # Next session: recorded as held at once, following up the coach's action.
    second = await c.post("/v1/sessions", headers=lead, json={
        "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one", "period_id": pid,
        "held": {"held_at": NOW.isoformat(), "follow_ups": [{"action_id": agreed["coach"]["action_id"],
                                                              "status": "completed"}]}})
    assert second.status_code == 201, second.text
    missed = await c.post("/v1/sessions", headers=lead, json={
        "agent_id": "a-17", "coach_id": "tl-3", "kind": "side_by_side", "period_id": pid,
        "planned_on": (TODAY + timedelta(days=3)).isoformat()})
    assert (await c.post(f"/v1/sessions/{missed.json()['session_id']}/missed", headers=lead)).status_code == 200

    timeline = (await c.get("/v1/agents/a-17/timeline", headers=agent)).json()["items"]
    assert [e["session"]["status"] for e in timeline] == ["held", "held", "missed"]
    assert [r["text"] for r in timeline[0]["reflections"]] == ["I forget the name when the customer is upset."]
    assert [a["action_id"] for a in timeline[1]["actions_followed_up"]] == [agreed["coach"]["action_id"]]

    # Close: the behavioural goal is decided by the coach; the KPI goal has no data, so it must be too.
    undecided = await c.post(f"/v1/periods/{pid}/close", headers=lead, json={
        "decisions": {smile.json()["goal_id"]: "achieved"}})
    body = assert_problem(undecided, 422)
    assert body["goal_ids"] == [kpi_goal.json()["goal_id"]]
    closed = await c.post(f"/v1/periods/{pid}/close", headers=lead, json={
        "decisions": {smile.json()["goal_id"]: "achieved", kpi_goal.json()["goal_id"]: "missed"}})
    assert closed.status_code == 200, closed.text
    summary = closed.json()
    assert (summary["goals_achieved"], summary["goals_missed"], summary["sessions_held"],
            summary["sessions_missed"]) == (1, 1, 2, 1)
    [aht] = summary["effects"]
    assert (aht["kpi"], aht["before"], aht["during"], aht["improved"]) == (
        "aht_s", {"value": None, "sample": 0}, {"value": None, "sample": 0}, None)
    assert_problem(await c.post(f"/v1/periods/{pid}/close", headers=lead), 409)
    assert_problem(await c.post(f"/v1/periods/{pid}/goals", headers=lead, json={
        "kind": "behavioural", "corner": "quality", "due_on": TODAY.isoformat(), "description": "x",
        "observed_by": "y"}), 409)
    seen = (await c.get(f"/v1/periods/{pid}", headers=agent)).json()
    assert seen["summary"]["goals_achieved"] == 1 and len(seen["sessions"]) == 3

    reader = await topic_reader("coaching.v1")
    published = await reader.events(17)
    assert [e.type for e in published] == [
        "coaching.period.started.v1", "coaching.goal.set.v1", "coaching.goal.set.v1",
        "coaching.session.scheduled.v1", "coaching.session.held.v1", "coaching.session.recorded.v1",
        "coaching.action.agreed.v1", "coaching.action.agreed.v1", "coaching.action.completed.v1",
        "coaching.session.held.v1", "coaching.session.recorded.v1", "coaching.action.completed.v1",
        "coaching.session.scheduled.v1", "coaching.session.missed.v1",
        "coaching.goal.missed.v1", "coaching.goal.achieved.v1", "coaching.period.closed.v1",
    ]
    assert {e.tenant_id for e in published} == {"acme"} and {e.key for e in published} == {"acme:a-17"}
    first_held = published[4].data.model_dump(mode="json")
    # No free text unless the tenant opted in; every new event says a human must review decisions on it.
    assert (first_held["notes"], first_held["on_time"], first_held["held_on"], first_held["planned_on"],
            first_held["actions_agreed"], first_held["evaluation_ids"]) == (
        None, True, TODAY.isoformat(), TODAY.isoformat(), 2, ["e-5"])
    assert published[5].data.model_dump()["summary"] is None
    assert all(e.data.model_dump()["human_review_required"] is True
               for e in published if e.type != "coaching.session.recorded.v1")
    assert published[6].data.model_dump()["description"] is None
    assert published[-1].data.model_dump(mode="json")["goals_achieved"] == 1


async def test_notes_go_into_events_only_when_the_tenant_opts_in(coaching: Coaching, topic_reader) -> None:
    c = coaching.client
    assert_problem(await c.put("/v1/settings", headers=coaching.lead, json={"notes_in_events": True}), 403)
    assert (await c.put("/v1/settings", headers=coaching.admin, json={"notes_in_events": True})).status_code == 200
    held = await c.post("/v1/sessions", headers=coaching.lead, json={
        "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one",
        "held": {"held_at": NOW.isoformat(), "notes": "Talked about the new tariff.",
                 "actions": [{"owner": "agent", "description": "Read the tariff sheet", "due_on": TODAY.isoformat()}]}})
    assert held.status_code == 201, held.text
    events = await (await topic_reader("coaching.v1")).events(3)
    by_type = {e.type: e.data.model_dump() for e in events}
    assert by_type["coaching.session.held.v1"]["notes"] == "Talked about the new tariff."
    assert by_type["coaching.session.held.v1"]["on_time"] is None
    assert by_type["coaching.session.recorded.v1"]["summary"] == "Talked about the new tariff."
    assert by_type["coaching.action.agreed.v1"]["description"] == "Read the tariff sheet"


async def test_evidence_must_be_the_agents_and_held_cannot_be_in_the_future(
    coaching: Coaching, service_env, publish
) -> None:
    c = coaching.client
    await publish(submitted("e-6", agent="a-20"), submitted("e-7", tenant="other"))
    await eventually(lambda: metric_value(c, 'coachline_coaching_evaluation_events_total{outcome="recorded"}'),
                     timeout=60)
    refused = await c.post("/v1/sessions", headers=coaching.lead, json={
        "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review",
        "held": {"held_at": NOW.isoformat(), "evaluation_ids": ["e-5", "e-6", "e-7"]}})
    body = assert_problem(refused, 422)
    assert body["evaluation_ids"] == ["e-6", "e-7"] and body["errors"][0]["loc"] == "body.evaluation_ids"
    future = await c.post("/v1/sessions", headers=coaching.lead, json={
        "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one",
        "held": {"held_at": (NOW + timedelta(days=1)).isoformat()}})
    assert assert_problem(future, 422)["errors"][0]["loc"] == "body.held_at"


async def test_a_redelivered_evaluation_changes_nothing(coaching: Coaching, service_env, publish) -> None:
    c = coaching.client
    first = submitted("e-9", score="87.5")
    # The same event id with different content: only the inbox, not an idempotent write, can drop it.
    redelivered = dataclasses.replace(first, data=submitted("e-9", score="12").data)
    await publish(first, redelivered)
    duplicates = 'coachline_coaching_evaluation_events_total{outcome="duplicate"}'
    assert await eventually(lambda: metric_value(c, duplicates), timeout=60) == 1
    items = (await c.get("/v1/agents/a-17/evaluations", headers=coaching.lead)).json()["items"]
    assert {e["evaluation_id"]: e["score"] for e in items}["e-9"] == "87.50"


async def test_row_level_security_keeps_tenants_apart(coaching: Coaching, identity, settings_for) -> None:
    c = coaching.client
    opened = await c.post("/v1/periods", headers=coaching.admin, json={"agent_id": "a-17",
                                                                      "starts_on": TODAY.isoformat()})
    pid = opened.json()["period_id"]
    globex_admin = identity.headers("globex", "admin", subject="root")
    assert_problem(await c.get(f"/v1/periods/{pid}", headers=globex_admin), 404)
    assert (await c.get("/v1/agents/a-17/evaluations", headers=globex_admin)).json()["items"] == []
    # The tables themselves refuse: a tenant transaction of globex sees no acme row.
    settings = settings_for(Settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(f'SET search_path TO "{settings.db_schema}"')
        async with conn.transaction():
            await conn.execute("SELECT set_config('coachline.tenant_id', 'globex', true)")
            await conn.execute("SET LOCAL ROLE coachline_tenant")
            for table in ("coaching_periods", "agent_evaluations", "roster_agents"):
                assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
        assert await conn.fetchval("SELECT count(*) FROM coaching_periods") == 1
    finally:
        await conn.close()

