"""Evaluation in-process against real Kafka and PostgreSQL: the pool from the topics, a sampling run, the
lifecycle with a dispute and re-score published through the outbox, mystery shops, dead letters, fuzzing."""

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.interactions import InteractionAnswered, InteractionOffered, InteractionWrappedUp
from coachline.contracts.mystery_shops import MysteryShopCompleted
from coachline.contracts.roster import AgentRostered
from coachline.contracts.surveys import SurveyAnswered
from coachline.envelope import CloudEvent, decode, header_map, new_event
from coachline.testing import Identity, eventually, metric_value
from coachline_evaluation.app import create_app
from coachline_evaluation.settings import Settings

pytestmark = pytest.mark.integration

OCCURRED = datetime(2026, 11, 23, 9, 6, 40, tzinfo=UTC)
SCORECARD = {"name": "Voice", "sections": [
    {"section_id": "opening", "title": "Opening", "goal": "quality", "criteria": [
        {"criterion_id": "greeting", "title": "Greeting", "points": 1},
        {"criterion_id": "name", "title": "Used the name", "points": 3}]},
    {"section_id": "sale", "title": "Sale", "goal": "sales", "criteria": [
        {"criterion_id": "offer", "title": "Offer made", "points": 2, "critical": "none"}]},
]}


def completed(interaction: str = "c-1001", agent: str = "a-17", tenant: str = "acme",
              talk_s: str = "310") -> CloudEvent:
    data = InteractionWrappedUp(interaction_id=interaction, queue_id="billing", channel="voice", agent_id=agent,
                                team_id="t-north", occurred_at=OCCURRED, talk_s=Decimal(talk_s),
                                hold_s=Decimal("25"), after_contact_work_s=Decimal("45"))
    return new_event("cc.interaction.wrapped-up.v1", tenant, data, source="test")


class People:
    def __init__(self, identity: Identity) -> None:
        self.admin = identity.headers("acme", "admin", subject="boss")
        self.evaluator = identity.headers("acme", "quality_evaluator", subject="q-2")
        self.agent = identity.headers("acme", "agent", subject="u-17", agent_id="a-17", teams=("t-north",))
        self.other_tenant = identity.headers("globex", "admin", subject="boss")


async def publish_scorecard(client: httpx.AsyncClient, people: People) -> None:
    put = await client.put("/v1/scorecards/sc-voice", json=SCORECARD, headers=people.admin)
    assert put.status_code == 200, put.text
    published = await client.post("/v1/scorecards/sc-voice/versions/1/status", json={"status": "published"},
                                  headers=people.admin)
    assert published.status_code == 200, published.text


