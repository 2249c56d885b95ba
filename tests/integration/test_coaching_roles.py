"""The role matrix of coaching against real Kafka and PostgreSQL.

Every person is tried on every route for an agent in team t-north of unit u-hel: admins, the team's
lead and sales coach, the unit's manager may coach; the agent sees their own record; everyone else
(other teams, other units, another agent, a quality evaluator, no token) is refused.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from coachline.contracts.roster import AgentRostered, TeamRostered
from coachline.envelope import new_event
from coachline.testing import eventually
from coachline_coaching.app import create_app
from coachline_coaching.kpi_client import KpiService
from coachline_coaching.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.date()

# (name, roles, claims, may coach a-17, may see a-17's record)
PEOPLE: list[tuple[str, tuple[str, ...], dict[str, Any], bool, bool]] = [
    ("admin", ("admin",), {}, True, True),
    ("team lead", ("team_lead",), {"teams": ("t-north",)}, True, True),
    ("sales coach", ("sales_coach",), {"teams": ("t-north",)}, True, True),
    ("service manager", ("service_manager",), {"units": ("u-hel",)}, True, True),
    ("the agent", ("agent",), {"agent_id": "a-17", "teams": ("t-north",)}, False, True),
    ("a teammate", ("agent",), {"agent_id": "a-18", "teams": ("t-north",)}, False, False),
    ("another team's lead", ("team_lead",), {"teams": ("t-south",)}, False, False),
    ("another unit's manager", ("service_manager",), {"units": ("u-tku",), "teams": ("t-north",)}, False, False),
    ("quality evaluator", ("quality_evaluator",), {"teams": ("t-north",)}, False, False),
]


async def test_the_role_matrix(settings_for, run_app, service_env, publish, identity) -> None:
    no_figures = httpx.MockTransport(lambda request: httpx.Response(
        200, json={"kpis": {request.url.params["kpi"]: {"value": None, "sample": "0"}}}))
    url = await run_app(create_app(settings_for(Settings), kpis=KpiService("http://kpi", 5, transport=no_figures)))
    at = NOW - timedelta(days=10)
    await publish(
                  new_event("cc.roster.team.v1", "acme", TeamRostered(team_id="t-north", name="North",
                                                                      unit_id="u-hel", occurred_at=at), source="t"),
                  new_event("cc.roster.agent.v1", "acme", AgentRostered(agent_id="a-17", team_id="t-north",
                                                                        occurred_at=at), source="t"))
    admin = identity.headers("acme", "admin", subject="root")

    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        async def rostered() -> bool:
            # A team lead of t-north sees a-17 only once the roster placed a-17 there.
            lead = identity.headers("acme", "team_lead", teams=("t-north",))
            return (await c.get("/v1/agents/a-17/periods", headers=lead)).status_code == 200

        await eventually(rostered, timeout=60)

        async def fixture_period() -> tuple[str, str, str, str]:
            """A fresh open period with a goal, a held session with an agent's action: things to act on."""
            for period in (await c.get("/v1/agents/a-17/periods", headers=admin)).json()["items"]:
                if period["status"] == "open":
                    await c.post(f"/v1/periods/{period['period_id']}/close", headers=admin, json={"decisions": {
                        g["goal_id"]: "missed" for g in
                        (await c.get(f"/v1/periods/{period['period_id']}", headers=admin)).json()["goals"]
                        if g["status"] == "open"}})
            pid = (await c.post("/v1/periods", headers=admin, json={
                "agent_id": "a-17", "starts_on": TODAY.isoformat()})).json()["period_id"]
            gid = (await c.post(f"/v1/periods/{pid}/goals", headers=admin, json={
                "kind": "behavioural", "corner": "quality", "due_on": TODAY.isoformat(), "description": "smile",
                "observed_by": "listening"})).json()["goal_id"]
            session = (await c.post("/v1/sessions", headers=admin, json={
                "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one", "period_id": pid,
                "held": {"held_at": NOW.isoformat(), "actions": [
                    {"owner": "agent", "description": "x", "due_on": TODAY.isoformat()}]}})).json()
            actions = (await c.get("/v1/agents/a-17/actions", headers=admin)).json()["items"]
            return pid, gid, session["session_id"], actions[-1]["action_id"]

        pid, gid, sid, aid = await fixture_period()
        for name, roles, claims, coaches, sees in PEOPLE:
            who = identity.headers("acme", *roles, subject=name.replace(" ", "-").replace("'", ""), **claims)
            reads = {
                "evaluations": await c.get("/v1/agents/a-17/evaluations", headers=who),
                "periods": await c.get("/v1/agents/a-17/periods", headers=who),
                "timeline": await c.get("/v1/agents/a-17/timeline", headers=who),
                "actions": await c.get("/v1/agents/a-17/actions", headers=who),
                "period": await c.get(f"/v1/periods/{pid}", headers=who),
                "session": await c.get(f"/v1/sessions/{sid}", headers=who),
            }
            for route, got in reads.items():
                assert got.status_code == (200 if sees else 403), (name, route, got.text)
            suggestions = await c.get("/v1/agents/a-17/suggestions", headers=who)
            assert suggestions.status_code == (200 if coaches else 403), (name, suggestions.text)
            writes = {
                "plan session": await c.post("/v1/sessions", headers=who, json={
                    "agent_id": "a-17", "coach_id": "tl-3", "kind": "one_to_one", "period_id": pid,
                    "planned_on": TODAY.isoformat()}),
                "set goal": await c.post(f"/v1/periods/{pid}/goals", headers=who, json={
                    "kind": "behavioural", "corner": "quality", "due_on": TODAY.isoformat(), "description": "d",
                    "observed_by": "o"}),
                "decide goal": await c.post(f"/v1/goals/{gid}/decision", headers=who, json={"outcome": "achieved"}),
                "open period": await c.post("/v1/periods", headers=who, json={
                    "agent_id": "a-17", "starts_on": TODAY.isoformat()}),
            }
            for route, got in writes.items():
                if coaches:
                    # Allowed; a second decision or a second open period is a state conflict, not a refusal.
                    assert got.status_code in (200, 201, 409), (name, route, got.text)
                else:
                    assert got.status_code == 403, (name, route, got.text)
            reflection = await c.post(f"/v1/sessions/{sid}/reflections", headers=who, json={"text": "t"})
            assert reflection.status_code == (201 if name == "the agent" else 403), (name, reflection.text)
            complete = await c.post(f"/v1/actions/{aid}/complete", headers=who)
            # The agent's own action: the agent or a coach completes it (once; then it is a conflict).
            assert complete.status_code in ((200, 409) if sees else (403,)), (name, complete.text)
            if coaches or name == "the agent":
                pid, gid, sid, aid = await fixture_period()

        assert (await c.get("/v1/agents/a-17/periods")).status_code == 401
        other_tenant = identity.headers("globex", "admin")
        assert (await c.get(f"/v1/periods/{pid}", headers=other_tenant)).status_code == 404
        assert (await c.put("/v1/settings", headers=identity.headers("acme", "team_lead", teams=("t-north",)),
                            json={"notes_in_events": True})).status_code == 403
