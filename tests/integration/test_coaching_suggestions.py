"""Suggestions from real Kafka topics: evaluations with failed criteria, self-evaluation gaps, KPI alerts,
a resolved dispute that changes the picture, and unreadable messages on the dead-letter topics."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from coachline.contracts.evaluations import EvaluationDisputeResolved, EvaluationSubmitted
from coachline.contracts.kpi import AlertLevel, KpiAlertRaised, Scope
from coachline.envelope import CloudEvent, header_map, new_event
from coachline.testing import eventually
from coachline_coaching.app import create_app
from coachline_coaching.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def evaluation(evaluation_id: str, *, kind: str = "standard", score: str = "80", interaction: str = "c-1",
               failed: tuple[str, ...] = (), day: int = 0) -> CloudEvent:
    criteria = [{"criterion_id": c, "section_id": "greeting", "applicable": True, "earned": "0", "possible": "2"}
                for c in failed]
    criteria.append({"criterion_id": "closing", "section_id": "closing", "applicable": True, "earned": "2",
                     "possible": "2"})
    data = EvaluationSubmitted.model_validate({
        "evaluation_id": evaluation_id, "interaction_id": interaction, "agent_id": "a-17", "evaluator_id": "q-2",
        "scorecard_id": "sc-voice", "scorecard_version": 3, "score": score, "kind": kind, "team_id": "t-north",
        "submitted_at": (NOW - timedelta(days=10 - day)).isoformat(), "criteria": criteria})
    return new_event("qa.evaluation.submitted.v1", "acme", data, source="test")


async def send(service_env: dict[str, str], *records: tuple[str, bytes, list[tuple[str, bytes]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"], enable_idempotence=True)
    await producer.start()
    try:
        for topic, body, headers in records:
            await producer.send_and_wait(service_env["COACHLINE_TOPIC_PREFIX"] + topic, body, key=b"acme:a-17",
                                         headers=headers)
    finally:
        await producer.stop()


def record(event: CloudEvent) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    return event.topic, event.body(), [(k, v.encode()) for k, v in event.headers().items()]


async def test_failed_criteria_self_gaps_and_alerts_become_suggestions_with_evidence(
    settings_for, run_app, service_env, identity
) -> None:
    url = await run_app(create_app(settings_for(Settings)))
    alert = KpiAlertRaised(alert_id="al-7", kpi="aht_s", scope=Scope.AGENT, scope_id="a-17", level=AlertLevel.ALERT,
                           value=Decimal("431"), threshold=Decimal("360"), raised_at=NOW)
    team_alert = alert.model_copy(update={"scope": Scope.TEAM, "scope_id": "t-north", "alert_id": "al-8"})
    await send(service_env,
               record(evaluation("e-1", failed=("used-name",), day=1)),
               record(evaluation("e-2", failed=("used-name",), day=2)),
               record(evaluation("e-3", failed=("used-name",), day=3, interaction="c-3", score="60")),
               record(evaluation("s-3", kind="self", score="95", interaction="c-3", day=4)),
               record(new_event("kpi.alert.raised.v1", "acme", alert, source="test")),
               record(new_event("kpi.alert.raised.v1", "acme", team_alert, source="test")))
    admin = identity.headers("acme", "admin")

    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        async def suggestions(count: int) -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (await c.get("/v1/agents/a-17/suggestions", headers=admin)).json()["items"]
            return items if len(items) >= count else None

        found = {s["rule"]: s for s in await eventually(lambda: suggestions(3), timeout=60)}
        assert set(found) == {"criterion_repeatedly_failed", "self_evaluation_gap", "kpi_alert"}
        repeated = found["criterion_repeatedly_failed"]
        assert (repeated["focus"], [e["id"] for e in repeated["evidence"]]) == ("used-name", ["e-3", "e-2", "e-1"])
        assert repeated["evidence"][0]["detail"] == "0.000 of 2.000 points"
        gap = found["self_evaluation_gap"]
        assert (gap["focus"], [e["id"] for e in gap["evidence"]]) == ("interaction:c-3", ["s-3", "e-3"])
        assert (found["kpi_alert"]["focus"], found["kpi_alert"]["evidence"][0]["id"]) == ("aht_s", "al-7")

        # A dispute re-scores e-3 without the failed criterion: the evidence shrinks to what still holds.
        resolved = EvaluationDisputeResolved.model_validate({
            "evaluation_id": "e-3", "agent_id": "a-17", "dispute_id": "d-1", "interaction_id": "c-3",
            "scorecard_id": "sc-voice", "scorecard_version": 3, "outcome": "rescored", "score": "100",
            "resolved_at": NOW.isoformat(),
            "decision": {"decided_by": "q-2", "decided_at": NOW.isoformat(), "reason": "Name used at 00:42.",
                         "previous_score": "60", "score": "100", "changed_criteria": ["used-name"]},
            "criteria": [{"criterion_id": "used-name", "section_id": "greeting", "applicable": True,
                          "earned": "2", "possible": "2"}]})
        await send(service_env, record(evaluation("e-4", failed=("used-name",), day=5)),
                   record(new_event("qa.evaluation.dispute-resolved.v1", "acme", resolved, source="test")))

        async def refreshed() -> list[str] | None:
            items = (await c.get("/v1/agents/a-17/suggestions", headers=admin)).json()["items"]
            [repeated] = [s for s in items if s["rule"] == "criterion_repeatedly_failed"]
            ids = [e["id"] for e in repeated["evidence"]]
            return ids if ids == ["e-4", "e-2", "e-1"] else None

        assert await eventually(refreshed, timeout=60) == ["e-4", "e-2", "e-1"]
        agent = identity.headers("acme", "agent", agent_id="a-17")
        assert (await c.get("/v1/agents/a-17/suggestions", headers=agent)).status_code == 403


def envelope(type_name: str) -> list[tuple[str, bytes]]:
    return [("ce_specversion", b"1.0"), ("ce_id", uuid.uuid4().hex.encode()), ("ce_source", b"test"),
            ("ce_type", type_name.encode()), ("ce_time", NOW.isoformat().encode()), ("ce_tenantid", b"acme"),
            ("content-type", b"application/json")]


@pytest.mark.parametrize(("topic", "headers", "body"), [
    ("qa.evaluations.v1", [], b"garbage"),
    ("qa.evaluations.v1", envelope("qa.evaluation.submitted.v1"), b'{"evaluation_id": 5}'),
    ("kpi.alerts.v1", [], b"\x00\xff"),
    ("kpi.alerts.v1", envelope("kpi.alert.raised.v1"), b'{"alert_id": "al-1"}'),
    ("cc.roster.v1", envelope("cc.roster.agent.v1"), b'{"agent_id": "", "occurred_at": 0}'),
    ("cc.roster.v1", envelope("made.up.v1"), b"{}"),
])
async def test_a_message_coaching_cannot_read_goes_to_the_dead_letter_topic_with_the_reason(
    settings_for, run_app, service_env, topic_reader, topic: str, headers: list[tuple[str, bytes]], body: bytes
) -> None:
    await run_app(create_app(settings_for(Settings)))
    marker = uuid.uuid4().hex.encode()
    await send(service_env, (topic, body, [*headers, ("probe", marker)]))
    reader = await topic_reader(topic.removesuffix(".v1") + ".dlq.v1")
    seen: list[Any] = []

    async def arrived() -> Any:
        batch = await reader.consumer.getmany(timeout_ms=500)
        seen.extend(r for records in batch.values() for r in records)
        return next((r for r in seen if header_map(r.headers).get("probe") == marker), None)

    dead = await eventually(arrived, timeout=60)
    assert dead.value == body
    assert header_map(dead.headers)["dlq_reason"]
