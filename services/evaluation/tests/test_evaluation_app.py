"""The app with in-memory storage: HTTP through the real routes, auth and error handlers; Kafka through
TestKafkaBroker. Covers the lifecycle over HTTP, the role matrix and fuzzed request bodies."""

from __future__ import annotations

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
from coachline.contracts.roster import AgentRostered
from coachline.contracts.surveys import SurveyAnswered
from coachline.envelope import CloudEvent, new_event
from coachline.testing import Identity
from coachline_evaluation.app import create_app
from coachline_evaluation.service import take_interaction
from coachline_evaluation.settings import Settings

from .evaluation_fakes import FakeUnitOfWork

pytestmark = pytest.mark.component

SCORECARD = {
    "name": "Voice", "sections": [
        {"section_id": "opening", "title": "Opening", "goal": "quality", "criteria": [
            {"criterion_id": "greeting", "title": "Greeting", "points": 1},
            {"criterion_id": "name", "title": "Used the name", "points": 3},
        ]},
    ],
}


def completed(tenant: str = "acme", interaction: str = "c-1001", agent: str = "a-17",
              team: str | None = "t-north") -> CloudEvent:
    data = InteractionWrappedUp(
        interaction_id=interaction, queue_id="billing", channel="voice", agent_id=agent, team_id=team,
        occurred_at=datetime(2026, 11, 23, 9, 6, 40, tzinfo=UTC), talk_s=Decimal("310"),
    )
    return new_event("cc.interaction.wrapped-up.v1", tenant, data, source="test")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def app(uow: FakeUnitOfWork, identity: Identity, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    for name, value in (("COACHLINE_OIDC_ISSUER", identity.issuer), ("COACHLINE_OIDC_AUDIENCE", identity.audience),
                        ("COACHLINE_OIDC_JWKS", identity.jwks)):
        monkeypatch.setenv(name, value)
    return create_app(Settings(), unit_of_work=uow)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # No lifespan: the in-memory storage needs neither PostgreSQL nor a running broker.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://evaluation") as client:
        yield client


class People:
    def __init__(self, identity: Identity, tenant: str = "acme") -> None:
        self.admin = identity.headers(tenant, "admin", subject="boss")
        self.evaluator = identity.headers(tenant, "quality_evaluator", subject="q-2")
        self.other_evaluator = identity.headers(tenant, "quality_evaluator", subject="q-3")
        self.agent = identity.headers(tenant, "agent", subject="u-17", agent_id="a-17", teams=("t-north",))
        self.peer = identity.headers(tenant, "agent", subject="u-20", agent_id="a-20", teams=("t-north",))
        self.lead = identity.headers(tenant, "team_lead", subject="tl-1", teams=("t-north",))
        self.other_lead = identity.headers(tenant, "team_lead", subject="tl-2", teams=("t-south",))


@pytest.fixture
def people(identity: Identity) -> People:
    return People(identity)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    return body


async def published_scorecard(client: httpx.AsyncClient, people: People, scorecard_id: str = "sc-voice") -> None:
    put = await client.put(f"/v1/scorecards/{scorecard_id}", json=SCORECARD, headers=people.admin)
    assert put.status_code == 200, put.text
    version = put.json()["version"]
    published = await client.post(f"/v1/scorecards/{scorecard_id}/versions/{version}/status",
                                  json={"status": "published"}, headers=people.admin)
    assert published.status_code == 200, published.text


async def submitted(client: httpx.AsyncClient, people: People, uow: FakeUnitOfWork,
                    answers: dict[str, Any] | None = None) -> dict[str, Any]:
    await take_interaction(uow, completed())
    await published_scorecard(client, people)
    created = await client.post("/v1/evaluations", headers=people.evaluator, json={
        "interaction_id": "c-1001", "scorecard_id": "sc-voice",
        "answers": answers or {"greeting": True, "name": False}})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_interaction_survey_and_roster_events_on_the_topics_feed_sampling(
    app: FastAPI, client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People
) -> None:
    offered = new_event("cc.interaction.offered.v1", "acme", InteractionOffered(
        interaction_id="c-1001", queue_id="billing", channel="voice", occurred_at=datetime.now(UTC)), source="test")
    done = completed()
    survey = new_event("cc.survey.answered.v1", "acme", SurveyAnswered(
        survey_id="s-1", interaction_id="c-1001", occurred_at=datetime.now(UTC), nps=2), source="test")
    roster = new_event("cc.roster.agent.v1", "acme", AgentRostered(
        agent_id="a-17", team_id="t-north", occurred_at=datetime.now(UTC)), source="test")

    async with TestKafkaBroker(app.state.runtime.broker) as broker:
        for event, topic in ((offered, "cc.interactions.v1"), (done, "cc.interactions.v1"),
                             (done, "cc.interactions.v1"), (survey, "cc.surveys.v1"), (roster, "cc.roster.v1")):
            await broker.publish(event.body(), topic=topic, key=event.key.encode(), headers=event.headers())

    assert [(e.tenant_id, e.interaction_id, e.agent_id) for e in uow.state.pool.values()] == [
        ("acme", "c-1001", "a-17")]
    assert uow.state.surveys[("acme", "c-1001")][:2] == (None, 2)
    assert uow.state.agents[("acme", "a-17")][0] == "t-north"
    metrics = (await client.get("/metrics")).text
    assert 'coachline_evaluation_interaction_events_total{outcome="added"} 1.0' in metrics
    assert 'coachline_evaluation_interaction_events_total{outcome="duplicate"} 1.0' in metrics
    assert 'coachline_evaluation_interaction_events_total{outcome="ignored"} 1.0' in metrics
    pool = await client.get("/v1/sampling-pool", headers=people.evaluator)
    assert [e["interaction_id"] for e in pool.json()["items"]] == ["c-1001"]


async def test_a_published_scorecard_is_versioned_on_edit_and_retired(
    client: httpx.AsyncClient, people: People
) -> None:
    await published_scorecard(client, people)

    edited = await client.put("/v1/scorecards/sc-voice", json={**SCORECARD, "name": "Voice 2"}, headers=people.admin)
    versions = await client.get("/v1/scorecards/sc-voice", headers=people.agent)
    retire_draft = await client.post("/v1/scorecards/sc-voice/versions/2/status", json={"status": "retired"},
                                      headers=people.admin)
    retired = await client.post("/v1/scorecards/sc-voice/versions/1/status", json={"status": "retired"},
                                headers=people.admin)

    assert edited.json()["version"] == 2 and edited.json()["status"] == "draft"
    assert [(v["version"], v["status"]) for v in versions.json()["items"]] == [(1, "published"), (2, "draft")]
    assert_problem(retire_draft, 409)
    assert retired.json()["status"] == "retired"
    assert_problem(await client.put("/v1/scorecards/sc-voice", json=SCORECARD, headers=people.evaluator), 403)


async def test_the_lifecycle_over_http_with_a_dispute_and_a_rescore(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People
) -> None:
    evaluation = await submitted(client, people, uow)
    url = f"/v1/evaluations/{evaluation['evaluation_id']}"
    assert evaluation["score"] == "25.00" and evaluation["state"] == "submitted" and evaluation["team_id"] == "t-north"

    assert_problem(await client.get(url, headers=people.agent), 404)  # not released yet
    assert_problem(await client.post(f"{url}/acknowledgement", headers=people.agent), 404)
    released = await client.post(f"{url}/release", json={}, headers=people.evaluator)
    assert released.json()["state"] == "released"
    assert (await client.get(url, headers=people.agent)).json()["score"] == "25.00"

    disputed = await client.post(f"{url}/disputes", headers=people.agent, json={
        "items": [{"criterion_id": "name", "proposed_answer": True, "reason": "I said it at 00:42."}]})
    assert disputed.status_code == 200, disputed.text
    assert_problem(await client.post(f"{url}/acknowledgement", headers=people.agent), 409)
    assert_problem(await client.post(f"{url}/dispute-resolution", headers=people.other_evaluator, json={
        "outcome": "rescored", "reason": "x", "answers": {"name": True}}), 404)

    resolved = await client.post(f"{url}/dispute-resolution", headers=people.evaluator, json={
        "outcome": "rescored", "reason": "Heard it at 00:42.", "answers": {"name": True}})

    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["score"] == "100.00" and body["state"] == "resolved"
    assert [(h["previous_score"], h["score"]) for h in body["history"]] == [(None, "25.00"), ("25.00", "100.00")]
    types = [e.type for e in uow.state.outbox]
    assert types == ["qa.evaluation.assigned.v1", "qa.evaluation.submitted.v1", "qa.evaluation.released.v1",
                     "qa.evaluation.disputed.v1", "qa.evaluation.dispute-resolved.v1"]
    assert {e.key for e in uow.state.outbox} == {"acme:a-17"}
    assert (await client.post(f"{url}/close", headers=people.agent)).json()["state"] == "closed"


async def test_illegal_transitions_answer_409(client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People) -> None:
    evaluation = await submitted(client, people, uow)
    url = f"/v1/evaluations/{evaluation['evaluation_id']}"

    twice = await client.post(f"{url}/submission", json={"answers": {"greeting": True, "name": True}},
                              headers=people.evaluator)
    early_close = await client.post(f"{url}/close", headers=people.evaluator)
    early_resolution = await client.post(f"{url}/dispute-resolution", headers=people.evaluator,
                                         json={"outcome": "upheld", "reason": "x"})

    assert assert_problem(twice, 409)["action"] == "submit"
    assert assert_problem(early_close, 409)["state"] == "submitted"
    assert_problem(early_resolution, 409)


async def test_the_role_matrix(client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People,
                               identity: Identity) -> None:
    evaluation = await submitted(client, people, uow)
    url = f"/v1/evaluations/{evaluation['evaluation_id']}"
    await client.post(f"{url}/release", json={}, headers=people.evaluator)
    other_tenant = identity.headers("globex", "admin", subject="boss")

    assert (await client.get(url, headers=people.agent)).status_code == 200
    assert (await client.get(url, headers=people.lead)).status_code == 200
    assert (await client.get(url, headers=people.admin)).status_code == 200
    assert (await client.get(url, headers=people.evaluator)).status_code == 200
    assert_problem(await client.get(url, headers=people.peer), 404)
    assert_problem(await client.get(url, headers=people.other_lead), 404)
    assert_problem(await client.get(url, headers=people.other_evaluator), 404)
    assert_problem(await client.get(url, headers=other_tenant), 404)
    assert_problem(await client.get(url), 401)
    assert (await client.get("/v1/evaluations", headers=other_tenant)).json()["items"] == []
    assert (await client.get("/v1/evaluations", headers=people.peer)).json()["items"] == []
    assert len((await client.get("/v1/evaluations", headers=people.lead)).json()["items"]) == 1
    assert_problem(await client.post(f"{url}/disputes", headers=people.peer, json={
        "items": [{"criterion_id": "name", "reason": "x"}]}), 404)
    assert_problem(await client.get("/v1/agents/a-17/quality-score", headers=people.peer), 404)
    score = (await client.get("/v1/agents/a-17/quality-score", headers=people.agent)).json()
    assert (score["score"], score["n"], score["low"]) == (25.0, 1, None)


async def test_a_self_evaluation_is_compared_with_the_evaluators(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People
) -> None:
    evaluation = await submitted(client, people, uow)
    await client.post(f"/v1/evaluations/{evaluation['evaluation_id']}/release", json={}, headers=people.evaluator)
    own = await client.post("/v1/self-evaluations", headers=people.agent,
                            json={"interaction_id": "c-1001", "scorecard_id": "sc-voice"})
    assert own.status_code == 201, own.text
    own_id = own.json()["evaluation_id"]
    done = await client.post(f"/v1/evaluations/{own_id}/submission", headers=people.agent,
                             json={"answers": {"greeting": True, "name": True}})
    assert done.status_code == 200, done.text

    for who in (people.agent, people.evaluator):
        comparison = await client.get(f"/v1/self-evaluations/{own_id}/comparison", headers=who)
        assert comparison.status_code == 200, comparison.text
        assert comparison.json()["differences"]["score"] == "75.00"
        assert comparison.json()["differences"]["name"] == "3.000"
    assert_problem(await client.get(f"/v1/self-evaluations/{own_id}/comparison", headers=people.peer), 404)
    assert not any(e.data.model_dump().get("kind") == "self" and e.type.endswith("released.v1")
                   for e in uow.state.outbox)


async def test_a_sampling_run_assigns_and_records_its_seed(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People
) -> None:
    for i in range(6):
        await take_interaction(uow, completed(interaction=f"c-{i}"))
    await published_scorecard(client, people)
    policy = {"name": "weekly", "scorecard_id": "sc-voice", "quota": {"count": 3}, "evaluator_ids": ["q-2", "q-3"]}
    assert (await client.put("/v1/sampling-policies/weekly", json=policy, headers=people.admin)).status_code == 200

    run = await client.post("/v1/sampling-policies/weekly/runs", headers=people.admin,
                            json={"period_start": "2026-11-23", "period_end": "2026-11-30", "seed": "s-1"})

    assert run.status_code == 201, run.text
    body = run.json()
    assert len(body["evaluation_ids"]) == 3 and body["selection"]["seed"] == "s-1"
    again = await client.get(f"/v1/sampling-runs/{body['run_id']}", headers=people.admin)
    assert again.json() == body
    mine = (await client.get("/v1/evaluations", headers=people.evaluator)).json()["items"]
    assert {e["evaluation_id"] for e in mine} <= set(body["evaluation_ids"]) and mine
    assert_problem(await client.post("/v1/sampling-policies/weekly/runs", headers=people.admin,
                                     json={"period_start": "2026-11-30", "period_end": "2026-11-23"}), 422)


async def test_a_blind_calibration_completes_with_agreement(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People
) -> None:
    await take_interaction(uow, completed())
    await published_scorecard(client, people)
    opened = await client.post("/v1/calibrations", headers=people.admin, json={
        "interaction_id": "c-1001", "scorecard_id": "sc-voice", "evaluator_ids": ["q-2", "q-3"],
        "reference_evaluator_id": "q-2"})
    assert opened.status_code == 201, opened.text
    calibration = opened.json()
    url = f"/v1/calibrations/{calibration['calibration_id']}"

    first = calibration["evaluations"]["q-2"]
    await client.post(f"/v1/evaluations/{first}/submission", headers=people.evaluator,
                      json={"answers": {"greeting": True, "name": True}})
    blind = (await client.get(url, headers=people.other_evaluator)).json()
    seen = (await client.get(url, headers=people.evaluator)).json()
    second = calibration["evaluations"]["q-3"]
    assert_problem(await client.get(f"/v1/evaluations/{first}", headers=people.other_evaluator), 404)
    await client.post(f"/v1/evaluations/{second}/submission", headers=people.other_evaluator,
                      json={"answers": {"greeting": True, "name": False}})
    done = (await client.get(url, headers=people.other_evaluator)).json()

    assert blind["scores"] is None and blind["submitted"] == ["q-2"]
    assert seen["scores"] == {"q-2": "100.00", "q-3": None}
    assert done["calibration"]["state"] == "completed"
    assert done["calibration"]["agreement"]["within_tolerance"] == 0.0
    assert uow.state.outbox[-1].type == "qa.evaluation.calibration-completed.v1"
    assert_problem(await client.post(f"/v1/evaluations/{first}/release", json={}, headers=people.evaluator), 409)


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=12,
    )


