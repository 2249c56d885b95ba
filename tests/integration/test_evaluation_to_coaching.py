"""The walking skeleton from a completed interaction to a coaching session HR systems can read."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from coachline.contracts.interactions import InteractionWrappedUp
from coachline.envelope import new_event
from coachline.testing import eventually
from coachline_coaching.app import create_app as create_coaching
from coachline_coaching.settings import Settings as CoachingSettings
from coachline_evaluation.app import create_app as create_evaluation
from coachline_evaluation.settings import Settings as EvaluationSettings

pytestmark = pytest.mark.integration


async def test_an_evaluated_interaction_is_reviewed_in_a_coaching_session(
    settings_for, run_app, service_env, topic_reader, identity
) -> None:
    evaluator = identity.headers("acme", "quality_evaluator", subject="q-2")
    qa_admin = identity.headers("acme", "admin", subject="qa-admin")
    lead = identity.headers("acme", "team_lead", "admin", subject="tl-3", teams=("t-north",))
    evaluation = await run_app(create_evaluation(settings_for(EvaluationSettings)))
    coaching = await run_app(create_coaching(settings_for(CoachingSettings)))
    done = new_event("cc.interaction.wrapped-up.v1", "acme", InteractionWrappedUp(
        interaction_id="c-1001", queue_id="billing", channel="chat", agent_id="a-17", team_id="t-north",
        occurred_at=datetime.now(UTC) - timedelta(hours=3), talk_s=Decimal("420")), source="test")
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
            return (await client.get(f"{evaluation}/v1/sampling-pool", headers=evaluator)).json()["items"]

        async def evidence() -> list[dict[str, Any]]:
            return (await client.get(f"{coaching}/v1/agents/a-17/evaluations", headers=lead)).json()["items"]

        await eventually(pool, timeout=60)
        scorecard = {"name": "Chat", "sections": [{"section_id": "chat", "title": "Chat", "goal": "quality",
                                                   "criteria": [{"criterion_id": "verified", "title": "Verified",
                                                                 "critical": "evaluation"}]}]}
        assert (await client.put(f"{evaluation}/v1/scorecards/sc-chat", json=scorecard, headers=qa_admin)).is_success
        assert (await client.post(f"{evaluation}/v1/scorecards/sc-chat/versions/1/status",
                                  json={"status": "published"}, headers=qa_admin)).is_success
        submitted = await client.post(f"{evaluation}/v1/evaluations", headers=evaluator, json={
            "interaction_id": "c-1001", "scorecard_id": "sc-chat", "answers": {"verified": False}})
        assert submitted.status_code == 201, submitted.text
        evaluation_id = submitted.json()["evaluation_id"]

        [reviewed] = await eventually(evidence, timeout=60)
        assert (reviewed["evaluation_id"], reviewed["score"], reviewed["critical_failed"]) == (evaluation_id,
                                                                                               "0.00", True)

        recorded = await client.post(f"{coaching}/v1/sessions", headers=lead, json={
            "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review",
            "held": {"held_at": datetime.now(UTC).isoformat(), "evaluation_ids": [evaluation_id]}})
        assert recorded.status_code == 201, recorded.text

    reader = await topic_reader("coaching.v1")
    [event] = await reader.events(1)
    assert event.type == "coaching.session.held.v1"
    assert event.data.model_dump()["evaluation_ids"] == [evaluation_id]
