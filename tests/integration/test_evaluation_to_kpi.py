"""Evaluation and KPI together: a policy assigns, the evaluator submits, the agent disputes, and the re-score
replaces the agent's and the team's quality score in KPI."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from coachline.contracts.interactions import InteractionWrappedUp
from coachline.envelope import new_event
from coachline.testing import eventually
from coachline_evaluation.app import create_app as create_evaluation
from coachline_evaluation.settings import Settings as EvaluationSettings
from coachline_kpi.app import create_app as create_kpi
from coachline_kpi.settings import Settings as KpiSettings

pytestmark = pytest.mark.integration

SCORECARD = {"name": "Voice", "sections": [{"section_id": "call", "title": "Call", "goal": "quality", "criteria": [
    {"criterion_id": "greeting", "title": "Greeting", "points": 1},
    {"criterion_id": "name", "title": "Used the name", "points": 3}]}]}


async def test_a_rescore_replaces_the_quality_score_of_agent_and_team(
    settings_for, run_app, service_env, identity
) -> None:
    evaluation = await run_app(create_evaluation(settings_for(EvaluationSettings)))
    kpi = await run_app(create_kpi(settings_for(KpiSettings, min_sample=1)))
    admin = identity.headers("acme", "admin", subject="boss")
    evaluator = identity.headers("acme", "quality_evaluator", subject="q-2")
    agent = identity.headers("acme", "agent", subject="u-17", agent_id="a-17", teams=("t-north",))
    done = new_event("cc.interaction.wrapped-up.v1", "acme", InteractionWrappedUp(
        interaction_id="c-1001", queue_id="billing", channel="voice", agent_id="a-17", team_id="t-north",
        occurred_at=datetime.now(UTC) - timedelta(minutes=30), talk_s=Decimal("300")), source="test")
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"], enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(service_env["COACHLINE_TOPIC_PREFIX"] + done.topic, done.body(),
                                     key=done.key.encode(),
                                     headers=[(k, v.encode()) for k, v in done.headers().items()])
    finally:
        await producer.stop()

    async with httpx.AsyncClient(timeout=30) as client:
        async def pool() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get(f"{evaluation}/v1/sampling-pool", headers=evaluator)
                                           ).json()["items"]
            return items

        def quality(scope: str, scope_id: str, expected: str) -> Any:
            async def check() -> bool:
                answer = await client.get(f"{kpi}/v1/kpis", headers=admin,
                                          params={"scope": scope, "scope_id": scope_id})
                items = answer.json().get("items", [])
                return any(Decimal(str(i["figures"].get("quality_score") or -1)) == Decimal(expected)
                           for i in items if i["window"].startswith("day:"))
            return check

        await eventually(pool, timeout=60)
        assert (await client.put(f"{evaluation}/v1/scorecards/voice", json=SCORECARD, headers=admin)).is_success
        assert (await client.post(f"{evaluation}/v1/scorecards/voice/versions/1/status",
                                  json={"status": "published"}, headers=admin)).is_success
        policy = {"name": "weekly", "scorecard_id": "voice", "quota": {"count": 1}, "evaluator_ids": ["q-2"]}
        assert (await client.put(f"{evaluation}/v1/sampling-policies/weekly", json=policy, headers=admin)).is_success
        today = datetime.now(UTC).date()
        period = {"period_start": str(today - timedelta(days=1)), "period_end": str(today + timedelta(days=1))}
        run = await client.post(f"{evaluation}/v1/sampling-policies/weekly/runs", headers=admin, json=period)
        assert run.status_code == 201, run.text
        [evaluation_id] = run.json()["evaluation_ids"]
        url = f"{evaluation}/v1/evaluations/{evaluation_id}"
        submitted = await client.post(f"{url}/submission", headers=evaluator,
                                      json={"answers": {"greeting": True, "name": False}})
        assert submitted.status_code == 200, submitted.text
        await eventually(quality("agent", "a-17", "25"), timeout=60)
        await eventually(quality("team", "t-north", "25"), timeout=60)

        assert (await client.post(f"{url}/release", json={}, headers=evaluator)).is_success
        assert (await client.post(f"{url}/disputes", headers=agent, json={
            "items": [{"criterion_id": "name", "proposed_answer": True, "reason": "Said at 00:42."}]})).is_success
        assert (await client.post(f"{url}/dispute-resolution", headers=evaluator, json={
            "outcome": "rescored", "reason": "Heard it at 00:42.", "answers": {"name": True}})).is_success

        await eventually(quality("agent", "a-17", "100"), timeout=60)
        await eventually(quality("team", "t-north", "100"), timeout=60)
