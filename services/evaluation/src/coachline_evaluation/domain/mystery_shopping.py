"""Mystery shopping: scenarios, a schedule spread over peak and quiet hours, and results as answers.

A mystery shop is scored on the scenario's scorecard like any evaluation, but with kind
``mystery_shop``: it is reported on its own and never counts in agents' KPIs.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coachline.contracts.base import Identifier, LongText, ShortText
from coachline.contracts.interactions import Channel
from coachline_evaluation.domain.scorecards import Answer, InvalidAnswers

Hour = Annotated[int, Field(ge=0, le=23)]


class ScenarioDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: ShortText
    brief: LongText = Field(min_length=1, description="What the shopper asks for and how they behave.")
    channel: Channel
    scorecard_id: Identifier
    queue_id: Identifier | None = None


class Scenario(ScenarioDefinition):
    tenant_id: str
    scenario_id: str


class ScheduleRequest(BaseModel):
    """Plan ``visits`` contacts over ``days`` days from ``start``, a ``peak_share`` of them in peak hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario_ids: list[Identifier] = Field(min_length=1, max_length=100)
    start: date
    days: Annotated[int, Field(ge=1, le=92)]
    visits: Annotated[int, Field(ge=1, le=1000)]
    open_hours: list[Hour] = Field(default=list(range(8, 20)), min_length=1, max_length=24)
    peak_hours: list[Hour] = Field(default=[9, 10, 11, 13, 14], max_length=24)
    peak_share: Annotated[Decimal, Field(ge=0, le=1, max_digits=4, decimal_places=3)] = Decimal("0.5")
    seed: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _peaks_are_open(self) -> ScheduleRequest:
        if not set(self.peak_hours) <= set(self.open_hours):
            raise ValueError("peak hours must be open hours")
        if self.peak_share > 0 and not self.peak_hours:
            raise ValueError("a peak share needs peak hours")
        if self.peak_share < 1 and not set(self.open_hours) - set(self.peak_hours):
            raise ValueError("a quiet share needs open hours outside the peak")
        return self


class PlannedVisit(BaseModel):
    model_config = ConfigDict(frozen=True)

    scenario_id: str
    on: date
    hour: int
    peak: bool


def schedule(request: ScheduleRequest, seed: str) -> list[PlannedVisit]:
    """Visits spread evenly over the days, ``round(peak_share * visits)`` of them in peak hours.

    Scenarios take turns (in an order shuffled by ``seed``), so each is shopped about equally often.
    """
    rng = random.Random(seed)
    peak_count = round(request.peak_share * request.visits)
    quiet_hours = sorted(set(request.open_hours) - set(request.peak_hours))
    kinds = [True] * peak_count + [False] * (request.visits - peak_count)
    rng.shuffle(kinds)
    scenarios = list(request.scenario_ids)
    rng.shuffle(scenarios)
    visits = []
    for i, peak in enumerate(kinds):
        day = request.start + timedelta(days=i * request.days // request.visits)
        hour = rng.choice(sorted(request.peak_hours) if peak else quiet_hours)
        visits.append(PlannedVisit(scenario_id=scenarios[i % len(scenarios)], on=day, hour=hour, peak=peak))
    return sorted(visits, key=lambda v: (v.on, v.hour, v.scenario_id))


class StaffNoticeDefinition(BaseModel):
    """The record that staff were told mystery shopping happens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team_ids: list[Identifier] = Field(min_length=1, max_length=200)
    informed_on: date
    how: ShortText = Field(min_length=1, description="Team meeting, e-mail, intranet post, ...")


class StaffNotice(StaffNoticeDefinition):
    tenant_id: str
    notice_id: str
    recorded_by: str


_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}


def shopper_answers(answers: Mapping[str, bool | Decimal | str]) -> dict[str, Answer]:
    """Map a shopper's reported answers onto scorecard answers ("yes"/"no" as booleans, "na" as N/A)."""
    mapped: dict[str, Answer] = {}
    for criterion_id, value in answers.items():
        if isinstance(value, bool | Decimal):
            mapped[criterion_id] = value
        elif value.strip().lower() in _YES:
            mapped[criterion_id] = True
        elif value.strip().lower() in _NO:
            mapped[criterion_id] = False
        elif value.strip().lower() in {"na", "n/a"}:
            mapped[criterion_id] = "na"
        else:
            raise InvalidAnswers(criterion_id, f"cannot read {value[:40]!r} as an answer")
    return mapped
