"""Pytest fixtures for tests against real Kafka and PostgreSQL (loaded by the root ``conftest.py``).

Where the infrastructure comes from, in order: ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` when
given; testcontainers when a Docker engine answers; otherwise the local broker and embedded
PostgreSQL of :mod:`coachline.devstack`, started once per session. Each test gets its own topic
prefix, consumer group and schema, so tests never see each other's events or rows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from coachline import devstack
from coachline.auth import Principal, Role, jwks_of, mint_token
from coachline.envelope import CloudEvent, decode, header_map

T = TypeVar("T")


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    database_url: str


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if kafka and database:
        yield Infrastructure(kafka, database)
        return
    if os.environ.get("COACHLINE_TESTCONTAINERS", "auto") != "never" and _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as k, PostgresContainer("postgres:17") as pg:
            yield Infrastructure(k.get_bootstrap_server(), pg.get_connection_url(driver=None))
        return
    devstack.up()
    yield Infrastructure(devstack.LOCAL_KAFKA, devstack.LOCAL_DATABASE_URL)


@dataclass(frozen=True)
class Identity:
    """A test identity provider: services trust its JWKS, tests sign tokens with its key."""

    private_key: Any
    jwks: str
    issuer: str = "coachline-test"
    audience: str = "coachline"

    def token(self, tenant_id: str, *roles: str, subject: str = "tester", agent_id: str | None = None,
              teams: tuple[str, ...] = (), units: tuple[str, ...] = (), ttl_s: int = 3600) -> str:
        principal = Principal(subject=subject, tenant_id=tenant_id, roles=frozenset(Role(r) for r in roles),
                              agent_id=agent_id, teams=frozenset(teams), units=frozenset(units))
        return mint_token(self.private_key, issuer=self.issuer, audience=self.audience, principal=principal,
                          ttl_s=ttl_s, kid="test")

    def headers(self, tenant_id: str, *roles: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant_id, *roles, **claims)}"}


@pytest.fixture(scope="session")
def identity() -> Identity:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Identity(private_key=key, jwks=jwks_of([("test", key.public_key())]))


@pytest.fixture
def isolation() -> str:
    """A short unique token for this test's topic prefix, consumer groups and schemas."""
    return uuid.uuid4().hex[:10]


class TopicJanitor:
    """Deletes finished tests' topics in the background.

    Every test creates its own topics; left behind, a few thousand tests hold tens of thousands of
    partitions and the broker runs out of file descriptors.
    """

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._retired: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="topic-janitor", daemon=True)
        self._thread.start()

    def retire(self, prefix: str) -> None:
        with self._lock:
            self._retired.append(prefix)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(5.0):
            self._sweep()
        self._sweep()

    def _sweep(self) -> None:
        with self._lock:
            prefixes, self._retired = tuple(self._retired), []
        if prefixes:
            try:
                asyncio.run(self._delete(prefixes))
            except Exception:
                # Best effort: a failed sweep only leaves some topics behind.
                logging.getLogger(__name__).warning("could not delete finished tests' topics", exc_info=True)

    async def _delete(self, prefixes: tuple[str, ...]) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap_servers)
        await admin.start()
        try:
            doomed = [t for t in await admin.list_topics() if t.startswith(prefixes)]
            if doomed:
                await admin.delete_topics(doomed)
        finally:
            await admin.close()


@pytest.fixture(scope="session")
def topic_janitor(infrastructure: Infrastructure) -> Iterator[TopicJanitor]:
    janitor = TopicJanitor(infrastructure.kafka_bootstrap_servers)
    yield janitor
    janitor.close()


