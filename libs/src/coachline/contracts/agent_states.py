"""``cc.agent-states.v1``: agents changing state (available, on contact, break, ...)."""

from __future__ import annotations

from enum import StrEnum

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
