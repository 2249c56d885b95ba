"""Subscribers of the ``cc.raw.<source>.v1`` topics: platform records streamed into Kafka.

Thin on purpose: the tenant from the ``coachline-tenant`` header and the message bytes go to the same
use case as an HTTP batch. The offset is committed only once the canonical events (or the dead letter)
are acknowledged; if Kafka refuses them, the message is handled again (its event ids do not change).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from coachline.contracts.registry import RAW_SOURCES
from coachline.runtime import Runtime
from coachline_intake.domain.sources import ADAPTERS, Adapter
from coachline_intake.service import Intake

TENANT_HEADER = "coachline-tenant"


def _handler(intake: Intake, adapter: Adapter) -> Callable[[KafkaMessage], Awaitable[None]]:
    async def on_message(msg: KafkaMessage) -> None:
        headers = dict(getattr(msg.raw_message, "headers", None) or ())
        tenant = headers.get(TENANT_HEADER)
        tenant_id = tenant.decode(errors="replace") if isinstance(tenant, bytes) else tenant
        await intake.take_message(adapter, tenant_id, msg.body)

    return on_message


def register(runtime: Runtime, intake: Intake) -> None:
    settings = runtime.settings
    for source in RAW_SOURCES:
        topic = f"cc.raw.{source}.v1"
        runtime.broker.subscriber(
            settings.topic_name(topic),
            group_id=settings.consumer_group,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            title=f"{topic}:consume",
            description=f"Raw {source} records: translated like HTTP input, bad ones dead-lettered.",
        )(_handler(intake, ADAPTERS[source]))
        runtime.consumes.append(topic)
