"""Coaching sessions from plan to held (or missed), and the actions agreed in them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from coachline.contracts.base import Identifier, utc
from coachline.contracts.coaching import ActionOwner, SessionKind
from coachline_coaching.domain.common import Day, IllegalTransition, NotANumber, Text


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    MISSED = "missed"


class ActionStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    DROPPED = "dropped"


def _each_once(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("an id is listed more than once")
    return ids


class AgreeAction(BaseModel):
    """Something the agent or the coach agreed to do by a day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: ActionOwner
    description: Text
    due_on: Day


class FollowUp(BaseModel):
    """How an action agreed earlier stands at this session."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: Identifier
    status: Literal[ActionStatus.COMPLETED, ActionStatus.DROPPED, ActionStatus.OPEN]


class HoldSession(BaseModel):
    """What happened in a session: when, notes, what was discussed, agreed and followed up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    held_at: Annotated[AwareDatetime, NotANumber]
    notes: Text | None = None
    evaluation_ids: list[Identifier] = Field(default_factory=list, max_length=50,
                                             description="Evaluations of the agent reviewed in the session.")
    interaction_ids: list[Identifier] = Field(default_factory=list, max_length=50)
    actions: list[AgreeAction] = Field(default_factory=list, max_length=20)
    follow_ups: list[FollowUp] = Field(default_factory=list, max_length=50)

    _unique_evaluations = field_validator("evaluation_ids", "interaction_ids")(_each_once)

    @field_validator("follow_ups")
    @classmethod
    def _followed_once(cls, follow_ups: list[FollowUp]) -> list[FollowUp]:
        _each_once([f.action_id for f in follow_ups])
        return follow_ups


class PlanSession(BaseModel):
    """A coach plans a session with an agent; with ``held`` it is recorded as held at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_id: Identifier
    coach_id: Identifier
    kind: SessionKind
    period_id: Identifier | None = None
    planned_on: Day | None = None
    held: HoldSession | None = None

    @model_validator(mode="after")
    def _planned_or_held(self) -> PlanSession:
        if self.planned_on is None and self.held is None:
            raise ValueError("a session is planned for a day (planned_on) or recorded as held (held)")
        return self


class AgreedAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    action_id: str
    session_id: str
    period_id: str | None
    agent_id: str
    owner: ActionOwner
    description: str
    due_on: date
    status: ActionStatus
    completed_on: date | None = None
    followed_up_in: str | None = None
    agreed_at: datetime


class CoachingSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: str
    tenant_id: str
    agent_id: str
    coach_id: str
    kind: SessionKind
    period_id: str | None = None
    status: SessionStatus
    planned_on: date | None
    held_at: datetime | None = None
    missed_on: date | None = None
    summary: str | None = Field(default=None, description="The session's notes.")
    evaluation_ids: list[str] = Field(default_factory=list)
    interaction_ids: list[str] = Field(default_factory=list)
    recorded_at: datetime


def planned_session(command: PlanSession, *, tenant_id: str, session_id: str, now: datetime) -> CoachingSession:
    return CoachingSession(
        session_id=session_id, tenant_id=tenant_id, agent_id=command.agent_id, coach_id=command.coach_id,
        kind=command.kind, period_id=command.period_id, status=SessionStatus.SCHEDULED,
        planned_on=command.planned_on, recorded_at=utc(now),
    )


def hold(session: CoachingSession, command: HoldSession) -> CoachingSession:
    if session.status is not SessionStatus.SCHEDULED:
        raise IllegalTransition("the session", session.status.value, "held")
    return session.model_copy(update={
        "status": SessionStatus.HELD, "held_at": utc(command.held_at), "summary": command.notes,
        "evaluation_ids": list(command.evaluation_ids), "interaction_ids": list(command.interaction_ids),
    })


def miss(session: CoachingSession, on: date) -> CoachingSession:
    if session.status is not SessionStatus.SCHEDULED:
        raise IllegalTransition("the session", session.status.value, "marked missed")
    return session.model_copy(update={"status": SessionStatus.MISSED, "missed_on": on})


def on_time(session: CoachingSession) -> bool | None:
    """Held on or before the planned day (UTC); None for a session that was never planned or not held."""
    if session.planned_on is None or session.held_at is None:
        return None
    return session.held_at.date() <= session.planned_on


def agreed(command: AgreeAction, *, action_id: str, session: CoachingSession, now: datetime) -> AgreedAction:
    return AgreedAction(
        action_id=action_id, session_id=session.session_id, period_id=session.period_id, agent_id=session.agent_id,
        owner=command.owner, description=command.description, due_on=command.due_on, status=ActionStatus.OPEN,
        agreed_at=utc(now),
    )


def follow_up(action: AgreedAction, status: ActionStatus, *, session_id: str | None, on: date) -> AgreedAction:
    """The action after it was followed up (in a session, or marked done on its own)."""
    if action.status is not ActionStatus.OPEN:
        raise IllegalTransition("the action", action.status.value, status.value)
    return action.model_copy(update={
        "status": status, "completed_on": on if status is ActionStatus.COMPLETED else None,
        "followed_up_in": session_id,
    })


class Reflection(BaseModel):
    model_config = ConfigDict(frozen=True)

    reflection_id: str
    session_id: str
    agent_id: str
    text: str
    written_at: datetime


class WriteReflection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Text


class TimelineEntry(BaseModel):
    """One session on the agent's timeline, with what was agreed and the agent's own reflections."""

    session: CoachingSession
    actions_agreed: list[AgreedAction]
    actions_followed_up: list[AgreedAction]
    reflections: list[Reflection]


def timeline(sessions: list[CoachingSession], actions: list[AgreedAction],
             reflections: list[Reflection]) -> list[TimelineEntry]:
    """Session by session, oldest first: sessions by the day they were held (or planned)."""
    def day(s: CoachingSession) -> tuple[date, datetime]:
        when = s.held_at.date() if s.held_at else (s.planned_on or s.recorded_at.date())
        return when, s.recorded_at

    return [
        TimelineEntry(
            session=s,
            actions_agreed=[a for a in actions if a.session_id == s.session_id],
            actions_followed_up=[a for a in actions if a.followed_up_in == s.session_id],
            reflections=[r for r in reflections if r.session_id == s.session_id],
        )
        for s in sorted(sessions, key=day)
    ]
