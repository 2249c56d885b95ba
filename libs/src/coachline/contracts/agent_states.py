"""``cc.agent-states.v1``: agents changing state (available, on contact, break, ...)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, ShortText, Timestamp


class AgentState(StrEnum):
    AVAILABLE = "available"
    ON_CONTACT = "on_contact"
    AFTER_CONTACT_WORK = "after_contact_work"
    BREAK = "break"
    OTHER = "other"
    LOGGED_OUT = "logged_out"


class AgentStateChanged(Contract):
    """An agent entered a new state."""

    agent_id: Identifier
    team_id: Identifier | None = None
    state: AgentState
    reason: ShortText | None = None
    occurred_at: Timestamp
    # Two changes of one agent in the same millisecond (back from a break straight onto a waiting contact)
    # are ordered by this, not by arrival; without it their order is arbitrary.
    sequence: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = Field(
        default=None, description="The platform's running number of this agent's state changes: of two changes "
                                   "at the same occurred_at, the higher one is the later. Optional.")
