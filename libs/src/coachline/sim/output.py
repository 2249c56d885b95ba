"""Where simulated events go and how fast: intake over HTTP (NDJSON, signed) or Kafka; paced or not.

Pacing maps simulated time to the wall clock: ``speed`` simulated seconds pass per wall second,
anchored so that the simulated moment ``anchor_sim_ms`` happens at wall time ``anchor_wall_ms``.
Events already due are sent at once (a demo started at noon first sends the morning); ``speed=None``
sends everything as fast as the sink takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from coachline.contracts.registry import TOPICS
from coachline.sim.model import SimEvent


class Sink(Protocol):
    async def send(self, events: Sequence[SimEvent]) -> None: ...

    async def close(self) -> None: ...


def ndjson(events: Iterable[SimEvent]) -> bytes:
    """Events in the generic source's format, one JSON object per line."""
    return b"".join(json.dumps(e.structured(), separators=(",", ":")).encode() + b"\n" for e in events)


def request_headers(tenant_id: str, body: bytes, secret: str | None) -> dict[str, str]:
    """Headers of one batch: media type, the tenant, and a Standard Webhooks signature with its secret."""
    headers = {"content-type": "application/x-ndjson", "coachline-tenant": tenant_id}
    if secret:
        from coachline.signing import signature_headers

        headers |= signature_headers(secret, f"sim-{uuid.uuid4()}", body)
    return headers


def secret_for(tenant_id: str, given: str | None = None, source: str = "generic") -> str | None:
    """The signing secret: given, else ``COACHLINE_SIM_SECRET``, else intake's own ``INTAKE_SOURCE_SECRETS``
    entry for the tenant (so ``make run`` needs no second copy of it)."""
    if given:
        return given
    if os.environ.get("COACHLINE_SIM_SECRET"):
        return os.environ["COACHLINE_SIM_SECRET"]
    try:
        secrets = json.loads(os.environ.get("INTAKE_SOURCE_SECRETS", "{}"))
        found = secrets.get(tenant_id, {}).get(source, [])
    except (ValueError, AttributeError):
        return None
    return found[0] if found and isinstance(found[0], str) else None


class IntakeRejected(RuntimeError):
    """Intake answered a batch with a 4xx other than a rate limit: the simulator's output is wrong."""


@dataclass
class HttpSink:
    """Posts NDJSON batches, one tenant per request, and retries what intake could not take yet."""

    base_url: str
    secret: str | None = None
    client: httpx.AsyncClient | None = None
    path: str = "/v1/sources/generic/events"
    # A demo keeps running past a refused batch (and says why); a benchmark or test wants to stop.
    strict: bool = True
    sent: int = field(default=0, init=False)
    refused: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.client = self.client or httpx.AsyncClient(timeout=30)

    async def send(self, events: Sequence[SimEvent]) -> None:
        by_tenant: dict[str, list[SimEvent]] = {}
        for event in events:
            by_tenant.setdefault(event.tenant_id, []).append(event)
        for tenant, batch in by_tenant.items():
            try:
                await self.post(tenant, ndjson(batch))
            except IntakeRejected as exc:
                if self.strict:
                    raise
                self.refused += len(batch)
                print(f"sim: {len(batch)} events refused: {exc}", file=sys.stderr, flush=True)
                continue
            self.sent += len(batch)

    async def post(self, tenant: str, body: bytes) -> httpx.Response:
        assert self.client is not None
        delay = 0.5
        while True:
            try:
                answer = await self.client.post(self.base_url + self.path, content=body,
                                                headers=request_headers(tenant, body, secret_for(tenant, self.secret)))
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code < 300:
                return answer
            if answer is not None and answer.status_code not in (429, 503) and answer.status_code < 500:
                raise IntakeRejected(f"intake answered {answer.status_code}: {answer.text[:500]}")
            # Intake is starting, rate-limiting or without Kafka for a moment: the ids are stable, so resend.
            retry = answer.headers.get("retry-after") if answer is not None else None
            await asyncio.sleep(float(retry) if retry and retry.isdigit() else delay)
            delay = min(delay * 2, 10)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()


@dataclass
class KafkaSink:
    """Writes canonical events straight to their topics, as intake would publish them."""

    bootstrap_servers: str
    topic_prefix: str = ""
    producer: Any = field(default=None, init=False)
    sent: int = field(default=0, init=False)

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all",
                                         enable_idempotence=True, linger_ms=5, max_batch_size=512 * 1024)
        await self.producer.start()

    async def send(self, events: Sequence[SimEvent]) -> None:
        futures = []
        for event in events:
            ce = event.cloud_event()
            headers = [(k, v.encode()) for k, v in ce.headers().items()]
            futures.append(await self.producer.send(self.topic_prefix + ce.topic, ce.body(), key=ce.key.encode(),
                                                    headers=headers))
        await asyncio.gather(*futures)
        self.sent += len(events)

    async def close(self) -> None:
        await self.producer.stop()


async def ensure_topics(bootstrap_servers: str, topic_prefix: str, names: Iterable[str]) -> None:
    """Create the registry's topics (with its partition counts) under ``topic_prefix`` when missing."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(topic_prefix + n, TOPICS[n].partitions, 1, topic_configs=TOPICS[n].config())
                  for n in names if topic_prefix + n not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()


async def play(events: Sequence[SimEvent], sink: Sink, *, speed: float | None, batch_size: int = 500,
               anchor_sim_ms: int | None = None, anchor_wall_ms: int | None = None, tick_s: float = 0.25) -> int:
    """Send ``events`` (in time order) to ``sink`` paced as the module docstring says; returns how many."""
    if not events:
        return 0
    if speed is None:
        for i in range(0, len(events), batch_size):
            await sink.send(events[i:i + batch_size])
        return len(events)
    sim0 = events[0].at_ms if anchor_sim_ms is None else anchor_sim_ms
    wall0 = int(time.time() * 1000) if anchor_wall_ms is None else anchor_wall_ms
    i = 0
    while i < len(events):
        now_sim = sim0 + (time.time() * 1000 - wall0) * speed
        j = i
        while j < len(events) and events[j].at_ms <= now_sim and j - i < batch_size:
            j += 1
        if j > i:
            await sink.send(events[i:j])
            i = j
            continue
        wait = (events[i].at_ms - now_sim) / speed / 1000
        await asyncio.sleep(min(max(wait, 0.0), tick_s))
    return len(events)
