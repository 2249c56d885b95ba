"""Webhook subscriptions: what a subscriber asks for, and what the API shows back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
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

from coachline.contracts.registry import event_types_on

# The topics this service consumes; a subscription can only name event types that travel on them,
# so nobody subscribes to a type that would never be delivered.
WEBHOOK_TOPICS = ("coaching.v1", "qa.evaluations.v1", "kpi.alerts.v1")
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
    """Register a webhook for the caller's tenant: where to POST, and which event types."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="https (http only outside production), at most 2083 characters, a public "
                                     "address. Redirects are not followed.")
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
    disabled_at: datetime | None = Field(None, description="Set when a receiver answered 410 Gone; deliveries wait.")
    disabled_reason: str | None = None


class Subscriptions(BaseModel):
    items: list[Subscription]


class CreatedSubscription(Subscription):
    """The answer to a registration: the only time the signing secret is shown."""

    secret: str = Field(description="Signing secret: whsec_ and the base64 of 32 random bytes. Shown only once.")


class RotatedSecret(Subscription):
    """The answer to a rotation: the new secret, shown only this once, and until when the old one still signs."""

    secret: str
    previous_secret_until: datetime


DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class AttemptRecord(BaseModel):
    attempt: int = Field(description="Counts over the delivery's whole life, re-sends included.")
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's answer; null when none came (timeout, refused).")
    latency_ms: int
    error: str | None


class DeliveryRecord(BaseModel):
    """One event for one subscription: where it stands, and every attempt made."""

    id: UUID
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When the next attempt is due (pending deliveries only).")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None
    attempt_log: list[AttemptRecord]


class DeliveryLog(BaseModel):
    items: list[DeliveryRecord]