async def test_sampling_assigns_and_a_dispute_rescore_is_published_with_its_history(
    settings_for, run_app, service_env, publish, topic_reader, identity
) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    people = People(identity)
    offered = new_event("cc.interaction.offered.v1", "acme", InteractionOffered(
        interaction_id="c-1001", queue_id="billing", channel="voice", occurred_at=OCCURRED), source="test")
    answered = new_event("cc.interaction.answered.v1", "acme", InteractionAnswered(
        interaction_id="c-1001", queue_id="billing", channel="voice", agent_id="a-17", occurred_at=OCCURRED,
        queue_wait_s=Decimal(12)), source="test")
    survey = new_event("cc.survey.answered.v1", "acme", SurveyAnswered(
        survey_id="s-1", interaction_id="c-1001", occurred_at=OCCURRED, nps=1), source="test")
    roster = new_event("cc.roster.agent.v1", "acme", AgentRostered(
        agent_id="a-17", team_id="t-north", occurred_at=OCCURRED), source="test")
    await publish(offered, answered, completed(), completed("c-2"), completed("c-3"), survey, roster)

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def pool() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/v1/sampling-pool", headers=people.evaluator)
                                           ).json()["items"]
            return items if len(items) == 3 else []

        await eventually(pool, timeout=60)
        await eventually(lambda: metric_value(client, 'coachline_evaluation_input_events_total{outcome="added",'
                                                 'topic="cc.surveys.v1"}'), timeout=60)
        assert (await client.get("/v1/sampling-pool", headers=people.other_tenant)).json()["items"] == []
        await publish_scorecard(client, people)
        policy = {"name": "weekly", "scorecard_id": "sc-voice", "quota": {"count": 1}, "evaluator_ids": ["q-2"],
                  "targeting": {"rules": ["detractor"], "max_share": "1"}}
        assert (await client.put("/v1/sampling-policies/weekly", json=policy, headers=people.admin)).is_success

        run = await client.post("/v1/sampling-policies/weekly/runs", headers=people.admin,
                                json={"period_start": "2026-11-23", "period_end": "2026-11-30", "seed": "audit"})
        assert run.status_code == 201, run.text
        [pick] = run.json()["selection"]["picks"]
        assert (pick["interaction_id"], pick["reason"]) == ("c-1001", "targeted:detractor")
        [evaluation_id] = run.json()["evaluation_ids"]
        evaluation_url = f"/v1/evaluations/{evaluation_id}"

        steps = [
            ("start", people.evaluator, None),
            ("submission", people.evaluator, {"answers": {"greeting": True, "name": False, "offer": True},
                                              "comments": [{"criterion_id": "name", "text": "No name used.",
                                                            "evidence": {"start_s": "5", "end_s": "60"}}]}),
            ("release", people.evaluator, {}),
            ("disputes", people.agent, {"items": [{"criterion_id": "name", "proposed_answer": True,
                                                   "reason": "I said it at 00:42."}]}),
            ("dispute-resolution", people.evaluator, {"outcome": "rescored", "reason": "Heard it at 00:42.",
                                                      "answers": {"name": True}}),
        ]
        for step, who, body in steps:
            answer = await client.post(f"{evaluation_url}/{step}", json=body, headers=who)
            assert answer.status_code == 200, (step, answer.text)
        final = (await client.get(evaluation_url, headers=people.agent)).json()
        assert final["score"] == "100.00" and final["state"] == "resolved"
        assert (await client.get(evaluation_url, headers=people.other_tenant)).status_code == 404
        score = (await client.get("/v1/agents/a-17/quality-score", headers=people.agent)).json()
        assert (score["score"], score["n"]) == (100.0, 1)

    reader = await topic_reader("qa.evaluations.v1")
    records = await reader.records(5)
    events = [decode(header_map(r.headers), r.value) for r in records]
    assert {r.key for r in records} == {b"acme:a-17"}
    assert [e.type for e in events] == [
        "qa.evaluation.assigned.v1", "qa.evaluation.submitted.v1", "qa.evaluation.released.v1",
        "qa.evaluation.disputed.v1", "qa.evaluation.dispute-resolved.v1"]
    submitted = events[1].data.model_dump(mode="json")
    assert (submitted["score"], submitted["kind"], submitted["team_id"]) == ("62.50", "standard", "t-north")
    assert [s["score"] for s in submitted["sections"]] == ["25.00", "100.00"]
    resolved = events[4].data.model_dump(mode="json")
    assert (resolved["outcome"], resolved["score"], resolved["agent_id"], resolved["kind"]) == (
        "rescored", "100.00", "a-17", "standard")
    assert resolved["decision"] | {"decided_at": None} == {
        "decided_by": "q-2", "decided_at": None, "reason": "Heard it at 00:42.", "previous_score": "62.50",
        "score": "100.00", "changed_criteria": ["name"]}


async def test_a_redelivered_interaction_changes_nothing(settings_for, run_app, service_env, publish, identity) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    people = People(identity)
    first = completed(talk_s="310")
    # The same event id with different content: only the inbox, not an idempotent write, can drop it.
    redelivered = dataclasses.replace(first, data=completed(talk_s="999").data)

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def pool() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/v1/sampling-pool", headers=people.evaluator)
                                           ).json()["items"]
            return items

        await publish(first)
        [entry] = await eventually(pool, timeout=60)
        await publish(redelivered)
        duplicates = 'coachline_evaluation_interaction_events_total{outcome="duplicate"}'
        assert await eventually(lambda: metric_value(client, duplicates)) == 1

        assert await pool() == [entry]
        assert entry["talk_s"] == "310.000"


