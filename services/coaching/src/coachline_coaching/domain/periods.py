"""Coaching periods: two to four weeks of an agent's coaching, planned with the people who follow it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from coachline.contracts.base import Identifier
from coachline.contracts.coaching import Participant
from coachline_coaching.domain.common import Day, IllegalTransition
from coachline_coaching.domain.goals import Goal, GoalDecision, GoalEffect


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OpenPeriod(BaseModel):
    """A coach opens a coaching period for an agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_id: Identifier
    starts_on: Day
    ends_on: Day | None = Field(default=None, description="Defaults to the tenant's default period length.")
    participants: list[Participant] = Field(default_factory=list, max_length=10)

    @field_validator("participants")
    @classmethod
    def _each_once(cls, people: list[Participant]) -> list[Participant]:
        if len({(p.person_id, p.role) for p in people}) != len(people):
            raise ValueError("a participant is listed twice in the same role")
        return people


class PeriodLength(BaseModel):
    """Bounds of a period, in days (both ends counted)."""

    min_days: int = 14
    max_days: int = 28
    default_days: int = 21


class PeriodTooLong(ValueError):
    pass


def period_end(command: OpenPeriod, length: PeriodLength) -> date:
    """The last day of the period ``command`` opens; raises :class:`PeriodTooLong` outside the bounds."""
    ends_on = command.ends_on or command.starts_on + timedelta(days=length.default_days - 1)
    days = (ends_on - command.starts_on).days + 1
    if not length.min_days <= days <= length.max_days:
        raise PeriodTooLong(f"a period lasts {length.min_days} to {length.max_days} days; this one {days}")
    return ends_on


def previous_window(starts_on: date, ends_on: date) -> tuple[date, date]:
    """The same number of days just before the period: what its effect is measured against."""
    days = (ends_on - starts_on).days + 1
    return starts_on - timedelta(days=days), starts_on - timedelta(days=1)


class CoachingPeriod(BaseModel):
    model_config = ConfigDict(frozen=True)

    period_id: str
    agent_id: str
    team_id: str | None
    starts_on: date
    ends_on: date
    status: PeriodStatus
    opened_by: str
    opened_at: datetime
    closed_on: date | None = None
    participants: list[Participant] = Field(default_factory=list)


def require_open(period: CoachingPeriod, step: str) -> None:
    if period.status is not PeriodStatus.OPEN:
        raise IllegalTransition("the coaching period", period.status.value, step)


class ClosePeriod(BaseModel):
    """Close a period; goals not decided before are decided here, KPI goals from their measured value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decisions: dict[Identifier, GoalDecision] = Field(default_factory=dict, max_length=50)


class PeriodSummary(BaseModel):
    """The look back: goals met and missed, sessions, and each KPI goal's effect against the period before."""

    period_id: str
    closed_on: date
    goals_achieved: int
    goals_missed: int
    sessions_held: int
    sessions_missed: int
    goals: list[Goal]
    effects: list[GoalEffect]
