"""``cc.surveys.v1``: post-contact survey answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, LongText, Timestamp

DimensionScore = Annotated[int, Field(ge=0, le=10)]


class SurveyAnswered(Contract):
    """A customer answered a survey about an interaction."""

    survey_id: Identifier
    interaction_id: Identifier
    agent_id: Identifier | None = None
    occurred_at: Timestamp
    csat: Annotated[int, Field(ge=1, le=5)] | None = None
    nps: Annotated[int, Field(ge=0, le=10)] | None = None
    ces: Annotated[int, Field(ge=1, le=7)] | None = None
    resolved: bool | None = None
    dimensions: dict[Identifier, DimensionScore] = Field(default_factory=dict, max_length=20)
    comment: LongText | None = None
