"""Use cases of evaluation: fill the sampling pool from interactions, submit and read evaluations.

Every use case runs in one transaction of a unit of work, so a pool entry and its inbox record,
or an evaluation and its outbox event, commit together or not at all.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from coachline.contracts.interactions import InteractionWrappedUp
from coachline.envelope import CloudEvent
from coachline_evaluation.domain.evaluations import Evaluation, SubmitEvaluation, evaluate, evaluation_submitted
from coachline_evaluation.domain.sampling import PoolEntry, entry_to_evaluate, pool_entry

# The inbox name of the sampling-pool projection; it stays fixed when the consumer group is renamed.
SAMPLING_POOL = "sampling-pool"


class Repository(Protocol):
    """What the use cases need from storage, inside one transaction."""

    async def first_delivery(self, consumer: str, event_id: str) -> bool: ...

    async def save_pool_entry(self, entry: PoolEntry) -> None: ...

    async def pool_entries(self, tenant_id: str, interaction_id: str) -> list[PoolEntry]: ...

    async def list_pool(self, tenant_id: str, agent_id: str | None, limit: int) -> list[PoolEntry]: ...

    async def add_evaluation(self, evaluation: Evaluation) -> None: ...

    async def get_evaluation(self, tenant_id: str, evaluation_id: str) -> Evaluation | None: ...

    async def enqueue(self, event: CloudEvent) -> None: ...


class UnitOfWork(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Repository]:
        """A repository whose changes commit when the block ends, or roll back if it raises."""
        ...


class Outcome(StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class EvaluationNotFound(LookupError):
    pass


async def take_interaction(uow: UnitOfWork, event: CloudEvent) -> Outcome:
    """Put a completed interaction into the sampling pool; other interaction events have no effect here."""
    if not isinstance(event.data, InteractionWrappedUp):
        return Outcome.IGNORED
    entry = pool_entry(event.tenant_id, event.data)
    async with uow.transaction() as repo:
        if not await repo.first_delivery(SAMPLING_POOL, event.id):
            return Outcome.DUPLICATE
        await repo.save_pool_entry(entry)
    return Outcome.ADDED


async def submit_evaluation(
    uow: UnitOfWork,
    command: SubmitEvaluation,
    *,
    evaluation_id: str | None = None,
    now: datetime | None = None,
) -> Evaluation:
    """Store the evaluation and queue ``qa.evaluation.submitted.v1`` in the same transaction.

    Raises ``NotInPool`` or ``AgentNotNamed`` (from the domain) when there is nothing to score.
    """
    async with uow.transaction() as repo:
        entries = await repo.pool_entries(command.tenant_id, command.interaction_id)
        entry = entry_to_evaluate(entries, command.agent_id)
        evaluation = evaluate(
            command, entry, evaluation_id=evaluation_id or str(uuid.uuid4()), submitted_at=now or datetime.now(UTC)
        )
        await repo.add_evaluation(evaluation)
        await repo.enqueue(evaluation_submitted(evaluation))
    return evaluation


async def sampling_pool(uow: UnitOfWork, tenant_id: str, agent_id: str | None, limit: int) -> list[PoolEntry]:
    """The tenant's pool, most recently completed first, optionally one agent's only."""
    async with uow.transaction() as repo:
        return await repo.list_pool(tenant_id, agent_id, limit)


async def find_evaluation(uow: UnitOfWork, tenant_id: str, evaluation_id: str) -> Evaluation:
    async with uow.transaction() as repo:
        evaluation = await repo.get_evaluation(tenant_id, evaluation_id)
    if evaluation is None:
        raise EvaluationNotFound(evaluation_id)
    return evaluation
