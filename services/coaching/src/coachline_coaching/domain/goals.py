"""Goals of a coaching period on the goal triangle, their decision, and the before/after effect of a period."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coachline.contracts.coaching import GoalCorner, GoalKind
from coachline.contracts.kpi import Scope
from coachline_coaching.domain.common import Day, IllegalTransition, Text

Better = Literal["higher", "lower"]

# KPIs of KPI_DEFINITIONS.md a goal can name: the corner each serves and which way is better.
KPIS: dict[str, tuple[GoalCorner, Better]] = {
    "quality_score": (GoalCorner.QUALITY, "higher"),
    "fcr_repeat": (GoalCorner.QUALITY, "higher"),
    "fcr_survey": (GoalCorner.QUALITY, "higher"),
    "csat": (GoalCorner.QUALITY, "higher"),
    "nps": (GoalCorner.QUALITY, "higher"),
    "ces": (GoalCorner.QUALITY, "higher"),
    "mystery_shop_score": (GoalCorner.QUALITY, "higher"),
    "sales_conversion": (GoalCorner.SALES, "higher"),
    "sales_value": (GoalCorner.SALES, "higher"),
    "service_level": (GoalCorner.EFFICIENCY, "higher"),
    "asa_s": (GoalCorner.EFFICIENCY, "lower"),
    "abandon_rate": (GoalCorner.EFFICIENCY, "lower"),
    "aht_s": (GoalCorner.EFFICIENCY, "lower"),
    "occupancy": (GoalCorner.EFFICIENCY, "higher"),
    "transfer_rate": (GoalCorner.EFFICIENCY, "lower"),
    "coaching_cadence": (GoalCorner.WELLBEING, "higher"),
    "coaching_on_time": (GoalCorner.WELLBEING, "higher"),
    "goal_attainment": (GoalCorner.WELLBEING, "higher"),
}
KpiName = Literal[
    "quality_score", "fcr_repeat", "fcr_survey", "csat", "nps", "ces", "mystery_shop_score", "sales_conversion",
    "sales_value", "service_level", "asa_s", "abandon_rate", "aht_s", "occupancy", "transfer_rate",
    "coaching_cadence", "coaching_on_time", "goal_attainment",
]
Target = Annotated[Decimal, Field(ge=-1000000, le=1000000, max_digits=14, decimal_places=4)]


class GoalStatus(StrEnum):
    OPEN = "open"
    ACHIEVED = "achieved"
    MISSED = "missed"


GoalDecision = Literal["achieved", "missed"]


class SetGoal(BaseModel):
    """A KPI with a scope, target and due date, or a behaviour in words with how it will be observed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: GoalKind
    description: Text
    due_on: Day
    corner: GoalCorner | None = Field(default=None, description="Behavioural goals name it; a KPI has its own.")
    kpi: KpiName | None = None
    scope: Literal[Scope.AGENT, Scope.TEAM] | None = Field(default=None, description="KPI goals; default agent.")
    target: Target | None = None
    observed_by: Text | None = Field(default=None, description="How a behavioural goal will be observed.")

    @model_validator(mode="after")
    def _complete(self) -> SetGoal:
        if self.kind is GoalKind.KPI:
            if self.kpi is None or self.target is None:
                raise ValueError("a KPI goal names its kpi and target")
            if self.corner is not None and self.corner is not KPIS[self.kpi][0]:
                raise ValueError(f"{self.kpi} belongs to the {KPIS[self.kpi][0].value} corner")
            if self.observed_by is not None:
                raise ValueError("observed_by is for behavioural goals")
        else:
            if self.corner is None or self.observed_by is None:
                raise ValueError("a behavioural goal names its corner and how it will be observed")
            if self.kpi is not None or self.target is not None or self.scope is not None:
                raise ValueError("kpi, scope and target are for KPI goals")
        return self

    def goal_corner(self) -> GoalCorner:
        return KPIS[self.kpi][0] if self.kpi else self.corner  # type: ignore[return-value]


class Goal(BaseModel):
    model_config = ConfigDict(frozen=True)

    goal_id: str
    period_id: str
    agent_id: str
    kind: GoalKind
    corner: GoalCorner
    kpi: str | None
    scope: Scope | None
    target: Decimal | None
    due_on: date
    description: str
    observed_by: str | None
    status: GoalStatus
    value: Decimal | None = None
    decided_on: date | None = None
    set_at: datetime


def goal_from(command: SetGoal, *, goal_id: str, period_id: str, agent_id: str, now: datetime) -> Goal:
    return Goal(
        goal_id=goal_id, period_id=period_id, agent_id=agent_id, kind=command.kind, corner=command.goal_corner(),
        kpi=command.kpi, scope=(command.scope or Scope.AGENT) if command.kind is GoalKind.KPI else None,
        target=command.target, due_on=command.due_on, description=command.description,
        observed_by=command.observed_by, status=GoalStatus.OPEN, set_at=now,
    )


def meets(kpi: str, value: Decimal, target: Decimal) -> bool:
    """Whether ``value`` reaches ``target``, in the direction that is better for ``kpi``."""
    return value >= target if KPIS[kpi][1] == "higher" else value <= target


def decide(goal: Goal, outcome: GoalDecision, *, on: date, value: Decimal | None = None) -> Goal:
    """The goal decided; deciding twice is an illegal transition."""
    if goal.status is not GoalStatus.OPEN:
        raise IllegalTransition("the goal", goal.status.value, "decided again")
    return goal.model_copy(update={"status": GoalStatus(outcome), "decided_on": on, "value": value})


class Measurement(BaseModel):
    """A KPI over some days: its value (null below the minimum sample) and the sample it rests on."""

    model_config = ConfigDict(frozen=True)

    value: Decimal | None
    sample: int = Field(ge=0)


class GoalEffect(BaseModel):
    """A KPI goal's figure over the period against the same number of days before it."""

    goal_id: str
    kpi: str
    before_from: date
    before_to: date
    before: Measurement
    during: Measurement
    change: Decimal | None = Field(description="during minus before; null when either lacks enough data.")
    improved: bool | None = Field(description="Whether the change went the better way for this KPI.")


def effect(goal: Goal, *, before_from: date, before_to: date, before: Measurement, during: Measurement) -> GoalEffect:
    """The effect of the period on ``goal``'s KPI, with both sample sizes so coaches can judge it."""
    if goal.kpi is None:
        raise ValueError("only KPI goals have a measured effect")
    change = None if before.value is None or during.value is None else during.value - before.value
    improved = None
    if change is not None:
        improved = change > 0 if KPIS[goal.kpi][1] == "higher" else change < 0
    return GoalEffect(goal_id=goal.goal_id, kpi=goal.kpi, before_from=before_from, before_to=before_to,
                      before=before, during=during, change=change, improved=improved)


class GoalProgress(BaseModel):
    """A KPI goal's figure so far in its period, live from the KPI service."""

    goal_id: str
    kpi: str
    target: Decimal
    measured_from: date
    measured_to: date
    current: Measurement
    on_track: bool | None = Field(description="Whether the figure so far meets the target; null without data.")


def progress(goal: Goal, current: Measurement, *, measured_from: date, measured_to: date) -> GoalProgress:
    if goal.kpi is None or goal.target is None:
        raise ValueError("only KPI goals have live progress")
    on_track = None if current.value is None else meets(goal.kpi, current.value, goal.target)
    return GoalProgress(goal_id=goal.goal_id, kpi=goal.kpi, target=goal.target, measured_from=measured_from,
                        measured_to=measured_to, current=current, on_track=on_track)


