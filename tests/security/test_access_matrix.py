"""Who may see what, over every endpoint of every service people call.

Tenant ``acme`` has agent a-17 in team t-north (unit u-hel), with evaluations, coaching and figures.
Each endpoint is called, with data that hits those rows, by the person it is for (who must succeed:
the request is well formed) and by five people it is not for:

- ``other_tenant``: every role in tenant globex, with the same subject, agent id and teams as acme's people;
- ``other_team``: the lead and sales coach of team t-south;
- ``peer_agent``: a-18, a-17's teammate;
- ``non_admin``: every role but admin, in a-17's team and unit (asked only on admin functions);
- ``no_role``: a person of acme whose token grants no role.

None of them may succeed unless the endpoint is open to them for their own rows; where it is, the answer
must hold nothing of a-17's private record (evaluation comments, coaching notes, actions, goals,
reflections, disputes, customer identifiers, the ids of a-17's records) nor, for another tenant, of acme's.
The endpoints come from each app's OpenAPI document: a new endpoint without a line here fails the test.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from coachline.auth import Role
from coachline.contracts.interactions import InteractionAnswered, InteractionOffered, InteractionWrappedUp
from coachline.contracts.roster import AgentRostered, TeamRostered
from coachline.envelope import new_event
from coachline.problem import PROBLEM_JSON
from coachline.testing import Identity, eventually

from .conftest import HR_SYSTEM, SERVICES, Stack

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.date()
DAY = f"day:{TODAY.isoformat()}"
ATTACKERS = ("other_tenant", "other_team", "peer_agent", "non_admin", "no_role")
SAME_TENANT = frozenset({"other_team", "peer_agent", "no_role"})
EVERYONE = SAME_TENANT | {"other_tenant"}
OTHER_TENANT = frozenset({"other_tenant"})
AGENT_FIGURES = '"scope_id":"a-17"'
# Operational endpoints answer without a token by design; the cluster alone reaches them.
OPERATIONS = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
SCORECARD = {"name": "Voice", "sections": [{"section_id": "opening", "title": "Opening", "goal": "quality",
                                            "criteria": [{"criterion_id": "greeting", "title": "Greeting", "points": 1},
                                                         {"criterion_id": "name", "title": "Name", "points": 3}]}]}


def people(identity: Identity) -> dict[str, dict[str, str]]:
    every_role = [r.value for r in Role]
    return {
        "admin": identity.headers("acme", "admin", subject="boss"),
        "evaluator": identity.headers("acme", "quality_evaluator", subject="q-2"),
        "lead": identity.headers("acme", "team_lead", "sales_coach", subject="tl-n", teams=("t-north",)),
        "agent": identity.headers("acme", "agent", subject="u-17", agent_id="a-17", teams=("t-north",)),
        "other_tenant": identity.headers("globex", *every_role, subject="boss", agent_id="a-17",
                                         teams=("t-north",), units=("u-hel",)),
        "other_team": identity.headers("acme", "team_lead", "sales_coach", subject="tl-s", teams=("t-south",),
                                       units=("u-tku",)),
        "peer_agent": identity.headers("acme", "agent", subject="u-18", agent_id="a-18", teams=("t-north",)),
        "non_admin": identity.headers("acme", *[r for r in every_role if r != "admin"], subject="tl-n",
                                      agent_id="a-19", teams=("t-north",), units=("u-hel",)),
        "no_role": identity.headers("acme", subject="u-99"),
    }


@dataclass(frozen=True)
class Step:
    """One endpoint called with data that reaches a-17's rows."""

    method: str
    route: str
    owner: str
    path: dict[str, str] = field(default_factory=dict)
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    open_to: frozenset[str] = frozenset()
    admin: bool = False
    # What the owner gets when success cannot be arranged (a delivery that has not failed cannot be re-sent).
    owner_status: int | None = None
    # Markers an attacker it is open to may see here (a team that chose an open leaderboard shows its members).
    may_show: frozenset[str] = frozenset()
    # A kiosk route: the wallboard token in the query is the owner's only credential; others try without it.
    kiosk: bool = False
    stream: bool = False


