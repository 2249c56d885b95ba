"""Intake: platform events in, canonical events out. Stateless; publishes straight to Kafka."""

from __future__ import annotations

from fastapi import FastAPI

from coachline.runtime import Runtime
from coachline.web import create_service_app
from coachline_intake import api
from coachline_intake.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, uses_database=False)
    runtime.declare_publishers(
        ["cc.interactions.v1", "cc.agent-states.v1", "cc.surveys.v1"],
        description="Canonical events derived from platform input.",
    )
    return create_service_app(
        runtime,
        title="Coachline intake",
        description="Takes events from contact-centre platforms and publishes canonical events.",
        routers=[api.router(runtime, settings)],
    )
