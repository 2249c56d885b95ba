"""Every service as its own process against the real broker and database, for the e2e tests.

A test module may override ``stack_env`` to give the services extra settings (names as the
services read them, e.g. ``EVALUATION_SAMPLING_MIN_SAMPLE``).
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
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

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
    urls: dict[str, str] = {}
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    for name in SERVICES:
        prefix = f"{name.upper()}_"
        port = free_port()
        env = {**os.environ, **service_env, f"{prefix}HTTP_PORT": str(port), "INTAKE_SOURCE_SECRETS": json.dumps(
                   {"acme": {"generic": [INTAKE_SECRET]}}),
               f"{prefix}DB_SCHEMA": f"{name}_{isolation}", f"{prefix}CONSUMER_GROUP": f"{name}-{isolation}",
               # The HR receiver below runs on this machine.
               "NOTIFICATIONS_WEBHOOK_ALLOW_LOOPBACK": "true", **stack_env}
        log = (tmp_path / f"{name}.log").open("wb")
        # Popen only spawns; waiting happens through the readiness polls below.
        processes.append((name, subprocess.Popen([sys.executable, "-m", f"coachline_{name}"],  # noqa: ASYNC220
                                                 env=env, stdout=log, stderr=subprocess.STDOUT)))
        urls[name] = f"http://127.0.0.1:{port}"
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
