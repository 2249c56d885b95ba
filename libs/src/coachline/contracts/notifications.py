"""``notifications.v1``: what the notifications service delivered (or gave up on)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, ShortText, Timestamp


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


class NotificationDelivered(Contract):
    """A notification reached (or finally failed to reach) its recipient."""

    delivery_id: Identifier
    subscription_id: Identifier
    event_id: Identifier
    event_type: Annotated[str, Field(max_length=100)]
    channel: Annotated[str, Field(pattern=r"^(webhook|email|wallboard)$")]
    outcome: DeliveryOutcome
    attempts: Annotated[int, Field(ge=1, le=1000)]
    detail: ShortText | None = None
    occurred_at: Timestamp
