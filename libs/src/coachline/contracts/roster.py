"""``cc.roster.v1``: agents, teams and queues as a WFM or HR system knows them.

Every service maps agent → team → tenant from these; the latest event per entity is its truth.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from coachline.contracts.base import Contract, Identifier, ShortText, TimeZoneName, Timestamp
from coachline.contracts.interactions import Channel


class AgentRostered(Contract):
    """An agent joined, moved team, changed skills or left (``active`` false)."""

    agent_id: Identifier = Field(description="The employee id as the roster gives it.")
    team_id: Identifier | None = None
    display_name: ShortText | None = None
    time_zone: TimeZoneName | None = None
    skills: list[Identifier] = Field(default_factory=list, max_length=100)
    started_on: date | None = Field(default=None, description="First working day, for new-starter rules.")
    active: bool = True
    occurred_at: Timestamp


class TeamRostered(Contract):
    """A team and the unit it belongs to."""

    team_id: Identifier
    name: ShortText
    unit_id: Identifier | None = None
    time_zone: TimeZoneName | None = None
    active: bool = True
    occurred_at: Timestamp


class QueueRostered(Contract):
    """A queue contacts wait in."""

    queue_id: Identifier
    name: ShortText
    channel: Channel
    time_zone: TimeZoneName | None = None
    active: bool = True
    occurred_at: Timestamp
