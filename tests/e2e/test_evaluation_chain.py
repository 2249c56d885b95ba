"""The evaluation chain with every service as its own process.

Contacts and the roster flow in through intake; a sampling policy assigns one evaluation per agent; the
evaluator scores a-1 with a failed criterion; a-1 disputes it once released; the arbiter re-scores; and the
KPI service's quality score of a-1 and of their team follows each decision.

The scorecard, by hand: "opening" (weight 1) is greeting (1 point) and used-name (3 points); "resolution"
(weight 2) is needs (scale 1-5 worth 4 points: answer a earns 4 * (a - 1)/4) and resolved (2 points).

- a-1 as scored: opening 1/4 = 25, resolution (needs 4 earns 3, + 2)/6 = 83.33..., so (25 + 2 * 83.33...)/3 = 63.89.
- a-1 re-scored with used-name yes: opening 4/4 = 100, so (100 + 2 * 83.33...)/3 = 88.89.
- a-2: opening 3/4 = 75, resolution (needs 3 earns 2)/4 = 50 (resolved N/A), so (75 + 2 * 50)/3 = 58.33.
- Team north, the mean of its submitted evaluations: (63.89 + 58.33)/2 = 61.11, then (88.89 + 58.33)/2 = 73.61.
  a-3's evaluation is assigned but never submitted, so it counts nowhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from coachline.testing import eventually

from .conftest import kpi_figure, post_to_intake, publish_scorecard, roster, wait_in_pool, wrapped_up

pytestmark = pytest.mark.e2e

AGENTS = ["a-1", "a-2", "a-3"]
SCORECARD = {"name": "Billing calls", "sections": [
    {"section_id": "opening", "title": "Opening", "goal": "quality", "criteria": [
        {"criterion_id": "greeting", "title": "Greeted the customer", "points": 1},
        {"criterion_id": "used-name", "title": "Used the customer's name", "points": 3}]},
    {"section_id": "resolution", "title": "Resolution", "goal": "quality", "weight": 2, "criteria": [
        {"criterion_id": "needs", "title": "Found the need", "answer_type": "scale", "points": 4},
        {"criterion_id": "resolved", "title": "Resolved it", "points": 2}]}]}


@pytest.fixture
def stack_env() -> dict[str, str]:
    # One evaluation per agent is the whole sample here; the default minimum of 5 would hide every score.
    return {"KPI_MIN_SAMPLE": "1"}


async def test_a_dispute_rescore_moves_the_quality_score_of_agent_and_team(stack, identity) -> None:
    now = datetime.now(UTC)
    admin = identity.headers("acme", "admin", subject="qa-admin")
    evaluator = identity.headers("acme", "quality_evaluator", subject="q-1")
    arbiter = identity.headers("acme", "quality_evaluator", subject="arb-1")
    agent = identity.headers("acme", "agent", subject="u-1", agent_id="a-1", teams=("north",))
    manager = identity.headers("acme", "service_manager", subject="sm-1")
    evaluation_api = f"{stack['evaluation']}/v1"

    async with httpx.AsyncClient(timeout=30) as client:
        await post_to_intake(client, stack["intake"], roster("north", "u-hel", AGENTS, now - timedelta(days=20)),
                             "roster-1")
        contacts = [wrapped_up(f"c-{agent_id}-{n}", agent_id, "north", now - timedelta(hours=n), talk_s=240,
                               after_contact_work_s=30) for agent_id in AGENTS for n in (2, 3)]
        await post_to_intake(client, stack["intake"], contacts, "contacts-1")
        await wait_in_pool(client, stack["evaluation"], evaluator, {c["data"]["interaction_id"] for c in contacts})
        await publish_scorecard(client, stack["evaluation"], admin, "billing", SCORECARD)
        rules = await client.put(f"{evaluation_api}/quality-rules", json={"dispute_arbiter_id": "arb-1"},
                                 headers=admin)
        assert rules.status_code == 200, rules.text
        policy = {"name": "One a week", "scorecard_id": "billing", "quota": {"count": 1}, "evaluator_ids": ["q-1"]}
        assert (await client.put(f"{evaluation_api}/sampling-policies/weekly", json=policy, headers=admin)).is_success
        run = await client.post(f"{evaluation_api}/sampling-policies/weekly/runs", headers=admin, json={
            "period_start": str(now.date() - timedelta(days=1)), "period_end": str(now.date() + timedelta(days=1)),
            "seed": "e2e"})
        assert run.status_code == 201, run.text
        assigned: dict[str, str] = {}
        for evaluation_id in run.json()["evaluation_ids"]:
            evaluation = (await client.get(f"{evaluation_api}/evaluations/{evaluation_id}", headers=evaluator)).json()
            assert (evaluation["state"], evaluation["evaluator_id"]) == ("assigned", "q-1")
            assigned[evaluation["agent_id"]] = evaluation_id
        assert sorted(assigned) == AGENTS

        first = await client.post(f"{evaluation_api}/evaluations/{assigned['a-1']}/submission", headers=evaluator,
                                  json={"answers": {"greeting": True, "used-name": False, "needs": 4,
                                                    "resolved": True}})
        assert first.status_code == 200, first.text
        assert Decimal(first.json()["score"]) == Decimal("63.89")
        second = await client.post(f"{evaluation_api}/evaluations/{assigned['a-2']}/submission", headers=evaluator,
                                   json={"answers": {"greeting": False, "used-name": True, "needs": 3,
                                                     "resolved": "na"}})
        assert second.status_code == 200, second.text
        assert Decimal(second.json()["score"]) == Decimal("58.33")
        # Scores land in the window of the day they were submitted (the tenant's day is UTC by default).
        window = f"day:{datetime.fromisoformat(first.json()['submitted_at']).date()}"

        def quality(scope: str, scope_id: str, expected: str) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return await kpi_figure(client, stack["kpi"], manager, scope, scope_id, window,
                                        "quality_score") == Decimal(expected)
            return check

        await eventually(quality("agent", "a-1", "63.89"), timeout=60)
        await eventually(quality("team", "north", "61.11"), timeout=60)

        url = f"{evaluation_api}/evaluations/{assigned['a-1']}"
        assert (await client.post(f"{url}/release", json={}, headers=evaluator)).is_success
        disputed = await client.post(f"{url}/disputes", headers=agent, json={"items": [
            {"criterion_id": "used-name", "proposed_answer": True, "reason": "I said the name at 00:42."}]})
        assert disputed.status_code == 200, disputed.text
        assert disputed.json()["disputes"][0]["routed_to"] == "arb-1"
        not_theirs = await client.post(f"{url}/dispute-resolution", headers=evaluator, json={
            "outcome": "upheld", "reason": "Stands."})
        assert not_theirs.status_code == 409, not_theirs.text
        rescored = await client.post(f"{url}/dispute-resolution", headers=arbiter, json={
            "outcome": "rescored", "reason": "The name is heard at 00:42.", "answers": {"used-name": True}})
        assert rescored.status_code == 200, rescored.text

        seen = (await client.get(url, headers=agent)).json()
        assert seen["state"] == "resolved"
        assert [(h["decided_by"], h["previous_score"], h["score"], h["changed_criteria"]) for h in seen["history"]] \
            == [("q-1", None, "63.89", []), ("arb-1", "63.89", "88.89", ["used-name"])]

        await eventually(quality("agent", "a-1", "88.89"), timeout=60)
        await eventually(quality("team", "north", "73.61"), timeout=60)
        assert await kpi_figure(client, stack["kpi"], manager, "agent", "a-2", window,
                                "quality_score") == Decimal("58.33")
