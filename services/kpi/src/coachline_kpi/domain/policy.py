"""A tenant's KPI policy: thresholds, the service-level variant, windows' time zone, targets."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coachline.contracts.base import Identifier, Seconds, TimeZoneName
from coachline.contracts.kpi import Scope

Level = Annotated[Decimal, Field(ge=-1000000, le=1000000000, max_digits=16, decimal_places=4)]


class ServiceLevelVariant(StrEnum):
    """How the service-level denominator is formed; shown next to the figure."""

    OFFERED = "offered"  # answered within threshold ÷ (offered - short abandons)
    ANSWERED_AND_LATE_ABANDONED = "answered_and_late_abandoned"  # ÷ (answered + abandoned after threshold)


class Target(BaseModel):
    """A KPI's target for one scope kind, with the levels where a warning and an alert start.

    ``higher_is_better`` says which side of a level is the bad one. ``hysteresis`` is how far back
    over a level a figure must come before the level clears, so a figure hovering at the line does not flap.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kpi: Identifier
    scope: Scope
    target: Level
    warning: Level
    alert: Level
    higher_is_better: bool = True
    hysteresis: Annotated[Decimal, Field(ge=0, le=1000000, max_digits=16, decimal_places=4)] = Decimal(0)


class TenantPolicy(BaseModel):
    """Settings that decide how events fold and how sums become figures, per tenant.

    The time zone, the service-level and short-abandon thresholds, the FCR window and the coaching
    period apply to events folded after a change; ``coachline kpi rebuild`` re-folds history with them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: TimeZoneName = "UTC"
    sl_threshold_s: Seconds = Decimal(20)
    sl_variant: ServiceLevelVariant = ServiceLevelVariant.OFFERED
    short_abandon_s: Seconds = Decimal(5)
    fcr_window_days: Annotated[int, Field(ge=1, le=30)] = 7
    min_sample: Annotated[int, Field(ge=1, le=10000)] = 5
    coaching_period: Literal["week", "month", "quarter"] = "month"
    targets: list[Target] = Field(default_factory=list, max_length=200)

    def target(self, kpi: str, scope: Scope) -> Target | None:
        return next((t for t in self.targets if t.kpi == kpi and t.scope == scope), None)
