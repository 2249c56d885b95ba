"""``notifications.v1``: what the notifications service delivered (or gave up on), and wallboard banners."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

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


class BannerKind(StrEnum):
    SERVICE_LEVEL_ALERT = "service_level_alert"
    KPI_ALERT = "kpi_alert"
    TEAM_RECOGNITION = "team_recognition"
    ANNOUNCEMENT = "announcement"


class BannerSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ALERT = "alert"


class BannerScope(StrEnum):
    """Where a banner shows. There is no agent scope: a wallboard never singles out one person's result."""

    TENANT = "tenant"
    UNIT = "unit"
    TEAM = "team"
    QUEUE = "queue"


class WallboardBannerPublished(Contract):
    """A banner for the wallboards of a scope, shown from ``published_at`` until ``expires_at``.

    A later banner with the same ``banner_id`` replaces the earlier one (e.g. an alert that eased).
    """

    banner_id: Identifier
    kind: BannerKind
    severity: BannerSeverity
    scope: BannerScope
    scope_id: Identifier
    title: Annotated[str, Field(min_length=1, max_length=120)]
    text: ShortText = ""
    language: Annotated[str, Field(pattern=r"^(en|fi|sv|nb)$")] = "en"
    source_event_id: Identifier | None = None
    published_at: Timestamp
    expires_at: Timestamp

    @model_validator(mode="after")
    def _expires_after_publishing(self) -> WallboardBannerPublished:
        if self.expires_at <= self.published_at:
            raise ValueError("expires_at must be after published_at")
        return self