class Matrix:
    """Calls each step as every attacker, then as its owner, and notes what should not have happened."""

    def __init__(self, people: dict[str, dict[str, str]], secrets: Secrets) -> None:
        self.people = people
        self.secrets = secrets
        self.covered: set[tuple[str, str]] = set()
        self.violations: list[str] = []

    async def __call__(self, client: httpx.AsyncClient, step: Step) -> Any:
        self.covered.add((step.method, step.route))
        label = f"{step.method} {step.route}"
        for who in ATTACKERS:
            if who == "non_admin" and not step.admin:
                continue
            status, text, content_type = await self._send(client, step, who)
            self._judge(label, step, who, status, text, content_type)
        status, text, _ = await self._send(client, step, step.owner)
        # Without the owner's success the step proves nothing, and the steps after it lack their rows.
        assert status == step.owner_status or (step.owner_status is None and 200 <= status < 300), (
            f"{label}: its owner ({step.owner}) got {status}: {text[:300]}", self.violations)
        return json.loads(text) if text and not step.stream and text.lstrip().startswith(("{", "[")) else None

    async def _send(self, client: httpx.AsyncClient, step: Step, who: str) -> tuple[int, str, str]:
        url = step.route.format(**step.path)
        kiosk_only = step.kiosk and who != step.owner
        query = {} if kiosk_only else step.query
        headers = {} if step.kiosk else self.people[who]
        if step.stream:
            async with client.stream(step.method, url, params=query, headers=headers) as answer:
                text = ""
                if answer.is_success:
                    # Up to the first event with data (a snapshot, a board's figures); the stream goes on.
                    async for chunk in answer.aiter_text():
                        text += chunk.replace("\r\n", "\n")
                        if "data:" in text and "\n\n" in text[text.index("data:"):]:
                            break
                else:
                    text = (await answer.aread()).decode()
                return answer.status_code, text, answer.headers.get("content-type", "")
        answer = await client.request(step.method, url, params=query, headers=headers,
                                      json=step.body if step.body is not None else None)
        return answer.status_code, answer.text, answer.headers.get("content-type", "")

    def _judge(self, label: str, step: Step, who: str, status: int, text: str, content_type: str) -> None:
        if status >= 500 or (status >= 400 and content_type != PROBLEM_JSON):
            self.violations.append(f"{label}: {who} got {status} {content_type}: {text[:200]}")
        elif 200 <= status < 300 and who not in step.open_to:
            self.violations.append(f"{label}: {who} succeeded ({status}): {text[:300]}")
        elif 200 <= status < 300:
            asked = json.dumps([step.path, step.query, step.body])
            # Another tenant's agent may be called a-17 too; only acme's records are secret from it.
            secret = self.secrets.private - ({AGENT_FIGURES} if who == "other_tenant" else set())
            shown = {m for m in secret - step.may_show if m in text and m not in asked}
            if shown:
                self.violations.append(f"{label}: {who} was shown {sorted(shown)}: {text[:300]}")

    def uncovered(self, app: Any) -> set[tuple[str, str]]:
        operations = {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}
        return operations - OPERATIONS - self.covered


