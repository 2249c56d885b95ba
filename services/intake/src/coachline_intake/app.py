"""Intake: platform events in, canonical events out. Stateless; publishes straight to Kafka."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_intake import api, handlers
from coachline_intake.domain.adapters.generic import INTAKE_TOPICS
from coachline_intake.service import DeadLetter, DeliveryFailed, Intake
from coachline_intake.settings import Settings

DEAD_LETTERS = "cc.intake.dlq.v1"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, uses_database=False)
    runtime.declare_publishers(sorted(INTAKE_TOPICS), description="Canonical events derived from platform input.")
    runtime.declare_publishers([DEAD_LETTERS], description="Platform records intake could not map, with the reason.")

    # Whatever stops the producer from getting an acknowledgement (the broker away, the producer not
    # connected yet or closing) means the same to the platform: nothing was accepted, send again.
    async def publish(event: CloudEvent) -> None:
        try:
            await runtime.publish(event)
        except Exception as exc:
            log.warning("publishing to Kafka failed: %s", type(exc).__name__)
            raise DeliveryFailed(type(exc).__name__) from None

    async def publish_dead_letter(letter: DeadLetter) -> None:
        headers = {"dlq_reason": letter.reason[:1000], "dlq_source": letter.source, "dlq_line": str(letter.line),
                   "ce_tenantid": letter.tenant_id}
        if letter.field:
            headers["dlq_field"] = letter.field[:256]
        try:
            await runtime.broker.publish(letter.body, topic=settings.topic_name(DEAD_LETTERS),
                                         key=f"{letter.tenant_id}:{letter.source}".encode(), headers=headers)
        except Exception as exc:
            log.warning("publishing a dead letter to Kafka failed: %s", type(exc).__name__)
            raise DeliveryFailed(type(exc).__name__) from None

    intake = Intake(settings, publish, publish_dead_letter, runtime.registry)
    if settings.raw_topics:
        handlers.register(runtime, intake)
    return create_service_app(
        runtime,
        title="Coachline intake",
        description="Takes events from contact-centre platforms and publishes canonical events.",
        routers=[api.router(intake, settings)],
    )
