"""The four services people call, in-process on real Kafka and PostgreSQL, shared by the security tests.

Started once per session (their start-up is most of a test's time): one topic prefix, each service in
its own schema and consumer group, coaching reading goal figures from this kpi. Tests keep out of each
other's way by tenant: schemathesis works in tenant ``fuzz``, the access matrix in ``acme`` and
``globex``, the limit tests in ``limits``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from coachline.envelope import CloudEvent
from coachline.settings import ServiceSettings
from coachline.testing import Identity, Infrastructure, Servers, TopicJanitor, environment, free_port
from coachline_coaching.app import create_app as coaching_app
from coachline_coaching.settings import Settings as CoachingSettings
from coachline_evaluation.app import create_app as evaluation_app
from coachline_evaluation.settings import Settings as EvaluationSettings
from coachline_kpi.app import create_app as kpi_app
from coachline_kpi.settings import Settings as KpiSettings
from coachline_notifications.app import create_app as notifications_app
from coachline_notifications.settings import Settings as NotificationsSettings

SERVICES = ("evaluation", "coaching", "kpi", "notifications")
# The stack's DNS for webhook addresses: one public HR system; any other name does not resolve.
HR_SYSTEM = "https://hr.example/hooks/coaching"


async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address]:
    if host != "hr.example":
        raise OSError(f"{host} does not resolve")
    return [ipaddress.IPv4Address("93.184.215.14")]


@dataclass
class Stack:
    urls: dict[str, str]
    apps: dict[str, Any]
    settings: dict[str, ServiceSettings]
    topic_prefix: str
    producer: AIOKafkaProducer = field(repr=False)

    async def publish(self, *events: CloudEvent) -> None:
        """Events on the stack's topics, as the services' relays write them."""
        for event in events:
            await self.producer.send_and_wait(
                self.topic_prefix + event.topic, event.body(), key=event.key.encode(),
                headers=[(name, value.encode()) for name, value in event.headers().items()])


@pytest.fixture(scope="session")
async def stack(infrastructure: Infrastructure, identity: Identity,
                topic_janitor: TopicJanitor) -> AsyncIterator[Stack]:
    isolation = uuid.uuid4().hex[:10]
    prefix = f"t{isolation}."
    env = environment(infrastructure, identity, prefix)
    ports = {name: free_port() for name in SERVICES}

    def own(name: str) -> dict[str, str]:
        return {"db_schema": f"{name}_{isolation}", "consumer_group": f"{name}-{isolation}"}

    # The settings read the environment while they are built; nothing else in the session sees it.
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        settings: dict[str, ServiceSettings] = {
            "evaluation": EvaluationSettings(**own("evaluation")),
            "coaching": CoachingSettings(**own("coaching"), kpi_base_url=f"http://127.0.0.1:{ports['kpi']}"),
            "kpi": KpiSettings(**own("kpi")),
            "notifications": NotificationsSettings(**own("notifications")),
        }
        apps = {
            "evaluation": evaluation_app(settings["evaluation"]),
            "coaching": coaching_app(settings["coaching"]),
            "kpi": kpi_app(settings["kpi"]),
            "notifications": notifications_app(settings["notifications"], resolver=resolve),
        }
    servers = Servers()
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        urls = await asyncio.gather(*(servers.start(apps[name], ports[name]) for name in SERVICES))
        yield Stack(dict(zip(SERVICES, urls, strict=True)), apps, settings, prefix, producer)
    finally:
        await servers.stop()
        await producer.stop()
        topic_janitor.retire(prefix)
