"""An intake app without Kafka: the real routes and use cases, with publishing recorded in memory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from coachline.envelope import CloudEvent
from coachline.signing import new_secret, signature_headers
from coachline.web import install_problem_handlers
from coachline_intake import api
from coachline_intake.service import DeadLetter, DeliveryFailed, Intake
from coachline_intake.settings import Settings

SECRET = new_secret()
NEXT_SECRET = new_secret()


@dataclass
class Published:
    events: list[CloudEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    kafka_down: bool = False

    async def deliver(self, events: list[CloudEvent], dead_letters: list[DeadLetter]) -> None:
        if self.kafka_down:
            raise DeliveryFailed("KafkaConnectionError")
        self.events.extend(events)
        self.dead_letters.extend(dead_letters)


def make_settings(**overrides: Any) -> Settings:
    secrets = {source: [SECRET] for source in ("generic", "asterisk", "amazon-connect", "genesys-cloud",
                                              "twilio-taskrouter", "survey", "mystery-shop", "roster")}
    values: dict[str, Any] = {"source_secrets": {"acme": secrets}, **overrides}
    return Settings(**values)


def make_app(settings: Settings | None = None) -> tuple[FastAPI, Published]:
    settings = settings or make_settings()
    published = Published()
    intake = Intake(settings, published.deliver, CollectorRegistry())
    app = FastAPI(title="Coachline intake")
    install_problem_handlers(app)
    app.include_router(api.router(intake, settings))
    return app, published


def signed(body: bytes, content_type: str, tenant: str = "acme", secret: str | list[str] = SECRET,
           msg_id: str | None = None, now: float | None = None) -> dict[str, str]:
    """Headers of a request as a platform signs it; a fresh ``webhook-id`` unless one is given."""
    return {"content-type": content_type, "coachline-tenant": tenant,
            **signature_headers(secret, msg_id or f"msg-{uuid.uuid4()}", body, now=now)}
