"""All five services as their own processes against the real broker and database.

An interaction posted to intake appears in the KPI API and on the SSE stream; it enters evaluation's
sampling pool, an evaluation of it reaches coaching, and a coaching session recorded there reaches an
HR system's webhook receiver with a Standard Webhooks signature that verifies.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coachline.testing import eventually

from .conftest import platform_event, post_to_intake, verify_standard_webhook

pytestmark = pytest.mark.e2e


async def test_an_interaction_flows_to_the_wallboard_and_a_coaching_session_to_hr(stack, run_app, identity) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hr_system(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    receiver = await run_app(Starlette(routes=[Route("/hooks/coaching", hr_system, methods=["POST"])]))
    async with httpx.AsyncClient(timeout=30) as client:
        subscription = await client.post(f"{stack['notifications']}/v1/subscriptions", json={
            "url": f"{receiver}/hooks/coaching", "event_types": ["coaching.session.recorded.v1"]},
            headers=identity.headers("acme", "admin", subject="hr-admin"))
        assert subscription.status_code == 201, subscription.text
        secret = subscription.json()["secret"]

        kpi_reader = identity.headers("acme", "service_manager")
        async with client.stream("GET", f"{stack['kpi']}/v1/kpis/stream", headers=kpi_reader) as sse:
            lines = sse.aiter_lines()
            assert await anext(lines) == "event: snapshot"
            assert json.loads((await anext(lines)).removeprefix("data: "))["items"] == []
            who = {"agent_id": "a-1", "team_id": "north"}
            await post_to_intake(client, stack["intake"], [
                platform_event("offered"),
                platform_event("answered", **who, occurred_at="2026-11-23T09:00:09Z", queue_wait_s="9"),
                platform_event("wrapped-up", **who, occurred_at="2026-11-23T09:05:00Z", talk_s="240",
                               hold_s="15", after_contact_work_s="36"),
            ], "e2e-1")
            async for line in lines:
                if line.startswith("data: ") and json.loads(line[6:])["scope"] == "team":
                    assert json.loads(line[6:])["figures"]["answered"] == "1"
                    break

        async def team_handled() -> dict[str, Any] | None:
            items = (await client.get(f"{stack['kpi']}/v1/kpis", headers=kpi_reader,
                                      params={"scope": "team", "scope_id": "north",
                                              "window": "day:2026-11-23"})).json()
            return items["items"][0]["figures"] if items["items"] and items["items"][0]["figures"]["handled"] == "1" \
                else None

        figures = await eventually(team_handled)
        assert (figures["answered"], figures["handled"]) == ("1", "1")

        evaluator = identity.headers("acme", "quality_evaluator", subject="q-1")
        qa_admin = identity.headers("acme", "admin", subject="qa-admin")

        async def in_pool() -> bool:
            pool = await client.get(f"{stack['evaluation']}/v1/sampling-pool", headers=evaluator)
            return pool.status_code == 200 and "c-e2e-1" in pool.text

        await eventually(in_pool)
        scorecard = {"name": "Voice", "sections": [{"section_id": "call", "title": "Call", "goal": "quality",
                                                    "criteria": [{"criterion_id": "greeting", "title": "Greeting"}]}]}
        drafted = await client.put(f"{stack['evaluation']}/v1/scorecards/voice", json=scorecard, headers=qa_admin)
        assert drafted.status_code == 200, drafted.text
        published = await client.post(f"{stack['evaluation']}/v1/scorecards/voice/versions/1/status",
                                      json={"status": "published"}, headers=qa_admin)
        assert published.status_code == 200, published.text
        evaluation = await client.post(f"{stack['evaluation']}/v1/evaluations", headers=evaluator, json={
            "interaction_id": "c-e2e-1", "scorecard_id": "voice", "answers": {"greeting": True}})
        assert evaluation.status_code == 201, evaluation.text
        evaluation_id = evaluation.json()["evaluation_id"]

        # a-1 is not in a roster here, so an admin coaches them.
        coach = identity.headers("acme", "admin", subject="tl-1")

        async def coach_sees_it() -> bool:
            seen = await client.get(f"{stack['coaching']}/v1/agents/a-1/evaluations", headers=coach)
            return seen.status_code == 200 and evaluation_id in seen.text

        await eventually(coach_sees_it)
        session = await client.post(f"{stack['coaching']}/v1/sessions", headers=coach, json={
            "agent_id": "a-1", "coach_id": "tl-1", "kind": "evaluation_review",
            "held": {"held_at": "2026-11-23T09:30:00Z", "notes": "Summarise the next step before closing.",
                     "evaluation_ids": [evaluation_id]}})
        assert session.status_code == 201, session.text

    async def delivered() -> bool:
        return bool(received)

    await eventually(delivered)
    headers, body = received[0]
    assert verify_standard_webhook(secret, headers, body)
    assert not verify_standard_webhook(secret, headers, body.replace(b"a-1", b"a-2"))
    delivery = json.loads(body)
    assert delivery["type"] == "coaching.session.recorded.v1"
    assert delivery["data"]["agent_id"] == "a-1" and delivery["data"]["evaluation_ids"] == [evaluation_id]
