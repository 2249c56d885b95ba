"""Webhook subscriptions: what a subscriber asks for, and what the API shows back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from coachline.contracts.base import Identifier
from coachline.contracts.registry import event_types_on

# The topics this service consumes; a subscription can only name event types that travel on them,
# so nobody subscribes to a type that would never be delivered.
WEBHOOK_TOPICS = ("coaching.v1",)
WEBHOOK_EVENT_TYPES = tuple(sorted(e.name for topic in WEBHOOK_TOPICS for e in event_types_on(topic)))
MAX_EVENT_TYPES = 20


def _deliverable(name: str) -> str:
    if name not in WEBHOOK_EVENT_TYPES:
        raise ValueError(f"not an event type delivered by webhooks; expected one of {', '.join(WEBHOOK_EVENT_TYPES)}")
    return name


EventTypeName = Annotated[
    str,
    StringConstraints(max_length=100),
    AfterValidator(_deliverable),
    WithJsonSchema({"type": "string", "enum": list(WEBHOOK_EVENT_TYPES)}),
]


class SubscriptionRequest(BaseModel):
    """Register a webhook: the tenant whose events to send, where to POST them, and which event types."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: Identifier
    url: HttpUrl = Field(description="http or https, at most 2083 characters. Redirects are not followed.")
    event_types: list[EventTypeName] = Field(min_length=1, max_length=MAX_EVENT_TYPES)

    @field_validator("event_types")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(names))


class Subscription(BaseModel):
    """A registered webhook, as the API shows it (never with its secret)."""

    id: UUID
    tenant_id: str
    url: str
    event_types: list[str]
    created_at: datetime


class CreatedSubscription(Subscription):
    """The answer to a registration: the only time the signing secret is shown."""

    secret: str = Field(description="Signing secret: whsec_ and the base64 of 32 random bytes. Shown only once.")