@dataclass
class Secrets:
    """Text and ids only a-17's record holds; the matrix looks for them in every answer an attacker gets."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    ids: set[str] = field(default_factory=set)

    def text(self, what: str) -> str:
        return f"{what}-{self.tag}"

    @property
    def private(self) -> set[str]:
        words = ("comment", "dispute", "cust", "goal", "note", "action", "reflection")
        return {self.text(w) for w in words} | self.ids | {AGENT_FIGURES}


async def seed(stack: Stack, secrets: Secrets) -> None:
    """The roster and a-17's handled contacts, on the topics; evaluation, coaching and kpi pick them up."""
    at = NOW - timedelta(minutes=20)
    events = [
        new_event("cc.roster.team.v1", "acme", TeamRostered(team_id="t-north", name="North", unit_id="u-hel",
                                                            occurred_at=at), source="matrix"),
        new_event("cc.roster.team.v1", "acme", TeamRostered(team_id="t-south", name="South", unit_id="u-tku",
                                                            occurred_at=at), source="matrix"),
        new_event("cc.roster.agent.v1", "acme", AgentRostered(agent_id="a-17", team_id="t-north", occurred_at=at),
                  source="matrix"),
        new_event("cc.roster.agent.v1", "acme", AgentRostered(agent_id="a-18", team_id="t-north", occurred_at=at),
                  source="matrix"),
    ]
    for n in range(1, 7):
        contact = {"interaction_id": f"c-{n}", "queue_id": "billing", "channel": "voice"}
        events += [
            new_event("cc.interaction.offered.v1", "acme", InteractionOffered(
                **contact, occurred_at=at, customer_ref=secrets.text("cust")), source="matrix"),
            new_event("cc.interaction.answered.v1", "acme", InteractionAnswered(
                **contact, agent_id="a-17", occurred_at=at + timedelta(seconds=10), queue_wait_s=Decimal(10)),
                source="matrix"),
            new_event("cc.interaction.wrapped-up.v1", "acme", InteractionWrappedUp(
                **contact, agent_id="a-17", team_id="t-north", occurred_at=at + timedelta(minutes=5),
                talk_s=Decimal(240), hold_s=Decimal(0), after_contact_work_s=Decimal(30),
                customer_ref=secrets.text("cust")), source="matrix"),
        ]
    await stack.publish(*events)


