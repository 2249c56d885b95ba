"""``coaching.v1``: the public contract HR systems subscribe to."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, LongText, Timestamp


class SessionKind(StrEnum):
    ONE_TO_ONE = "one_to_one"
    SIDE_BY_SIDE = "side_by_side"
    EVALUATION_REVIEW = "evaluation_review"
    TEAM_HUDDLE = "team_huddle"
    ONE_PLUS_ONE_PLUS_ONE = "one_plus_one_plus_one"


class CoachingSessionRecorded(Contract):
    """A coach recorded a held coaching session with an agent."""

    session_id: Identifier
    agent_id: Identifier
    coach_id: Identifier
    kind: SessionKind
    planned_on: date | None = None
    held_at: Timestamp
    summary: LongText | None = None
    evaluation_ids: list[Identifier] = Field(default_factory=list, max_length=50)
