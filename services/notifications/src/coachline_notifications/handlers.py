"""Kafka subscribers of notifications: decoding is the library's, fanning out the service layer's."""

from __future__ import annotations

from coachline.envelope import CloudEvent
from coachline.runtime import Runtime
from coachline_notifications.domain.subscriptions import WEBHOOK_TOPICS
from coachline_notifications.service import FanOut


def register(runtime: Runtime, fan_out: FanOut) -> None:
    async def on_event(event: CloudEvent) -> None:
        await fan_out.apply(event)

    for topic in WEBHOOK_TOPICS:
        runtime.subscribe(
            topic,
            on_event,
            title=f"{topic}:webhook-fan-out",
            description="Queues one webhook delivery per subscription of the event's tenant that wants its type, "
                        "and the e-mails, digest lines and wallboard banners its rules ask for.",
        )
