"""``kpi.snapshots.v1`` and ``kpi.alerts.v1``: KPI figures as they change, and targets crossed."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, Timestamp


class Scope(StrEnum):
    AGENT = "agent"
    TEAM = "team"
    QUEUE = "queue"
    TENANT = "tenant"


class KpiSnapshot(Contract):
    """The current figures of one scope and window; compacted by (tenant, scope, window)."""

    scope: Scope
    scope_id: Identifier
    window: Annotated[str, Field(pattern=r"^(day|week|15m|period|30d):[0-9T:-]{4,25}$", max_length=40)]
    figures: dict[Identifier, Decimal | None] = Field(max_length=64)
    as_of: Timestamp


class AlertLevel(StrEnum):
    WARNING = "warning"
    ALERT = "alert"
    CLEARED = "cleared"


class KpiAlertRaised(Contract):
    """A KPI crossed one of its target levels."""

    alert_id: Identifier
    kpi: Identifier
    scope: Scope
    scope_id: Identifier
    level: AlertLevel
    value: Decimal | None
    threshold: Decimal
    raised_at: Timestamp