VALID_SUBMISSION = {"answers": {"greeting": True, "name": False},
                    "comments": [{"criterion_id": "name", "text": "x", "evidence": {"quote": "hi"}}]}


def near_valid(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    # Each field valid or arbitrary, sometimes missing, sometimes joined by unknown ones: this gets past
    # the first validation error far more often than arbitrary JSON does.
    return st.builds(
        lambda fields, extra: {**{k: v for k, v in fields.items() if v is not ...}, **extra},
        st.fixed_dictionaries({k: st.just(v) | _json_values() | st.just(...) for k, v in valid.items()}),
        st.dictionaries(st.text(max_size=12), _json_values(), max_size=2),
    )


answers = st.dictionaries(st.sampled_from(["greeting", "name", "other"]),
                          st.booleans() | st.just("na") | st.integers(-5, 5) | st.text(max_size=5), max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_json_values() | near_valid(VALID_SUBMISSION) | st.builds(lambda a: {"answers": a}, answers)
       | st.binary(max_size=64))
async def test_any_submission_body_gets_a_score_or_a_problem_never_a_server_error(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People, body: Any
) -> None:
    uow.state = type(uow.state)()
    await take_interaction(uow, completed())
    await published_scorecard(client, people)
    created = await client.post("/v1/evaluations", headers=people.evaluator,
                                json={"interaction_id": "c-1001", "scorecard_id": "sc-voice"})
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    response = await client.post(f"/v1/evaluations/{created.json()['evaluation_id']}/submission", content=raw,
                                 headers={**people.evaluator, "content-type": "application/json"})

    assert response.status_code in (200, 400, 409, 422), response.text
    if response.status_code != 200:
        assert_problem(response, response.status_code)
        if response.status_code == 422:
            assert response.json()["errors"][0]["loc"]
    else:
        assert Decimal(0) <= Decimal(response.json()["score"]) <= Decimal(100)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_json_values() | near_valid(SCORECARD) | st.binary(max_size=64))
