"""Recording a held coaching session: the command, the stored session and the event HR systems read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from coachline.contracts.base import Identifier, utc
from coachline.contracts.coaching import CoachingSessionRecorded, SessionKind
from coachline.envelope import CloudEvent, new_event

SOURCE = "coachline/coaching"
RECORDED = "coaching.session.recorded.v1"


def _not_a_number(value: Any) -> Any:
    # JSON numbers would otherwise be read as Unix timestamps: "held_at": 0 is a typo, not 1970.
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 text, not a number")
    return value


# PostgreSQL text cannot hold NUL; refusing it here keeps it a 422 rather than a failed insert.
Summary = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00]*$")]


class RecordSession(BaseModel):
    """A coach records a coaching session held with an agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: Identifier
    agent_id: Identifier
    coach_id: Identifier
    kind: SessionKind
    planned_on: Annotated[date, BeforeValidator(_not_a_number)] | None = Field(
        default=None, description="The day the session was planned for, to tell whether it was held on time."
    )
    held_at: Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
    summary: Summary | None = None
    evaluation_ids: list[Identifier] = Field(
        default_factory=list, max_length=50, description="Evaluations of the agent reviewed in the session."
    )

    @field_validator("evaluation_ids")
    @classmethod
    def _each_once(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("an evaluation is listed more than once")
        return ids


class CoachingSession(BaseModel):
    """A recorded coaching session."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    tenant_id: str
    agent_id: str
    coach_id: str
    kind: SessionKind
    planned_on: date | None
    held_at: datetime
    summary: str | None
    evaluation_ids: list[str]
    recorded_at: datetime


def coaching_session(command: RecordSession, *, session_id: str, recorded_at: datetime) -> CoachingSession:
    """The session ``command`` records."""
    return CoachingSession(
        session_id=session_id,
        tenant_id=command.tenant_id,
        agent_id=command.agent_id,
        coach_id=command.coach_id,
        kind=command.kind,
        planned_on=command.planned_on,
        held_at=utc(command.held_at),
        summary=command.summary,
        evaluation_ids=list(command.evaluation_ids),
        recorded_at=utc(recorded_at),
    )


def session_recorded(session: CoachingSession) -> CloudEvent:
    """The ``coaching.session.recorded.v1`` event announcing ``session``."""
    payload = CoachingSessionRecorded(
        session_id=session.session_id,
        agent_id=session.agent_id,
        coach_id=session.coach_id,
        kind=session.kind,
        planned_on=session.planned_on,
        held_at=session.held_at,
        summary=session.summary,
        evaluation_ids=session.evaluation_ids,
    )
    return new_event(
        RECORDED, session.tenant_id, payload, source=SOURCE, subject=session.session_id, time=session.recorded_at
    )
