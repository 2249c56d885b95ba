"""The sampling pool: completed interactions an evaluator may pick to score."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, computed_field

from coachline.contracts.base import utc
from coachline.contracts.interactions import Channel, InteractionWrappedUp

# Durations are kept to the millisecond, as the contract and the table do, so they read back the same.
_MILLISECOND = Decimal("0.001")


class PoolEntry(BaseModel):
    """One agent's handling of one completed contact.

    A transferred contact completes once per agent who handled it, each with that agent's own times,
    so the pool holds one entry per (interaction, agent) and each part can be evaluated on its own.
    """

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    interaction_id: str
    agent_id: str
    team_id: str | None
    queue_id: str
    channel: Channel
    completed_at: datetime
    talk_s: Decimal
    hold_s: Decimal
    after_contact_work_s: Decimal
    transferred: bool
    customer_ref: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def handle_s(self) -> Decimal:
        """Handling time as AHT counts it: talk, hold and after-contact work."""
        return self.talk_s + self.hold_s + self.after_contact_work_s


def pool_entry(tenant_id: str, completed: InteractionWrappedUp) -> PoolEntry:
    """The pool entry a completed interaction becomes."""
    return PoolEntry(
        tenant_id=tenant_id,
        interaction_id=completed.interaction_id,
        agent_id=completed.agent_id,
        team_id=completed.team_id,
        queue_id=completed.queue_id,
        channel=completed.channel,
        completed_at=utc(completed.occurred_at),
        talk_s=_to_ms(completed.talk_s),
        hold_s=_to_ms(completed.hold_s),
        after_contact_work_s=_to_ms(completed.after_contact_work_s),
        transferred=completed.transferred,
        customer_ref=completed.customer_ref,
    )


def _to_ms(seconds: Decimal) -> Decimal:
    return Decimal(seconds).quantize(_MILLISECOND)


class NotInPool(LookupError):
    """The interaction (or that agent's part of it) is not in the tenant's sampling pool."""


class AgentNotNamed(ValueError):
    """Several agents handled the interaction and the evaluation does not say whose handling it scores."""

    def __init__(self, agent_ids: list[str]) -> None:
        super().__init__(f"handled by {len(agent_ids)} agents")
        self.agent_ids = agent_ids


def entry_to_evaluate(entries: list[PoolEntry], agent_id: str | None) -> PoolEntry:
    """The pool entry an evaluation scores: the named agent's, or the only one there is."""
    if agent_id is not None:
        for entry in entries:
            if entry.agent_id == agent_id:
                return entry
        raise NotInPool
    if not entries:
        raise NotInPool
    if len(entries) > 1:
        raise AgentNotNamed(sorted(e.agent_id for e in entries))
    return entries[0]
