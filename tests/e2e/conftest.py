"""Every service as its own process against the real broker and database, for the e2e tests.

A test module may override ``stack_env`` to give the services extra settings (names as the
services read them, e.g. ``KPI_MIN_SAMPLE``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coachline.signing import new_secret, signature_headers
from coachline.testing import eventually, free_port

SERVICES = ("intake", "evaluation", "coaching", "kpi", "notifications")
INTAKE_SECRET = new_secret()


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {}


@pytest.fixture
async def stack(service_env: dict[str, str], stack_env: dict[str, str], isolation: str,
                tmp_path) -> AsyncIterator[dict[str, str]]:
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    for name in SERVICES:
        prefix = f"{name.upper()}_"
        env = {**os.environ, **service_env, f"{prefix}HTTP_PORT": str(ports[name]), "INTAKE_SOURCE_SECRETS": json.dumps(
                   {"acme": {"generic": [INTAKE_SECRET]}}),
               f"{prefix}DB_SCHEMA": f"{name}_{isolation}", f"{prefix}CONSUMER_GROUP": f"{name}-{isolation}",
               # Goal progress and a period's look back come from this stack's KPI service.
               "COACHING_KPI_BASE_URL": urls["kpi"],
               # The HR receiver below runs on this machine.
               "NOTIFICATIONS_WEBHOOK_ALLOW_LOOPBACK": "true", **stack_env}
        log = (tmp_path / f"{name}.log").open("wb")
        # Popen only spawns; waiting happens through the readiness polls below.
        processes.append((name, subprocess.Popen([sys.executable, "-m", f"coachline_{name}"],  # noqa: ASYNC220
                                                 env=env, stdout=log, stderr=subprocess.STDOUT)))
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            async def all_ready() -> bool:
                for name, proc in processes:
                    assert proc.poll() is None, f"{name} exited:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"
                try:
                    answers = await asyncio.gather(*(client.get(f"{u}/readyz") for u in urls.values()))
                except httpx.HTTPError:
                    return False
                return all(a.status_code == 200 for a in answers)

            await eventually(all_ready, timeout=90)
        yield urls
    finally:
        for _, proc in processes:
            proc.terminate()
        for name, proc in processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail(f"{name} did not stop within 20 s of SIGTERM")


def platform_event(kind: str, **data: Any) -> dict[str, Any]:
    base = {"interaction_id": "c-e2e-1", "queue_id": "billing", "channel": "voice",
            "occurred_at": "2026-11-23T09:00:00Z"}
    return {"specversion": "1.0", "id": f"pbx-{kind}", "source": "pbx", "type": f"cc.interaction.{kind}.v1",
            "tenantid": "acme", "data": {**base, **data}}


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, written from the Standard Webhooks specification alone."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in headers["webhook-signature"].split())


async def post_to_intake(client: httpx.AsyncClient, intake_url: str, events: list[dict[str, Any]],
                         request_id: str) -> None:
    """Send a batch as a platform would: signed with the tenant's generic-source secret."""
    batch = json.dumps(events).encode()
    posted = await client.post(f"{intake_url}/v1/sources/generic/events", content=batch, headers={
        "content-type": "application/json", "coachline-tenant": "acme",
        **signature_headers(INTAKE_SECRET, request_id, batch)})
    assert posted.status_code == 202, posted.text


def canonical_event(type_name: str, event_id: str, source: str = "pbx", **data: Any) -> dict[str, Any]:
    """Any canonical event as a platform posts it to intake's generic source; ``event_id`` is the platform's own."""
    return {"specversion": "1.0", "id": event_id, "source": source, "type": type_name, "tenantid": "acme",
            "data": data}


def roster(team_id: str, unit_id: str, agent_ids: list[str], at: datetime) -> list[dict[str, Any]]:
    """What the WFM system says of a team and its agents: every service maps agent → team → unit from it."""
    team = canonical_event("cc.roster.team.v1", f"team-{team_id}", "wfm", team_id=team_id, name=team_id.title(),
                           unit_id=unit_id, occurred_at=at.isoformat())
    return [team, *(canonical_event("cc.roster.agent.v1", f"agent-{a}", "wfm", agent_id=a, team_id=team_id,
                                    occurred_at=at.isoformat()) for a in agent_ids)]


def wrapped_up(interaction_id: str, agent_id: str, team_id: str, at: datetime, talk_s: int, hold_s: int = 0,
               after_contact_work_s: int = 0) -> dict[str, Any]:
    """A voice contact ``agent_id`` finished handling at ``at``: what the sampling pool and AHT are built from."""
    return canonical_event("cc.interaction.wrapped-up.v1", f"{interaction_id}-wrapped-up",
                           interaction_id=interaction_id, queue_id="billing", channel="voice", agent_id=agent_id,
                           team_id=team_id, talk_s=str(talk_s), hold_s=str(hold_s),
                           after_contact_work_s=str(after_contact_work_s), occurred_at=at.isoformat())


async def kpi_figure(client: httpx.AsyncClient, kpi_url: str, headers: dict[str, str], scope: str, scope_id: str,
                     window: str, figure: str) -> Decimal | None:
    """One figure of one scope and window from the KPI API; None while it has no data (or too small a sample)."""
    answer = await client.get(f"{kpi_url}/v1/kpis", headers=headers,
                              params={"scope": scope, "scope_id": scope_id, "window": window})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    value = items[0]["figures"].get(figure) if items else None
    return None if value is None else Decimal(str(value))


async def wait_in_pool(client: httpx.AsyncClient, evaluation_url: str, headers: dict[str, str],
                       interaction_ids: set[str]) -> None:
    """Wait until evaluation's sampling pool holds every one of ``interaction_ids`` (they come over Kafka)."""
    async def pooled() -> bool:
        pool = await client.get(f"{evaluation_url}/v1/sampling-pool", headers=headers)
        return pool.status_code == 200 and interaction_ids <= {e["interaction_id"] for e in pool.json()["items"]}

    await eventually(pooled, timeout=60)


async def publish_scorecard(client: httpx.AsyncClient, evaluation_url: str, headers: dict[str, str],
                            scorecard_id: str, definition: dict[str, Any]) -> None:
    """Draft ``definition`` as the first version of ``scorecard_id`` and publish it."""
    drafted = await client.put(f"{evaluation_url}/v1/scorecards/{scorecard_id}", json=definition, headers=headers)
    assert drafted.status_code == 200, drafted.text
    published = await client.post(f"{evaluation_url}/v1/scorecards/{scorecard_id}/versions/1/status",
                                  json={"status": "published"}, headers=headers)
    assert published.status_code == 200, published.text


@dataclass
class HrSystem:
    """An HR system's webhook receiver on this machine, and every delivery it got (headers, body)."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def subscribe(self, client: httpx.AsyncClient, notifications_url: str, headers: dict[str, str],
                        event_types: list[str]) -> str:
        """Subscribe the receiver to ``event_types`` through notifications; returns the signing secret."""
        subscribed = await client.post(f"{notifications_url}/v1/subscriptions", headers=headers, json={
            "url": self.url, "event_types": event_types})
        assert subscribed.status_code == 201, subscribed.text
        secret: str = subscribed.json()["secret"]
        return secret


@pytest.fixture
async def hr_system(run_app: Callable[[Any], Awaitable[str]]) -> HrSystem:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    base = await run_app(Starlette(routes=[Route("/hooks/coaching", receive, methods=["POST"])]))
    return HrSystem(f"{base}/hooks/coaching", received)
