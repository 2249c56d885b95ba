"""Use cases of coaching: keep evaluations as evidence per agent, record and read coaching sessions.

Every use case runs in one transaction of a unit of work, so an evidence record and its inbox record,
or a session and its outbox event, commit together or not at all.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from coachline.contracts.evaluations import EvaluationSubmitted
from coachline.envelope import CloudEvent
from coachline_coaching.domain.evidence import AgentEvaluation, agent_evaluation, missing_evidence
from coachline_coaching.domain.sessions import CoachingSession, RecordSession, coaching_session, session_recorded

# The inbox name of the evidence projection; it stays fixed when the consumer group is renamed.
AGENT_EVALUATIONS = "agent-evaluations"


class Repository(Protocol):
    """What the use cases need from storage, inside one transaction."""

    async def first_delivery(self, consumer: str, event_id: str) -> bool: ...

    async def save_evaluation(self, evaluation: AgentEvaluation) -> None: ...

    async def agent_evaluations(
        self, tenant_id: str, agent_id: str, *, evaluation_ids: list[str] | None = None, limit: int | None = None
    ) -> list[AgentEvaluation]: ...

    async def add_session(self, session: CoachingSession) -> None: ...

    async def get_session(self, tenant_id: str, session_id: str) -> CoachingSession | None: ...

    async def enqueue(self, event: CloudEvent) -> None: ...


class UnitOfWork(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Repository]:
        """A repository whose changes commit when the block ends, or roll back if it raises."""
        ...


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class UnknownEvidence(LookupError):
    """The session names evaluations that are not evaluations of this agent (or not received yet)."""

    def __init__(self, evaluation_ids: list[str]) -> None:
        super().__init__(", ".join(evaluation_ids))
        self.evaluation_ids = evaluation_ids


class SessionNotFound(LookupError):
    pass


async def take_evaluation(uow: UnitOfWork, event: CloudEvent) -> Outcome:
    """Keep a submitted evaluation as evidence for its agent, once per event; other types have no effect here."""
    if not isinstance(event.data, EvaluationSubmitted):
        return Outcome.IGNORED
    evaluation = agent_evaluation(event.tenant_id, event.data)
    async with uow.transaction() as repo:
        if not await repo.first_delivery(AGENT_EVALUATIONS, event.id):
            return Outcome.DUPLICATE
        await repo.save_evaluation(evaluation)
    return Outcome.RECORDED


async def agent_evaluations(uow: UnitOfWork, tenant_id: str, agent_id: str, limit: int) -> list[AgentEvaluation]:
    """The agent's evaluations, most recently submitted first."""
    async with uow.transaction() as repo:
        return await repo.agent_evaluations(tenant_id, agent_id, limit=limit)


async def record_session(
    uow: UnitOfWork,
    command: RecordSession,
    *,
    session_id: str | None = None,
    now: datetime | None = None,
) -> CoachingSession:
    """Store the session and queue ``coaching.session.recorded.v1`` in the same transaction.

    Raises :class:`UnknownEvidence` when an evaluation named is not one of the agent's.
    """
    session = coaching_session(
        command, session_id=session_id or str(uuid.uuid4()), recorded_at=now or datetime.now(UTC)
    )
    async with uow.transaction() as repo:
        if session.evaluation_ids:
            evidence = await repo.agent_evaluations(
                session.tenant_id, session.agent_id, evaluation_ids=session.evaluation_ids
            )
            if missing := missing_evidence(session.evaluation_ids, evidence):
                raise UnknownEvidence(missing)
        await repo.add_session(session)
        await repo.enqueue(session_recorded(session))
    return session


async def find_session(uow: UnitOfWork, tenant_id: str, session_id: str) -> CoachingSession:
    async with uow.transaction() as repo:
        session = await repo.get_session(tenant_id, session_id)
    if session is None:
        raise SessionNotFound(session_id)
    return session
