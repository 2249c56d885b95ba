"""An in-memory unit of work with the same behaviour as the PostgreSQL one, for tests without I/O.

Rows are kept per tenant, as row-level security keeps them in PostgreSQL.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from pydantic import BaseModel

from coachline.envelope import CloudEvent
from coachline_evaluation.domain.evaluations import Evaluation
from coachline_evaluation.domain.sampling import PoolEntry

M = TypeVar("M", bound=BaseModel)


@dataclass
class State:
    inbox: set[tuple[str, str]] = field(default_factory=set)
    pool: dict[tuple[str, str, str], PoolEntry] = field(default_factory=dict)
    surveys: dict[tuple[str, str], tuple[int | None, int | None, datetime]] = field(default_factory=dict)
    agents: dict[tuple[str, str], tuple[str | None, date | None, datetime]] = field(default_factory=dict)
    mystery: set[tuple[str, str]] = field(default_factory=set)
    evaluations: dict[tuple[str, str], Evaluation] = field(default_factory=dict)
    records: dict[tuple[str, str, str], str] = field(default_factory=dict)
    outbox: list[CloudEvent] = field(default_factory=list)


class FakeRepository:
    def __init__(self, state: State, tenant_id: str) -> None:
        self.state = state
        self.tenant_id = tenant_id

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.state.inbox:
            return False
        self.state.inbox.add((consumer, event_id))
        return True

    async def enqueue(self, event: CloudEvent) -> None:
        self.state.outbox.append(event)

    async def save_pool_entry(self, entry: PoolEntry) -> None:
        assert entry.tenant_id == self.tenant_id
        self.state.pool[(entry.tenant_id, entry.interaction_id, entry.agent_id)] = entry

    async def pool_entries(self, interaction_id: str) -> list[PoolEntry]:
        found = [e for (t, i, _), e in self.state.pool.items() if (t, i) == (self.tenant_id, interaction_id)]
        return sorted(found, key=lambda e: e.agent_id)

    async def list_pool(self, agent_id: str | None, limit: int) -> list[PoolEntry]:
        found = [e for e in self.state.pool.values()
                 if e.tenant_id == self.tenant_id and agent_id in (None, e.agent_id)]
        found.sort(key=lambda e: (e.interaction_id, e.agent_id))
        found.sort(key=lambda e: e.completed_at, reverse=True)
        return found[:limit]

    async def pool_between(self, start: datetime, end: datetime) -> list[PoolEntry]:
        found = [e for e in self.state.pool.values()
                 if e.tenant_id == self.tenant_id and start <= e.completed_at < end]
        return sorted(found, key=lambda e: (e.agent_id, e.interaction_id))

    async def save_survey(self, interaction_id: str, csat: int | None, nps: int | None,
                          answered_at: datetime) -> None:
        key = (self.tenant_id, interaction_id)
        if key not in self.state.surveys or self.state.surveys[key][2] <= answered_at:
            self.state.surveys[key] = (csat, nps, answered_at)

    async def surveys(self, interaction_ids: Collection[str]) -> dict[str, tuple[int | None, int | None]]:
        return {i: self.state.surveys[(self.tenant_id, i)][:2] for i in interaction_ids
                if (self.tenant_id, i) in self.state.surveys}

    async def save_agent(self, agent_id: str, team_id: str | None, started_on: date | None, active: bool,
                         as_of: datetime) -> None:
        key = (self.tenant_id, agent_id)
        if key not in self.state.agents or self.state.agents[key][2] <= as_of:
            self.state.agents[key] = (team_id, started_on, as_of)

    async def agents(self) -> dict[str, tuple[str | None, date | None]]:
        return {a: (team, started) for (t, a), (team, started, _) in self.state.agents.items() if t == self.tenant_id}

    async def mark_mystery_contact(self, interaction_id: str) -> None:
        self.state.mystery.add((self.tenant_id, interaction_id))

    async def mystery_contacts(self) -> set[str]:
        return {i for t, i in self.state.mystery if t == self.tenant_id}

    async def save_evaluation(self, evaluation: Evaluation) -> None:
        assert evaluation.tenant_id == self.tenant_id
        self.state.evaluations[(self.tenant_id, evaluation.evaluation_id)] = evaluation

    async def get_evaluation(self, evaluation_id: str) -> Evaluation | None:
        return self.state.evaluations.get((self.tenant_id, evaluation_id))

    async def find_evaluations(
        self, *, agent_id: str | None = None, team_ids: Collection[str] | None = None,
        evaluator_id: str | None = None, interaction_id: str | None = None, kind: str | None = None,
        states: Collection[str] | None = None, limit: int = 500,
    ) -> list[Evaluation]:
        found = [
            e for (t, _), e in self.state.evaluations.items()
            if t == self.tenant_id and agent_id in (None, e.agent_id)
            and (team_ids is None or e.team_id in team_ids) and evaluator_id in (None, e.evaluator_id)
            and interaction_id in (None, e.interaction_id) and kind in (None, e.kind.value)
            and (states is None or e.state.value in states)
        ]
        found.sort(key=lambda e: e.evaluation_id)
        found.sort(key=lambda e: e.submitted_at or e.assigned_at, reverse=True)
        return found[:limit]

    async def evaluated_interactions(self) -> set[tuple[str, str]]:
        return {(e.interaction_id, e.agent_id) for (t, _), e in self.state.evaluations.items()
                if t == self.tenant_id and e.kind.value == "standard"}

    async def put_record(self, kind: str, key: str, document: BaseModel) -> None:
        self.state.records[(self.tenant_id, kind, key)] = document.model_dump_json()

    async def get_record(self, kind: str, key: str, model: type[M]) -> M | None:
        raw = self.state.records.get((self.tenant_id, kind, key))
        return model.model_validate_json(raw) if raw else None

    async def list_records(self, kind: str, model: type[M], key_prefix: str = "") -> list[M]:
        return [model.model_validate_json(raw) for (t, k, key), raw in sorted(self.state.records.items())
                if (t, k) == (self.tenant_id, kind) and key.startswith(key_prefix)]

    async def claim(self, kind: str, key: str) -> bool:
        if (self.tenant_id, kind, key) in self.state.records:
            return False
        self.state.records[(self.tenant_id, kind, key)] = "{}"
        return True


class FakeUnitOfWork:
    """Commits by keeping the changed state, rolls back by restoring a copy taken at the start."""

    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[FakeRepository]:
        before = copy.deepcopy(self.state)
        try:
            yield FakeRepository(self.state, tenant_id)
        except BaseException:
            self.state = before
            raise

    async def due_releases(self, today: date) -> list[tuple[str, str]]:
        return sorted((t, e.evaluation_id) for (t, _), e in self.state.evaluations.items()
                      if e.release_on is not None and e.release_on <= today and e.state.value == "submitted")

    async def weekly_policies(self) -> list[tuple[str, str]]:
        return sorted((t, key) for (t, kind, key), raw in self.state.records.items()
                      if kind == "sampling-policy" and json.loads(raw).get("cadence") == "weekly")
