"""``coaching.v1``: the public contract HR systems subscribe to.

Periods, sessions, goals and agreed actions of one agent, keyed by ``tenant:agent_id`` so one agent's
coaching story stays in order. Personal data is kept to the agent's employee id as the roster gives it
(plus the coach's id on sessions); free-text notes appear only when the tenant has opted in. Every
event carries ``human_review_required: true``: these are records of a coaching conversation, and any
decision about a person based on them needs a human to review it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, LongText, Timestamp

HUMAN_REVIEW = "Always true: any decision about a person based on this event needs human review."
AGENT_ID = "The agent's employee id as the roster gives it."


class SessionKind(StrEnum):
    ONE_TO_ONE = "one_to_one"
    SIDE_BY_SIDE = "side_by_side"
    EVALUATION_REVIEW = "evaluation_review"
    TEAM_HUDDLE = "team_huddle"
    ONE_PLUS_ONE_PLUS_ONE = "one_plus_one_plus_one"


class GoalCorner(StrEnum):
    """Where a goal sits on the goal triangle; wellbeing is the centre."""

    QUALITY = "quality"
    SALES = "sales"
    EFFICIENCY = "efficiency"
    WELLBEING = "wellbeing"


class GoalKind(StrEnum):
    KPI = "kpi"
    BEHAVIOURAL = "behavioural"


class ParticipantRole(StrEnum):
    TEAM_LEAD = "team_lead"
    SALES_COACH = "sales_coach"
    SERVICE_MANAGER = "service_manager"
    MANAGERS_MANAGER = "managers_manager"


class ActionOwner(StrEnum):
    AGENT = "agent"
    COACH = "coach"


class Participant(Contract):
    """Someone who plans and follows the period with the agent."""

    person_id: Identifier
    role: ParticipantRole


class _CoachingEvent(Contract):
    agent_id: Identifier = Field(description=AGENT_ID)
    human_review_required: Literal[True] = Field(default=True, description=HUMAN_REVIEW)


class CoachingSessionRecorded(Contract):
    """A coach recorded a held coaching session with an agent.

    Kept for subscribers from before ``coaching.session.held.v1``, which carries the same facts and
    more; it is still published for every held session.
    """

    session_id: Identifier
    agent_id: Identifier
    coach_id: Identifier
    kind: SessionKind
    planned_on: date | None = None
    held_at: Timestamp
    summary: LongText | None = None
    evaluation_ids: list[Identifier] = Field(default_factory=list, max_length=50)


class CoachingPeriodStarted(_CoachingEvent):
    """A coaching period of the agent was planned and is running."""

    period_id: Identifier
    team_id: Identifier | None = None
    starts_on: date
    ends_on: date
    participants: list[Participant] = Field(default_factory=list, max_length=10)


class CoachingPeriodClosed(_CoachingEvent):
    """A coaching period was closed with its look back: how many goals were met and missed."""

    period_id: Identifier
    starts_on: date
    ends_on: date
    closed_on: date
    goals_achieved: int = Field(ge=0)
    goals_missed: int = Field(ge=0)
    sessions_held: int = Field(ge=0)
    sessions_missed: int = Field(ge=0)


class CoachingSessionScheduled(_CoachingEvent):
    """A coaching session was planned for a day."""

    session_id: Identifier
    period_id: Identifier | None = None
    coach_id: Identifier
    kind: SessionKind
    planned_on: date


class CoachingSessionHeld(_CoachingEvent):
    """A coaching session took place; ``on_time`` tells whether it was held on or before the planned day."""

    session_id: Identifier
    period_id: Identifier | None = None
    coach_id: Identifier
    kind: SessionKind
    planned_on: date | None = None
    held_on: date = Field(description="The day it was held, in UTC.")
    held_at: Timestamp
    on_time: bool | None = Field(description="Held on or before planned_on; null when it was not planned.")
    evaluation_ids: list[Identifier] = Field(default_factory=list, max_length=50)
    actions_agreed: int = Field(ge=0, description="How many actions were agreed in the session.")
    notes: LongText | None = Field(default=None, description="Only when the tenant opted in to notes in events.")


class CoachingSessionMissed(_CoachingEvent):
    """A planned coaching session did not take place."""

    session_id: Identifier
    period_id: Identifier | None = None
    coach_id: Identifier
    kind: SessionKind
    planned_on: date
    missed_on: date


class CoachingGoalSet(_CoachingEvent):
    """A goal was agreed for a coaching period: a KPI with a target, or a behaviour to be observed."""

    goal_id: Identifier
    period_id: Identifier
    kind: GoalKind
    corner: GoalCorner
    kpi: Identifier | None = Field(default=None, description="The KPI's name from KPI_DEFINITIONS (KPI goals).")
    target: Decimal | None = Field(default=None, max_digits=14, decimal_places=4)
    due_on: date


class _GoalDecided(_CoachingEvent):
    goal_id: Identifier
    period_id: Identifier
    kind: GoalKind
    corner: GoalCorner
    kpi: Identifier | None = None
    target: Decimal | None = Field(default=None, max_digits=14, decimal_places=4)
    value: Decimal | None = Field(default=None, max_digits=18, decimal_places=4,
                                  description="The KPI over the period when the decision was made, if measured.")
    decided_on: date


class CoachingGoalAchieved(_GoalDecided):
    """A goal of a coaching period was met."""


class CoachingGoalMissed(_GoalDecided):
    """A goal of a coaching period was not met."""


class CoachingActionAgreed(_CoachingEvent):
    """In a session, the agent or the coach agreed to do something by a day."""

    action_id: Identifier
    session_id: Identifier
    period_id: Identifier | None = None
    owner: ActionOwner
    due_on: date
    description: LongText | None = Field(default=None,
                                         description="Only when the tenant opted in to notes in events.")


class CoachingActionCompleted(_CoachingEvent):
    """An agreed action was done."""

    action_id: Identifier
    session_id: Identifier
    period_id: Identifier | None = None
    owner: ActionOwner
    due_on: date
    completed_on: date