async def test_any_scorecard_body_gets_a_draft_or_a_problem_never_a_server_error(
    client: httpx.AsyncClient, people: People, body: Any
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    response = await client.put("/v1/scorecards/sc-fuzz", content=raw,
                                headers={**people.admin, "content-type": "application/json"})

    assert response.status_code in (200, 400, 409, 422), response.text
    if response.status_code != 200:
        assert_problem(response, response.status_code)


ADMIN_BODIES = [
    ("PUT", "/v1/sampling-policies/p-1", {"name": "weekly", "scorecard_id": "sc-voice",
                                          "quota": {"share": "0.1", "minimum": 2}, "stratify_by": ["channel"],
                                          "targeting": {"rules": ["detractor"]}, "evaluator_ids": ["q-2"]}),
    ("POST", "/v1/calibrations", {"interaction_id": "c-1001", "scorecard_id": "sc-voice",
                                  "evaluator_ids": ["q-2", "q-3"], "reference_evaluator_id": "q-2"}),
    ("POST", "/v1/mystery-shop/schedules", {"scenario_ids": ["cancel"], "start": "2026-12-01", "days": 5,
                                            "visits": 10}),
    ("PUT", "/v1/quality-rules", {"require_evidence_for_deductions": True, "dispute_window_days": 7}),
    ("POST", "/v1/sampling-policies/p-1/runs", {"period_start": "2026-11-23", "period_end": "2026-11-30"}),
]


@pytest.mark.parametrize(("method", "url", "valid"), ADMIN_BODIES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_admin_body_gets_an_answer_or_a_problem_never_a_server_error(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People, method: str, url: str, valid: dict[str, Any],
    data: st.DataObject,
) -> None:
    body = data.draw(_json_values() | near_valid(valid) | st.just(valid))
    uow.state = type(uow.state)()
    await take_interaction(uow, completed())
    await published_scorecard(client, people)
    await client.put("/v1/mystery-shop/scenarios/cancel", headers=people.admin, json={
        "title": "Cancel", "brief": "Ask to cancel.", "channel": "voice", "scorecard_id": "sc-voice"})
    await client.put("/v1/sampling-policies/p-1", headers=people.admin, json=ADMIN_BODIES[0][2])

    response = await client.request(method, url, content=json.dumps(body).encode(),
                                    headers={**people.admin, "content-type": "application/json"})

    assert response.status_code in (200, 201, 400, 404, 409, 422), response.text
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
    if body == valid:
        assert response.status_code in (200, 201), response.text


async def test_comments_carry_evidence_and_the_tenant_can_require_it_for_deductions(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People
) -> None:
    await take_interaction(uow, completed())
    await published_scorecard(client, people)
    rules = await client.put("/v1/quality-rules", headers=people.admin,
                             json={"require_evidence_for_deductions": True, "dispute_window_days": 7})
    assert rules.json()["dispute_window_days"] == 7
    created = (await client.post("/v1/evaluations", headers=people.evaluator,
                                 json={"interaction_id": "c-1001", "scorecard_id": "sc-voice"})).json()
    url = f"/v1/evaluations/{created['evaluation_id']}"

    refused = await client.post(f"{url}/submission", headers=people.evaluator,
                                json={"answers": {"greeting": True, "name": False}})
    unknown = await client.post(f"{url}/comments", headers=people.evaluator,
                                json={"criterion_id": "nope", "text": "?"})
    commented = await client.post(f"{url}/comments", headers=people.evaluator, json={
        "criterion_id": "name", "text": "No name used.", "evidence": {"start_s": "3.5", "quote": "Hello, sir."}})
    accepted = await client.post(f"{url}/submission", headers=people.evaluator,
                                 json={"answers": {"greeting": True, "name": False}})

    assert assert_problem(refused, 422)["errors"][0]["loc"] == "body.name"
    assert assert_problem(unknown, 422)["errors"][0]["loc"] == "body.comments.0.criterion_id"
    assert commented.json()["comments"][0]["evidence"]["quote"] == "Hello, sir."
    assert accepted.status_code == 200 and accepted.json()["score"] == "25.00"
    assert_problem(await client.post(f"{url}/comments", headers=people.evaluator,
                                     json={"text": "x", "evidence": {}}), 422)


async def test_reports_and_mystery_shop_planning_over_http(
    client: httpx.AsyncClient, uow: FakeUnitOfWork, people: People
) -> None:
    evaluation = await submitted(client, people, uow)
    url = f"/v1/evaluations/{evaluation['evaluation_id']}"
    await client.post(f"{url}/release", json={}, headers=people.evaluator)
    await client.post(f"{url}/disputes", headers=people.agent, json={"items": [{"criterion_id": "name",
                                                                                "reason": "x"}]})
    await client.post(f"{url}/dispute-resolution", headers=people.evaluator,
                      json={"outcome": "upheld", "reason": "As heard."})

    report = (await client.get("/v1/reports/disputes", headers=people.evaluator)).json()
    review = await client.get("/v1/scorecards/sc-voice/criteria-review", headers=people.evaluator)
    await client.put("/v1/mystery-shop/scenarios/cancel", headers=people.admin, json={
        "title": "Cancel", "brief": "Ask to cancel.", "channel": "voice", "scorecard_id": "sc-voice"})
    plan = await client.post("/v1/mystery-shop/schedules", headers=people.admin, json={
        "scenario_ids": ["cancel"], "start": "2026-12-01", "days": 5, "visits": 10, "seed": "s"})
    missing = await client.post("/v1/mystery-shop/schedules", headers=people.admin, json={
        "scenario_ids": ["nope"], "start": "2026-12-01", "days": 5, "visits": 10})
    notice = await client.post("/v1/mystery-shop/staff-notices", headers=people.admin, json={
        "team_ids": ["t-north"], "informed_on": "2026-11-20", "how": "Team meeting"})
    notices = (await client.get("/v1/mystery-shop/staff-notices", headers=people.agent)).json()["items"]

    assert report["evaluators"] == [{"key": "q-2", "released": 1, "disputed": 1, "overturned": 0,
                                     "dispute_rate": 1.0, "overturn_rate": 0.0}]
    assert review.status_code == 200 and review.json()["items"] == []
    assert plan.status_code == 201 and len(plan.json()["visits"]) == 10
    assert (await client.get(f"/v1/mystery-shop/schedules/{plan.json()['schedule_id']}",
                             headers=people.admin)).json() == plan.json()
    assert_problem(missing, 404)
    assert notice.status_code == 201 and [n["how"] for n in notices] == ["Team meeting"]
    assert_problem(await client.post("/v1/mystery-shop/staff-notices", headers=people.evaluator, json={
        "team_ids": ["t-north"], "informed_on": "2026-11-20", "how": "x"}), 403)
