"""An in-memory unit of work with the same behaviour as the PostgreSQL one, for tests without I/O."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from coachline.envelope import CloudEvent
from coachline_evaluation.domain.evaluations import Evaluation
from coachline_evaluation.domain.sampling import PoolEntry


@dataclass
class State:
    inbox: set[tuple[str, str]] = field(default_factory=set)
    pool: dict[tuple[str, str, str], PoolEntry] = field(default_factory=dict)
    evaluations: dict[tuple[str, str], Evaluation] = field(default_factory=dict)
    outbox: list[CloudEvent] = field(default_factory=list)


class FakeRepository:
    def __init__(self, state: State) -> None:
        self.state = state

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.state.inbox:
            return False
        self.state.inbox.add((consumer, event_id))
        return True

    async def save_pool_entry(self, entry: PoolEntry) -> None:
        self.state.pool[(entry.tenant_id, entry.interaction_id, entry.agent_id)] = entry

    async def pool_entries(self, tenant_id: str, interaction_id: str) -> list[PoolEntry]:
        found = [e for (t, i, _), e in self.state.pool.items() if (t, i) == (tenant_id, interaction_id)]
        return sorted(found, key=lambda e: e.agent_id)

    async def list_pool(self, tenant_id: str, agent_id: str | None, limit: int) -> list[PoolEntry]:
        found = [e for e in self.state.pool.values()
                 if e.tenant_id == tenant_id and agent_id in (None, e.agent_id)]
        found.sort(key=lambda e: (e.interaction_id, e.agent_id))
        found.sort(key=lambda e: e.completed_at, reverse=True)
        return found[:limit]

    async def add_evaluation(self, evaluation: Evaluation) -> None:
        key = (evaluation.tenant_id, evaluation.evaluation_id)
        if key in self.state.evaluations:
            raise KeyError(f"duplicate evaluation {key}")
        self.state.evaluations[key] = evaluation

    async def get_evaluation(self, tenant_id: str, evaluation_id: str) -> Evaluation | None:
        return self.state.evaluations.get((tenant_id, evaluation_id))

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