def environment(infrastructure: Infrastructure, identity: Identity, topic_prefix: str) -> dict[str, str]:
    """Environment variables that point a service at the infrastructure, its topics under ``topic_prefix``."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "DATABASE_URL": infrastructure.database_url,
        "COACHLINE_TOPIC_PREFIX": topic_prefix,
        "COACHLINE_ENVIRONMENT": "test",
        "COACHLINE_OIDC_ISSUER": identity.issuer,
        "COACHLINE_OIDC_AUDIENCE": identity.audience,
        "COACHLINE_OIDC_JWKS": identity.jwks,
    }


@pytest.fixture
def service_env(infrastructure: Infrastructure, isolation: str, identity: Identity,
                topic_janitor: TopicJanitor) -> Iterator[dict[str, str]]:
    """Environment variables that point a service (in-process or a subprocess) at this test's slice."""
    prefix = f"t{isolation}."
    yield environment(infrastructure, identity, prefix)
    topic_janitor.retire(prefix)


@pytest.fixture
def settings_for(service_env: dict[str, str], isolation: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Build a service's Settings class for this test: own schema and consumer group."""
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)

    def build(settings_cls: type[T], **overrides: Any) -> T:
        name = settings_cls().service_name  # type: ignore[attr-defined]
        values = {"db_schema": f"{name}_{isolation}", "consumer_group": f"{name}-{isolation}", **overrides}
        return settings_cls(**values)

    return build


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30.0, interval: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@dataclass
class TopicReader:
    """Reads a topic from the beginning; for asserting what a service published."""

    consumer: AIOKafkaConsumer

    async def records(self, count: int, timeout: float = 30.0) -> list[Any]:
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got.extend(records)
        if len(got) < count:
            raise AssertionError(f"expected {count} records, got {len(got)} within {timeout}s")
        return got

    async def events(self, count: int, timeout: float = 30.0) -> list[CloudEvent]:
        return [decode(header_map(r.headers), r.value) for r in await self.records(count, timeout)]


@pytest.fixture
async def publish(service_env: dict[str, str]) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Publish events to this test's topics as the services' relays do: binary-mode CloudEvents, keyed."""
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"], enable_idempotence=True)
    await producer.start()

    async def send(*events: CloudEvent) -> None:
        for event in events:
            await producer.send_and_wait(
                service_env["COACHLINE_TOPIC_PREFIX"] + event.topic, event.body(), key=event.key.encode(),
                headers=[(name, value.encode()) for name, value in event.headers().items()],
            )

    yield send
    await producer.stop()


async def metric_value(client: Any, sample: str) -> float:
    """A sample's value on a service's ``/metrics`` page (0 when absent), read with an httpx client."""
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
async def topic_reader(service_env: dict[str, str]) -> AsyncIterator[Callable[[str], Awaitable[TopicReader]]]:
    consumers: list[AIOKafkaConsumer] = []

    async def open_reader(logical_topic: str) -> TopicReader:
        consumer = AIOKafkaConsumer(
            service_env["COACHLINE_TOPIC_PREFIX"] + logical_topic,
            bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"],
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        consumers.append(consumer)
        return TopicReader(consumer)

    yield open_reader
    for consumer in consumers:
        await consumer.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Servers:
    """ASGI apps served (lifespan included: broker, database, relay) over loopback until :meth:`stop`.

    Real HTTP, so the apps run exactly as in production, start-up and shutdown included.
    """

    def __init__(self) -> None:
        self._running: list[tuple[Any, asyncio.Task[None]]] = []

    async def start(self, app: Any, port: int | None = None) -> str:
        """Serve ``app`` on ``port`` (a free one by default); returns its base URL once it has started."""
        import uvicorn

        port = port or free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
        task = asyncio.create_task(server.serve())
        deadline = time.monotonic() + 60
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                raise AssertionError("the app did not start") from task.exception() if task.done() else None
            await asyncio.sleep(0.05)
        self._running.append((server, task))
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for server, task in reversed(self._running):
            server.should_exit = True
            await task
        self._running.clear()


@pytest.fixture
async def run_app() -> AsyncIterator[Callable[[Any], Awaitable[str]]]:
    """Serve an ASGI app on a free port for this test (see :class:`Servers`); returns its base URL."""
    servers = Servers()
    yield servers.start
    await servers.stop()
