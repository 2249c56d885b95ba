"""An in-memory unit of work with the same behaviour as the PostgreSQL one, for tests without I/O."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from coachline.envelope import CloudEvent
from coachline_coaching.domain.evidence import AgentEvaluation
from coachline_coaching.domain.sessions import CoachingSession


@dataclass
class State:
    inbox: set[tuple[str, str]] = field(default_factory=set)
    evaluations: dict[tuple[str, str], AgentEvaluation] = field(default_factory=dict)
    sessions: dict[tuple[str, str], CoachingSession] = field(default_factory=dict)
    outbox: list[CloudEvent] = field(default_factory=list)


class FakeRepository:
    def __init__(self, state: State) -> None:
        self.state = state

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.state.inbox:
            return False
        self.state.inbox.add((consumer, event_id))
        return True

    async def save_evaluation(self, evaluation: AgentEvaluation) -> None:
        self.state.evaluations.setdefault((evaluation.tenant_id, evaluation.evaluation_id), evaluation)

    async def agent_evaluations(
        self, tenant_id: str, agent_id: str, *, evaluation_ids: list[str] | None = None, limit: int | None = None
    ) -> list[AgentEvaluation]:
        found = [e for e in self.state.evaluations.values()
                 if (e.tenant_id, e.agent_id) == (tenant_id, agent_id)
                 and (evaluation_ids is None or e.evaluation_id in evaluation_ids)]
        found.sort(key=lambda e: e.evaluation_id)
        found.sort(key=lambda e: e.submitted_at, reverse=True)
        return found[:limit]

    async def add_session(self, session: CoachingSession) -> None:
        key = (session.tenant_id, session.session_id)
        if key in self.state.sessions:
            raise KeyError(f"duplicate session {key}")
        self.state.sessions[key] = session

    async def get_session(self, tenant_id: str, session_id: str) -> CoachingSession | None:
        return self.state.sessions.get((tenant_id, session_id))

    async def enqueue(self, event: CloudEvent) -> None:
        self.state.outbox.append(event)


class FakeUnitOfWork:
    """Commits by keeping the changed state, rolls back by restoring a copy taken at the start."""

    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeRepository]:
        before = copy.deepcopy(self.state)
        try:
            yield FakeRepository(self.state)
        except BaseException:
            self.state = before
            raise
