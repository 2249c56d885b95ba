"""A notifications process killed in the middle of deliveries loses nothing.

The service runs as a real process against the real broker and database. It is killed (SIGKILL: no
shutdown, no chance to record anything) while receivers are holding its requests, and started again.
Every event must then reach the receiver at least once, under the same ``webhook-id`` each time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coachline.contracts.coaching import CoachingSessionRecorded, SessionKind
from coachline.envelope import CloudEvent, new_event
from coachline.testing import Identity, eventually, free_port

pytestmark = pytest.mark.integration

TENANT = "acme"
EVENTS = 24


class HoldingReceiver:
    """Holds every request until released, so the service has attempts in flight when it dies."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.arrived: list[tuple[dict[str, str], bytes]] = []
        self.accepted: list[tuple[dict[str, str], bytes]] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks", self._hooks, methods=["POST"])])

    async def _hooks(self, request: Request) -> Response:
        headers, body = dict(request.headers), await request.body()
        self.arrived.append((headers, body))
        await self.released.wait()
        self.accepted.append((headers, body))
        return Response(status_code=204)


class ServiceProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "coachline_notifications"],
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()[-3000:]
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    async def ready(self, base_url: str) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            async def answers() -> bool:
                assert self.process is not None and self.process.poll() is None, self.log.read_text()[-3000:]
                try:
                    return (await http.get(f"{base_url}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(answers, timeout=90)


@pytest.fixture
async def service(service_env: dict[str, str], isolation: str, tmp_path: Path
                  ) -> AsyncIterator[tuple[ServiceProcess, str]]:
    port = free_port()
    env = {**os.environ, **service_env,
           "NOTIFICATIONS_HTTP_PORT": str(port), "NOTIFICATIONS_DB_SCHEMA": f"notifications_{isolation}",
           "NOTIFICATIONS_CONSUMER_GROUP": f"notifications-{isolation}",
           "NOTIFICATIONS_WEBHOOK_ALLOW_LOOPBACK": "true", "NOTIFICATIONS_WEBHOOK_TIMEOUT_S": "5",
           "NOTIFICATIONS_WEBHOOK_LEASE_MARGIN_S": "1", "NOTIFICATIONS_WEBHOOK_RETRY_BASE_S": "0.2",
           "NOTIFICATIONS_WEBHOOK_RETRY_MAX_S": "1", "NOTIFICATIONS_WEBHOOK_POLL_INTERVAL_S": "0.1",
           "NOTIFICATIONS_WEBHOOK_BATCH_SIZE": "4"}
    process = ServiceProcess(env, tmp_path / "notifications.log")
    yield process, f"http://127.0.0.1:{port}"
    process.stop()


def session_recorded(number: int) -> CloudEvent:
    data = CoachingSessionRecorded(
        session_id=f"cs-{number}", agent_id=f"a-{number % 5}", coach_id="tl-3", kind=SessionKind.ONE_TO_ONE,
        held_at=datetime.now(UTC), summary="Agreed on one next step.",
    )
    return new_event("coaching.session.recorded.v1", TENANT, data, source="coachline/coaching")


async def test_killing_the_process_mid_delivery_loses_nothing(
    service: tuple[ServiceProcess, str],
    run_app: Callable[[Any], Awaitable[str]],
    publish: Callable[[CloudEvent], Awaitable[None]],
    identity: Identity,
) -> None:
    process, base_url = service
    receiver = HoldingReceiver()
    receiver_url = await run_app(receiver.app())
    process.start()
    await process.ready(base_url)
    async with httpx.AsyncClient(base_url=base_url, headers=identity.headers(TENANT, "admin")) as http:
        created = await http.post("/v1/subscriptions", json={"url": f"{receiver_url}/hooks",
                                                             "event_types": ["coaching.session.recorded.v1"]})
        assert created.status_code == 201, created.text
    secret = created.json()["secret"]

    events = [session_recorded(n) for n in range(EVENTS)]
    for event in events[: EVENTS // 2]:
        await publish(event)

    async def in_flight() -> bool:
        return len(receiver.arrived) >= 2

    # Attempts are held open at the receiver: the process dies with deliveries claimed and unanswered.
    await eventually(in_flight, timeout=60)
    process.kill()
    receiver.released.set()
    # Published while the service is down: they wait in Kafka.
    for event in events[EVENTS // 2:]:
        await publish(event)

    process.start()
    await process.ready(base_url)

    async def all_accepted() -> bool:
        return {h["webhook-id"] for h, _ in receiver.accepted} >= {e.id for e in events}

    await eventually(all_accepted, timeout=120)

    async with httpx.AsyncClient(base_url=base_url, headers=identity.headers(TENANT, "admin")) as http:
        subscription_id = created.json()["id"]

        async def all_recorded() -> list[Any] | None:
            items = (await http.get(f"/v1/subscriptions/{subscription_id}/deliveries")).json()["items"]
            return items if len(items) == EVENTS and all(i["status"] == "delivered" for i in items) else None

        items = await eventually(all_recorded, timeout=60)
    assert {i["event_id"] for i in items} == {e.id for e in events}

    verifier = Webhook(secret)
    by_event: dict[str, set[str]] = {}
    for headers, body in receiver.arrived:
        payload = verifier.verify(body, headers)
        # The webhook-id of every attempt is the id of the event it carries, before and after the crash.
        assert payload["id"] == headers["webhook-id"]
        by_event.setdefault(payload["id"], set()).add(payload["data"]["session_id"])
    assert by_event.keys() == {e.id for e in events}
    assert all(len(sessions) == 1 for sessions in by_event.values())
    # The attempts cut off by the kill were made again (a receiver de-duplicates them by webhook-id).
    assert len(receiver.arrived) > len({h["webhook-id"] for h, _ in receiver.arrived})
