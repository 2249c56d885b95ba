"""The coaching story across services, in-process on real Kafka and PostgreSQL.

Evaluations with a failed criterion produce a suggestion; a team lead opens a period with a KPI goal,
holds a session with agreed actions; the agent sees them on their timeline; an HR system subscribed
through notifications receives the ``coaching.v1`` events with valid Standard Webhooks signatures.
"""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coachline.contracts.interactions import InteractionWrappedUp
from coachline.contracts.roster import AgentRostered, TeamRostered
from coachline.envelope import CloudEvent, new_event
from coachline.testing import eventually
from coachline_coaching.app import create_app as create_coaching
from coachline_coaching.kpi_client import KpiService
from coachline_coaching.settings import Settings as CoachingSettings
from coachline_evaluation.app import create_app as create_evaluation
from coachline_evaluation.settings import Settings as EvaluationSettings
from coachline_kpi.app import create_app as create_kpi
from coachline_kpi.settings import Settings as KpiSettings
from coachline_notifications.app import create_app as create_notifications
from coachline_notifications.settings import Settings as NotificationsSettings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.date().isoformat()
COACHING_TYPES = ["coaching.period.started.v1", "coaching.goal.set.v1", "coaching.session.held.v1",
                  "coaching.action.agreed.v1"]


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, written from the Standard Webhooks specification alone."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in headers["webhook-signature"].split())


async def publish(service_env: dict[str, str], events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"], enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(service_env["COACHLINE_TOPIC_PREFIX"] + e.topic, e.body(), key=e.key.encode(),
                                         headers=[(k, v.encode()) for k, v in e.headers().items()])
    finally:
        await producer.stop()


async def test_a_failed_criterion_leads_to_coaching_the_agent_sees_and_hr_receives_signed(
    settings_for, run_app, service_env, identity
) -> None:
    kpi = await run_app(create_kpi(settings_for(KpiSettings)))
    evaluation = await run_app(create_evaluation(settings_for(EvaluationSettings)))
    coaching = await run_app(create_coaching(settings_for(CoachingSettings, repeated_failures=2),
                                             kpis=KpiService(kpi, 10)))
    notifications = await run_app(create_notifications(settings_for(NotificationsSettings,
                                                                     webhook_allow_loopback=True)))
    received: list[tuple[dict[str, str], bytes]] = []

    async def hr_system(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    receiver = await run_app(Starlette(routes=[Route("/hooks/coaching", hr_system, methods=["POST"])]))
    at = NOW - timedelta(days=20)
    await publish(service_env, [
        new_event("cc.roster.team.v1", "acme", TeamRostered(team_id="t-north", name="North", unit_id="u-hel",
                                                            occurred_at=at), source="test"),
        new_event("cc.roster.agent.v1", "acme", AgentRostered(agent_id="a-17", team_id="t-north", occurred_at=at),
                  source="test"),
        *[new_event("cc.interaction.wrapped-up.v1", "acme", InteractionWrappedUp(
            interaction_id=f"c-{i}", queue_id="billing", channel="voice", agent_id="a-17", team_id="t-north",
            occurred_at=NOW - timedelta(hours=3), talk_s=Decimal("300")), source="test") for i in (1, 2)],
    ])
    admin = identity.headers("acme", "admin", subject="hr-admin")
    evaluator = identity.headers("acme", "quality_evaluator", subject="q-2")
    lead = identity.headers("acme", "team_lead", subject="tl-3", teams=("t-north",))
    agent = identity.headers("acme", "agent", subject="a-17", agent_id="a-17", teams=("t-north",))

    async with httpx.AsyncClient(timeout=30) as c:
        subscribed = await c.post(f"{notifications}/v1/subscriptions", headers=admin, json={
            "url": f"{receiver}/hooks/coaching", "event_types": COACHING_TYPES})
        assert subscribed.status_code == 201, subscribed.text
        secret = subscribed.json()["secret"]

        async def pooled() -> bool:
            pool = await c.get(f"{evaluation}/v1/sampling-pool", headers=evaluator)
            return pool.status_code == 200 and "c-1" in pool.text and "c-2" in pool.text

        await eventually(pooled, timeout=60)
        scorecard = {"name": "Voice", "sections": [{"section_id": "greeting", "title": "Greeting", "goal": "quality",
                                                    "criteria": [{"criterion_id": "used-name", "title": "Used name"},
                                                                 {"criterion_id": "smiled", "title": "Smiled"}]}]}
        assert (await c.put(f"{evaluation}/v1/scorecards/sc-voice", json=scorecard, headers=admin)).is_success
        assert (await c.post(f"{evaluation}/v1/scorecards/sc-voice/versions/1/status",
                             json={"status": "published"}, headers=admin)).is_success
        for interaction in ("c-1", "c-2"):
            submitted = await c.post(f"{evaluation}/v1/evaluations", headers=evaluator, json={
                "interaction_id": interaction, "scorecard_id": "sc-voice",
                "answers": {"used-name": False, "smiled": True}})
            assert submitted.status_code == 201, submitted.text

        async def suggested() -> list[dict[str, Any]]:
            answer = await c.get(f"{coaching}/v1/agents/a-17/suggestions", headers=lead)
            return [s for s in answer.json().get("items", []) if s["rule"] == "criterion_repeatedly_failed"]

        [suggestion] = await eventually(suggested, timeout=60)
        assert suggestion["focus"] == "used-name" and len(suggestion["evidence"]) == 2

        period = await c.post(f"{coaching}/v1/periods", headers=lead, json={"agent_id": "a-17", "starts_on": TODAY})
        assert period.status_code == 201, period.text
        pid = period.json()["period_id"]
        goal = await c.post(f"{coaching}/v1/periods/{pid}/goals", headers=lead, json={
            "kind": "kpi", "kpi": "quality_score", "target": "85", "due_on": period.json()["ends_on"],
            "description": "Use the customer's name in every call"})
        assert goal.status_code == 201, goal.text
        held = await c.post(f"{coaching}/v1/sessions", headers=lead, json={
            "agent_id": "a-17", "coach_id": "tl-3", "kind": "evaluation_review", "period_id": pid,
            "held": {"held_at": NOW.isoformat(), "evaluation_ids": [e["id"] for e in suggestion["evidence"]],
                     "actions": [{"owner": "agent", "description": "Say the name at the greeting",
                                  "due_on": TODAY}]}})
        assert held.status_code == 201, held.text

        [entry] = (await c.get(f"{coaching}/v1/agents/a-17/timeline", headers=agent)).json()["items"]
        assert [a["description"] for a in entry["actions_agreed"]] == ["Say the name at the greeting"]

    async def delivered() -> list[str] | None:
        types = sorted(json.loads(body)["type"] for _, body in received)
        return types if len(types) >= 4 else None

    assert await eventually(delivered, timeout=90) == sorted(COACHING_TYPES)
    for headers, body in received:
        assert verify_standard_webhook(secret, headers, body)
        assert not verify_standard_webhook(secret, headers, body.replace(b"a-17", b"a-18"))
        delivery = json.loads(body)
        assert delivery["tenant_id"] == "acme" and delivery["data"]["agent_id"] == "a-17"
        assert delivery["data"]["human_review_required"] is True
