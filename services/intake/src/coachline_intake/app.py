"""Intake: platform events in, canonical events out. Stateless; publishes straight to Kafka."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from coachline.envelope import CloudEvent
from coachline.messaging import BulkPublisher, OutgoingRecord, event_record
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

    publisher = BulkPublisher(runtime.broker, settings, runtime.registry)
    dead_letter_topic = settings.topic_name(DEAD_LETTERS)

    def dead_letter_record(letter: DeadLetter) -> OutgoingRecord:
        headers = {"dlq_reason": letter.reason[:1000], "dlq_source": letter.source, "dlq_line": str(letter.line),
                   "ce_tenantid": letter.tenant_id}
        if letter.field:
            headers["dlq_field"] = letter.field[:256]
        return OutgoingRecord(dead_letter_topic, f"{letter.tenant_id}:{letter.source}".encode(), headers, letter.body)

    # Whatever stops the producer from getting an acknowledgement (the broker away, the producer not
    # connected yet or closing) means the same to the platform: nothing was accepted, send again.
    async def deliver(events: list[CloudEvent], dead_letters: list[DeadLetter]) -> None:
        records = [event_record(settings, event) for event in events] + [dead_letter_record(d) for d in dead_letters]
        try:
            await publisher.publish(records)
        except Exception as exc:
            log.warning("publishing to Kafka failed: %s", type(exc).__name__)
            raise DeliveryFailed(type(exc).__name__) from None

    intake = Intake(settings, deliver, runtime.registry)
    if settings.raw_topics:
        handlers.register(runtime, intake)
    return create_service_app(
        runtime,
        title="Coachline intake",
        description="Takes events from contact-centre platforms and publishes canonical events.",
        routers=[api.router(intake, settings)],
    )