async def evaluation_steps(client: httpx.AsyncClient, check: Matrix, people: dict[str, dict[str, str]],
                           secrets: Secrets) -> None:
    async def pool_filled() -> bool:
        answer = await client.get("/v1/sampling-pool", headers=people["evaluator"])
        return len(answer.json()["items"]) >= 6

    await eventually(pool_filled, timeout=90)
    ev = "/v1/evaluations/{evaluation_id}"
    await check(client, Step("PUT", "/v1/scorecards/{scorecard_id}", "admin", {"scorecard_id": "sc-voice"},
                             SCORECARD, open_to=OTHER_TENANT, admin=True))
    await check(client, Step("POST", "/v1/scorecards/{scorecard_id}/versions/{version}/status", "admin",
                             {"scorecard_id": "sc-voice", "version": "1"}, {"status": "published"},
                             open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", "/v1/scorecards", "agent", open_to=EVERYONE))
    await check(client, Step("GET", "/v1/scorecards/{scorecard_id}", "agent", {"scorecard_id": "sc-voice"},
                             open_to=EVERYONE))
    await check(client, Step("GET", "/v1/quality-rules", "agent", open_to=EVERYONE))
    await check(client, Step("PUT", "/v1/quality-rules", "admin", body={"dispute_window_days": 14},
                             open_to=OTHER_TENANT, admin=True))

    comment = [{"criterion_id": "name", "text": secrets.text("comment")}]
    first = await check(client, Step("POST", "/v1/evaluations", "evaluator", body={
        "interaction_id": "c-1", "scorecard_id": "sc-voice", "answers": {"greeting": True, "name": False},
        "comments": comment}))
    e1 = {"evaluation_id": first["evaluation_id"]}
    secrets.ids.add(e1["evaluation_id"])
    await check(client, Step("POST", f"{ev}/release", "evaluator", e1, {}))
    await check(client, Step("GET", ev, "agent", e1))
    await check(client, Step("GET", "/v1/evaluations", "lead", query={"agent_id": "a-17"}, open_to=EVERYONE))
    await check(client, Step("POST", f"{ev}/disputes", "agent", e1, {"items": [
        {"criterion_id": "name", "proposed_answer": True, "reason": secrets.text("dispute")}]}))
    await check(client, Step("POST", f"{ev}/dispute-resolution", "evaluator", e1,
                             {"outcome": "upheld", "reason": "As heard."}))
    await check(client, Step("POST", f"{ev}/close", "agent", e1))

    second = await check(client, Step("POST", "/v1/evaluations", "evaluator",
                                      body={"interaction_id": "c-2", "scorecard_id": "sc-voice"}))
    e2 = {"evaluation_id": second["evaluation_id"]}
    secrets.ids.add(e2["evaluation_id"])
    await check(client, Step("POST", f"{ev}/start", "evaluator", e2))
    await check(client, Step("POST", f"{ev}/comments", "evaluator", e2,
                             {"criterion_id": "greeting", "text": secrets.text("comment")}))
    await check(client, Step("POST", f"{ev}/submission", "evaluator", e2,
                             {"answers": {"greeting": True, "name": True}}))
    await check(client, Step("POST", f"{ev}/release", "evaluator", e2, {}))
    await check(client, Step("POST", f"{ev}/acknowledgement", "agent", e2))

    own = await check(client, Step("POST", "/v1/self-evaluations", "agent",
                                   body={"interaction_id": "c-3", "scorecard_id": "sc-voice"}))
    s1 = {"evaluation_id": own["evaluation_id"]}
    secrets.ids.add(s1["evaluation_id"])
    await check(client, Step("POST", f"{ev}/submission", "agent", s1, {"answers": {"greeting": True, "name": True}}))
    await check(client, Step("GET", "/v1/self-evaluations/{evaluation_id}/comparison", "agent", s1))
    await check(client, Step("GET", "/v1/agents/{agent_id}/quality-score", "agent", {"agent_id": "a-17"},
                             open_to=OTHER_TENANT))
    await check(client, Step("GET", "/v1/sampling-pool", "evaluator", open_to=OTHER_TENANT))

    policy = {"name": "weekly", "scorecard_id": "sc-voice", "quota": {"count": 1}, "evaluator_ids": ["q-2"]}
    await check(client, Step("PUT", "/v1/sampling-policies/{policy_id}", "admin", {"policy_id": "weekly"}, policy,
                             open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", "/v1/sampling-policies", "evaluator", open_to=OTHER_TENANT))
    run = await check(client, Step("POST", "/v1/sampling-policies/{policy_id}/runs", "admin", {"policy_id": "weekly"},
                                   {"period_start": (TODAY - timedelta(days=3)).isoformat(),
                                    "period_end": (TODAY + timedelta(days=3)).isoformat(), "seed": "matrix"},
                                   open_to=OTHER_TENANT, admin=True))
    secrets.ids.update(run["evaluation_ids"])
    await check(client, Step("GET", "/v1/sampling-runs/{run_id}", "admin", {"run_id": run["run_id"]}, admin=True))

    calibration = await check(client, Step("POST", "/v1/calibrations", "admin", body={
        "interaction_id": "c-4", "scorecard_id": "sc-voice", "evaluator_ids": ["q-2", "q-3"],
        "reference_evaluator_id": "q-2"}, admin=True))
    secrets.ids.update(calibration["evaluations"].values())
    await check(client, Step("GET", "/v1/calibrations/{calibration_id}", "evaluator",
                             {"calibration_id": calibration["calibration_id"]}))
    await check(client, Step("GET", "/v1/scorecards/{scorecard_id}/criteria-review", "evaluator",
                             {"scorecard_id": "sc-voice"}, open_to=OTHER_TENANT))
    await check(client, Step("GET", "/v1/reports/disputes", "evaluator", open_to=OTHER_TENANT))

    await check(client, Step("PUT", "/v1/mystery-shop/scenarios/{scenario_id}", "admin", {"scenario_id": "price"},
                             {"title": "Price", "brief": "Ask the price.", "channel": "voice",
                              "scorecard_id": "sc-voice"}, open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", "/v1/mystery-shop/scenarios", "evaluator", open_to=OTHER_TENANT))
    schedule = await check(client, Step("POST", "/v1/mystery-shop/schedules", "admin", body={
        "scenario_ids": ["price"], "start": (TODAY + timedelta(days=1)).isoformat(), "days": 5, "visits": 3,
        "seed": "s"}, open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", "/v1/mystery-shop/schedules/{schedule_id}", "admin",
                             {"schedule_id": schedule["schedule_id"]}, admin=True))
    await check(client, Step("POST", "/v1/mystery-shop/staff-notices", "admin", body={
        "team_ids": ["t-north"], "informed_on": TODAY.isoformat(), "how": "Team meeting"},
        open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", "/v1/mystery-shop/staff-notices", "agent", open_to=EVERYONE))
    await check(client, Step("GET", "/v1/mystery-shop/results", "admin", open_to=OTHER_TENANT, admin=True))


async def coaching_steps(client: httpx.AsyncClient, check: Matrix, people: dict[str, dict[str, str]],
                         secrets: Secrets) -> None:
    async def evidence_arrived() -> bool:
        answer = await client.get("/v1/agents/a-17/evaluations", headers=people["lead"])
        return answer.status_code == 200 and len(answer.json()["items"]) >= 2

    await eventually(evidence_arrived, timeout=90)
    agent = {"agent_id": "a-17"}
    await check(client, Step("GET", "/v1/agents/{agent_id}/evaluations", "lead", agent, open_to=OTHER_TENANT))
    await check(client, Step("GET", "/v1/agents/{agent_id}/periods", "agent", agent, open_to=OTHER_TENANT))
    period = await check(client, Step("POST", "/v1/periods", "lead", body={
        "agent_id": "a-17", "starts_on": TODAY.isoformat()}, open_to=OTHER_TENANT))
    p = {"period_id": period["period_id"]}
    secrets.ids.add(p["period_id"])
    await check(client, Step("GET", "/v1/periods/{period_id}", "agent", p))
    goal = await check(client, Step("POST", "/v1/periods/{period_id}/goals", "lead", p, {
        "kind": "behavioural", "corner": "quality", "due_on": TODAY.isoformat(),
        "description": secrets.text("goal"), "observed_by": "Listening"}))
    secrets.ids.add(goal["goal_id"])
    await check(client, Step("POST", "/v1/goals/{goal_id}/decision", "lead", {"goal_id": goal["goal_id"]},
                             {"outcome": "achieved"}))
    kpi_goal = await check(client, Step("POST", "/v1/periods/{period_id}/goals", "lead", p, {
        "kind": "kpi", "kpi": "aht_s", "target": "300", "due_on": TODAY.isoformat(),
        "description": secrets.text("goal")}))
    secrets.ids.add(kpi_goal["goal_id"])
    await check(client, Step("GET", "/v1/goals/{goal_id}/progress", "agent", {"goal_id": kpi_goal["goal_id"]}))

    planned = {"agent_id": "a-17", "coach_id": "tl-n", "kind": "one_to_one", "period_id": p["period_id"],
               "planned_on": TODAY.isoformat()}
    session = await check(client, Step("POST", "/v1/sessions", "lead", body=planned))
    s = {"session_id": session["session_id"]}
    secrets.ids.add(s["session_id"])
    await check(client, Step("GET", "/v1/sessions/{session_id}", "agent", s))
    held = await check(client, Step("POST", "/v1/sessions/{session_id}/held", "lead", s, {
        "held_at": (NOW - timedelta(minutes=5)).isoformat(), "notes": secrets.text("note"),
        "actions": [{"owner": "agent", "description": secrets.text("action"), "due_on": TODAY.isoformat()}]}))
    await check(client, Step("POST", "/v1/sessions/{session_id}/reflections", "agent", s,
                             {"text": secrets.text("reflection")}))
    await check(client, Step("GET", "/v1/agents/{agent_id}/timeline", "agent", agent, open_to=OTHER_TENANT))
    actions = await check(client, Step("GET", "/v1/agents/{agent_id}/actions", "agent", agent, open_to=OTHER_TENANT))
    secrets.ids.update(a["action_id"] for a in actions["items"])
    assert held["status"] == "held"
    await check(client, Step("POST", "/v1/actions/{action_id}/complete", "agent",
                             {"action_id": actions["items"][0]["action_id"]}))
    missed = await check(client, Step("POST", "/v1/sessions", "lead", body=planned))
    secrets.ids.add(missed["session_id"])
    await check(client, Step("POST", "/v1/sessions/{session_id}/missed", "lead", {"session_id": missed["session_id"]}))
    await check(client, Step("GET", "/v1/agents/{agent_id}/suggestions", "lead", agent, open_to=OTHER_TENANT))
    await check(client, Step("POST", "/v1/periods/{period_id}/close", "lead", p,
                             {"decisions": {kpi_goal["goal_id"]: "missed"}}))
    await check(client, Step("GET", "/v1/settings", "agent", open_to=EVERYONE))
    await check(client, Step("PUT", "/v1/settings", "admin", body={"notes_in_events": False}, open_to=OTHER_TENANT,
                             admin=True))


async def kpi_steps(client: httpx.AsyncClient, check: Matrix, people: dict[str, dict[str, str]],
                    secrets: Secrets) -> None:
    mine = {"scope": "agent", "scope_id": "a-17"}

    async def figures_folded() -> bool:
        answer = await client.get("/v1/kpis", params={**mine, "window": DAY}, headers=people["admin"])
        return bool(answer.json()["items"])

    await eventually(figures_folded, timeout=90)
    # Asked for a-17's figures, the others get an empty list: what they may not see is filtered out.
    await check(client, Step("GET", "/v1/kpis", "agent", query={**mine, "window": DAY}, open_to=EVERYONE))
    await check(client, Step("GET", "/v1/kpis", "lead", open_to=EVERYONE))
    days = {"since": (TODAY - timedelta(days=1)).isoformat(), "until": TODAY.isoformat()}
    await check(client, Step("GET", "/v1/kpis/series", "agent", query={**mine, "kind": "day", **days},
                             open_to=OTHER_TENANT))
    await check(client, Step("GET", "/v1/kpis/range", "agent", query={**mine, **days}, open_to=OTHER_TENANT))
    await check(client, Step("GET", "/v1/kpis/live", "lead", query={"scope": "team", "scope_id": "t-north"},
                             open_to=OTHER_TENANT | {"peer_agent"}))
    await check(client, Step("GET", "/v1/me/kpis", "agent", query={"window": DAY},
                             open_to=OTHER_TENANT | {"peer_agent"}))
    team = {"team_id": "t-north"}
    await check(client, Step("GET", "/v1/teams/{team_id}/visibility", "agent", team,
                             open_to=OTHER_TENANT | {"peer_agent"}))
    await check(client, Step("PUT", "/v1/teams/{team_id}/visibility", "lead", team,
                             {"visibility": "open", "decision": "Team meeting"}, open_to=OTHER_TENANT))
    # The team chose to show everyone's figures: a teammate sees a-17's there, and only there.
    await check(client, Step("GET", "/v1/teams/{team_id}/leaderboard", "lead", team, query={"window": DAY},
                             open_to=OTHER_TENANT | {"peer_agent"}, may_show=frozenset({AGENT_FIGURES})))
    policy = await check(client, Step("GET", "/v1/kpi-policy", "agent", open_to=EVERYONE))
    await check(client, Step("PUT", "/v1/kpi-policy", "admin", body=policy, open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", "/v1/kpis/stream", "lead", open_to=EVERYONE, stream=True))

    draft = {"name": "Floor", "layout": {"scopes": [{"scope": "team", "scope_id": "t-north"}]}}
    board = await check(client, Step("POST", "/v1/wallboards", "admin", body=draft, open_to=OTHER_TENANT,
                                     admin=True))
    w = {"wallboard_id": board["wallboard_id"]}
    secrets.ids.add(w["wallboard_id"])
    await check(client, Step("GET", "/v1/wallboards", "admin", open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", "/v1/wallboards/{wallboard_id}", "admin", w, admin=True))
    await check(client, Step("PUT", "/v1/wallboards/{wallboard_id}", "admin", w, draft, admin=True))
    issued = await check(client, Step("POST", "/v1/wallboards/{wallboard_id}/tokens", "admin", w, {"label": "TV"},
                                      admin=True))
    secrets.ids.update({issued["token_id"], issued["token"]})
    await check(client, Step("GET", "/v1/wallboards/{wallboard_id}/tokens", "admin", w, admin=True))
    kiosk = {"token": issued["token"]}
    await check(client, Step("GET", "/wallboards/{wallboard_id}", "kiosk", w, query=kiosk, kiosk=True))
    await check(client, Step("GET", "/v1/wallboards/{wallboard_id}/stream", "kiosk", w, query=kiosk, kiosk=True,
                             stream=True))
    await check(client, Step("DELETE", "/v1/wallboards/{wallboard_id}/tokens/{token_id}", "admin",
                             {**w, "token_id": issued["token_id"]}, admin=True))
    await check(client, Step("DELETE", "/v1/wallboards/{wallboard_id}", "admin", w, admin=True))


async def subscribe(client: httpx.AsyncClient, check: Matrix, secrets: Secrets) -> dict[str, str]:
    """Before coaching's steps, so the period they open is delivered to this subscription."""
    created = await check(client, Step("POST", "/v1/subscriptions", "admin", body={
        "url": HR_SYSTEM, "event_types": ["coaching.period.started.v1"]}, open_to=OTHER_TENANT, admin=True))
    secrets.ids.update({created["id"], created["secret"]})
    return {"subscription_id": created["id"]}


async def notifications_steps(client: httpx.AsyncClient, check: Matrix, people: dict[str, dict[str, str]],
                              secrets: Secrets, sub: dict[str, str]) -> None:
    async def delivered() -> list[dict[str, Any]]:
        answer = await client.get(f"/v1/subscriptions/{sub['subscription_id']}/deliveries", headers=people["admin"])
        return list(answer.json()["items"])

    [delivery, *_] = await eventually(delivered, timeout=90)
    secrets.ids.add(delivery["id"])
    s = "/v1/subscriptions/{subscription_id}"
    await check(client, Step("GET", "/v1/subscriptions", "admin", open_to=OTHER_TENANT, admin=True))
    await check(client, Step("GET", s, "admin", sub, admin=True))
    await check(client, Step("POST", f"{s}/rotate-secret", "admin", sub, admin=True))
    await check(client, Step("GET", f"{s}/deliveries", "admin", sub, admin=True))
    await check(client, Step("POST", f"{s}/deliveries/{{delivery_id}}/resend", "admin",
                             {**sub, "delivery_id": delivery["id"]}, admin=True, owner_status=409))
    await check(client, Step("POST", f"{s}/enable", "admin", sub, admin=True))
    await check(client, Step("DELETE", s, "admin", sub, admin=True))
    await check(client, Step("GET", "/v1/rules", "admin", open_to=OTHER_TENANT, admin=True))
    rule = await check(client, Step("POST", "/v1/rules", "admin", body={
        "event_type": "qa.evaluation.submitted.v1", "channel": "email", "recipients": ["qa@example.com"]},
        open_to=OTHER_TENANT, admin=True))
    await check(client, Step("DELETE", "/v1/rules/{rule_id}", "admin", {"rule_id": rule["id"]}, admin=True))
    await check(client, Step("POST", "/v1/banners", "lead", body={
        "kind": "team_recognition", "scope": "team", "scope_id": "t-north", "title": "Best CSAT this week!",
        "expires_in_minutes": 30}, open_to=OTHER_TENANT))


async def test_no_one_gets_past_their_role_tenant_or_team_on_any_endpoint(stack: Stack, identity: Identity) -> None:
    secrets = Secrets()
    crowd = people(identity)
    matrices = {name: Matrix(crowd, secrets) for name in SERVICES}
    await seed(stack, secrets)
    clients = {name: httpx.AsyncClient(base_url=stack.urls[name], timeout=30) for name in SERVICES}
    try:
        await evaluation_steps(clients["evaluation"], matrices["evaluation"], crowd, secrets)
        sub = await subscribe(clients["notifications"], matrices["notifications"], secrets)
        await coaching_steps(clients["coaching"], matrices["coaching"], crowd, secrets)
        await kpi_steps(clients["kpi"], matrices["kpi"], crowd, secrets)
        await notifications_steps(clients["notifications"], matrices["notifications"], crowd, secrets, sub)
    finally:
        for client in clients.values():
            await client.aclose()

    assert {name: m.uncovered(stack.apps[name]) for name, m in matrices.items()} == {n: set() for n in SERVICES}
    violations = [v for m in matrices.values() for v in m.violations]
    assert not violations, "\n".join(violations)