async def test_a_mystery_shop_is_scored_apart_and_an_unknown_scenario_is_dead_lettered(
    settings_for, run_app, service_env, publish, topic_reader, identity
) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    people = People(identity)
    await publish(completed("c-9"))

    def shop(visit: str, scenario: str) -> CloudEvent:
        return new_event("cc.mystery-shop.completed.v1", "acme", MysteryShopCompleted(
            visit_id=visit, scenario_id=scenario, channel="voice", occurred_at=OCCURRED, interaction_id="c-9",
            answers={"greeting": "yes", "name": "no", "offer": "n/a"}), source="test")

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def pool() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/v1/sampling-pool", headers=people.evaluator)
                                           ).json()["items"]
            return items

        await eventually(pool, timeout=60)
        await publish_scorecard(client, people)
        scenario = {"title": "Cancel", "brief": "Ask to cancel; accept a retention offer.", "channel": "voice",
                    "scorecard_id": "sc-voice"}
        assert (await client.put("/v1/mystery-shop/scenarios/cancel", json=scenario, headers=people.admin)).is_success
        await publish(shop("v-1", "cancel"), shop("v-2", "no-such-scenario"))

        async def results() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/v1/mystery-shop/results", headers=people.admin)
                                           ).json()["items"]
            return items

        [result] = await eventually(results, timeout=60)
        assert (result["kind"], result["agent_id"], result["score"]) == ("mystery_shop", "a-17", "25.00")
        assert (await client.get("/v1/agents/a-17/quality-score", headers=people.admin)).json()["n"] == 0

    dead = await topic_reader("cc.mystery-shops.dlq.v1")
    [record] = await dead.records(1, timeout=90)
    reasons = " ".join(v.decode(errors="replace") for _, v in record.headers)
    assert "no-such-scenario" in reasons


@pytest.fixture
async def evaluation_url(settings_for, run_app, service_env, publish, identity) -> str:
    url = await run_app(create_app(settings_for(Settings)))
    people = People(identity)
    await publish(completed())
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def pool() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/v1/sampling-pool", headers=people.evaluator)
                                           ).json()["items"]
            return items

        await eventually(pool, timeout=60)
        await publish_scorecard(client, people)
    return url


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
answers = st.dictionaries(st.sampled_from(["greeting", "name", "offer", "x"]),
                          st.booleans() | st.just("na") | st.integers(-3, 3) | json_values, max_size=4)
VALID = {"interaction_id": "c-1001", "scorecard_id": "sc-voice", "answers": {"greeting": True, "name": True,
                                                                             "offer": False}}
# Valid fields mixed with arbitrary ones, so many requests reach PostgreSQL rather than stop at validation.
near_valid = st.builds(
    lambda fields, extra: {**{k: v for k, v in fields.items() if v is not ...}, **extra},
    st.fixed_dictionaries({"interaction_id": st.just("c-1001") | json_values | st.just(...),
                           "scorecard_id": st.just("sc-voice") | json_values | st.just(...),
                           "answers": answers | st.just(...), "agent_id": st.just(...) | st.just("a-17")}),
    st.dictionaries(st.text(max_size=12), json_values, max_size=1),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=near_valid | json_values)
async def test_any_evaluation_body_gets_an_evaluation_or_a_problem_never_a_server_error(
    evaluation_url: str, identity: Identity, body: Any
) -> None:
    async with httpx.AsyncClient(base_url=evaluation_url, timeout=30) as client:
        answer = await client.post("/v1/evaluations", content=json.dumps(body).encode(),
                                   headers={**People(identity).evaluator, "content-type": "application/json"})
    assert answer.status_code in (201, 400, 404, 409, 422), answer.text
    if answer.status_code != 201:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == answer.status_code
