"""Goal progress and a period's effect from real KPI figures: the KPI service and coaching both running
in-process on real Kafka and PostgreSQL, coaching reading the KPI service over HTTP with the caller's token."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from coachline.contracts.registry import EVENT_TYPES
from coachline.envelope import CloudEvent, new_event
from coachline.testing import eventually
from coachline_coaching.app import create_app as create_coaching
from coachline_coaching.kpi_client import KpiService
from coachline_coaching.settings import Settings as CoachingSettings
from coachline_kpi.app import create_app as create_kpi
from coachline_kpi.settings import Settings as KpiSettings

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
YESTERDAY = TODAY - timedelta(days=1)


def event(type_name: str, data: dict[str, Any], event_id: str) -> CloudEvent:
    return new_event(type_name, "acme", EVENT_TYPES[type_name].model.model_validate(data), source="test",
                     event_id=event_id)


def contacts(n: int, day: datetime, talk_s: str, tag: str) -> list[CloudEvent]:
    out = []
    for i in range(n):
        iid = f"c-{tag}-{i}"
        base = {"interaction_id": iid, "queue_id": "billing", "channel": "voice"}
        who = {"agent_id": "a-17", "team_id": "t-north"}
        out += [event("cc.interaction.offered.v1", {**base, "occurred_at": day}, f"{iid}-o"),
                event("cc.interaction.answered.v1", {**base, **who, "occurred_at": day, "queue_wait_s": "5"},
                      f"{iid}-a"),
                event("cc.interaction.wrapped-up.v1", {**base, **who, "occurred_at": day + timedelta(minutes=5),
                                                       "talk_s": talk_s, "hold_s": "0", "after_contact_work_s": "20"},
                      f"{iid}-w")]
    return out


def surveys(scores: tuple[int, ...], day: datetime, tag: str) -> list[CloudEvent]:
    return [event("cc.survey.answered.v1", {"survey_id": f"s-{tag}-{i}", "interaction_id": f"c-{tag}-{i}",
                                            "agent_id": "a-17", "occurred_at": day, "csat": score}, f"s-{tag}-{i}")
            for i, score in enumerate(scores)]


async def publish(service_env: dict[str, str], events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"], enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(service_env["COACHLINE_TOPIC_PREFIX"] + e.topic, e.body(), key=e.key.encode(),
                                         headers=[(k, v.encode()) for k, v in e.headers().items()])
    finally:
        await producer.stop()


async def test_goal_progress_and_the_effect_of_a_period_come_from_the_kpi_service(
    settings_for, run_app, service_env, identity
) -> None:
    kpi_url = await run_app(create_kpi(settings_for(KpiSettings)))
    coaching_url = await run_app(create_coaching(settings_for(CoachingSettings),
                                                 kpis=KpiService(kpi_url, 10)))
    roster = [event("cc.roster.team.v1", {"team_id": "t-north", "name": "North", "unit_id": "u-hel",
                                          "occurred_at": TODAY - timedelta(days=30)}, "r-t"),
              event("cc.roster.agent.v1", {"agent_id": "a-17", "team_id": "t-north",
                                           "occurred_at": TODAY - timedelta(days=30)}, "r-a")]
    # Before the period: 5 contacts of 100 + 20 s (AHT 120), 3 of 5 customers satisfied (CSAT 0.6).
    # During: 6 contacts of 180 + 20 s (AHT 200), 5 of 6 satisfied (CSAT 0.833333).
    before = [*contacts(5, YESTERDAY, "100", "before"), *surveys((5, 4, 2, 3, 5), YESTERDAY, "before")]
    during = [*contacts(6, TODAY, "180", "now"), *surveys((5, 5, 4, 1, 4, 5), TODAY, "now")]
    await publish(service_env, [*roster, *before, *during])
    lead = identity.headers("acme", "team_lead", subject="tl-3", teams=("t-north",))

    async with httpx.AsyncClient(timeout=30) as c:
        async def folded() -> bool:
            answer = await c.get(f"{kpi_url}/v1/kpis/series", headers=lead, params={
                "scope": "agent", "scope_id": "a-17", "kind": "day", "since": YESTERDAY.date().isoformat(),
                "until": TODAY.date().isoformat()})
            answered = [(i["figures"].get("handled"), i["figures"].get("csat")) for i in answer.json().get("items", [])]
            return answer.status_code == 200 and sorted(answered) == [("5", "0.600000"), ("6", "0.833333")]

        async def placed() -> bool:
            return (await c.get(f"{coaching_url}/v1/agents/a-17/periods", headers=lead)).status_code == 200

        await eventually(folded, timeout=90)
        await eventually(placed, timeout=60)

        opened = await c.post(f"{coaching_url}/v1/periods", headers=lead, json={
            "agent_id": "a-17", "starts_on": TODAY.date().isoformat(),
            "ends_on": (TODAY + timedelta(days=13)).date().isoformat()})
        assert opened.status_code == 201, opened.text
        pid = opened.json()["period_id"]
        goals = {}
        for kpi, target, description in (("aht_s", "150", "Shorter wrap-up"), ("csat", "0.8", "Happier callers")):
            goal = await c.post(f"{coaching_url}/v1/periods/{pid}/goals", headers=lead, json={
                "kind": "kpi", "kpi": kpi, "target": target, "due_on": opened.json()["ends_on"],
                "description": description})
            assert goal.status_code == 201, goal.text
            goals[kpi] = goal.json()["goal_id"]

        progress = {kpi: (await c.get(f"{coaching_url}/v1/goals/{goal_id}/progress", headers=lead)).json()
                    for kpi, goal_id in goals.items()}
        assert (progress["aht_s"]["current"], progress["aht_s"]["on_track"]) == (
            {"value": "200.0000", "sample": 6}, False)
        # CSAT comes from the survey answers the KPI service summed: 5 of 6 satisfied.
        assert (progress["csat"]["current"], progress["csat"]["on_track"]) == (
            {"value": "0.8333", "sample": 6}, True)

        closed = await c.post(f"{coaching_url}/v1/periods/{pid}/close", headers=lead)
        assert closed.status_code == 200, closed.text
        summary = closed.json()
        assert (summary["goals_achieved"], summary["goals_missed"]) == (1, 1)
        assert {g["kpi"]: (g["status"], g["value"]) for g in summary["goals"]} == {
            "aht_s": ("missed", "200.0000"), "csat": ("achieved", "0.8333")}
        effects = {e["kpi"]: e for e in summary["effects"]}
        aht, csat = effects["aht_s"], effects["csat"]
        assert (aht["before"], aht["during"]) == ({"value": "120.0000", "sample": 5},
                                                 {"value": "200.0000", "sample": 6})
        assert (Decimal(aht["change"]), aht["improved"]) == (Decimal(80), False)
        assert aht["before_from"] == (TODAY - timedelta(days=14)).date().isoformat()
        assert (csat["before"], csat["during"]) == ({"value": "0.6000", "sample": 5}, {"value": "0.8333", "sample": 6})
        assert (Decimal(csat["change"]), csat["improved"]) == (Decimal("0.2333"), True)

        # The KPI service's own rule applies to the caller: another team's lead gets no figures through coaching.
        stranger = identity.headers("acme", "team_lead", teams=("t-south",))
        refused = await c.get(f"{coaching_url}/v1/goals/{goals['csat']}/progress", headers=stranger)
        assert refused.status_code == 403
