"""``roster``: agents, teams and queues from a WFM or HR system, one record per entity.

::

    {"kind": "agent", "id": "a-17", "team": "t-north", "name": "Aino Virtanen",
     "time_zone": "Europe/Helsinki", "skills": ["billing"], "started_on": "2026-03-02",
     "active": true, "changed_at": "2026-11-23T06:00:00Z"}
    {"kind": "team", "id": "t-north", "name": "North", "unit": "u-helsinki", "time_zone": "Europe/Helsinki",
     "changed_at": "..."}
    {"kind": "queue", "id": "billing", "name": "Billing", "channel": "voice", "changed_at": "..."}

The event id comes from the entity and ``changed_at``, so re-sending a roster export is harmless
and a later change is a new event (``cc.roster.v1`` is compacted: the latest per entity is the truth).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from coachline.contracts.base import Identifier
from coachline.contracts.interactions import Channel
from coachline.envelope import validation_summary
from coachline_intake.domain.records import Context, Draft, Rejected, timestamp

Name = Annotated[str, StringConstraints(max_length=200)]


class RosterRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["agent", "team", "queue"]
    id: Identifier
    name: Name | None = None
    team: Identifier | None = None
    unit: Identifier | None = None
    channel: Channel | None = None
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = None
    skills: list[Identifier] = Field(default_factory=list, max_length=100)
    started_on: date | None = None
    active: bool = True
    changed_at: Annotated[str, StringConstraints(max_length=64)] | int


def translate(record: Any, context: Context) -> list[Draft]:
    try:
        entry = RosterRecord.model_validate(record)
    except ValidationError as exc:
        loc = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else None
        raise Rejected(f"not a roster record: {validation_summary(exc)}", loc) from None
    at = timestamp(entry.changed_at, "changed_at")
    common = {"time_zone": entry.time_zone, "active": entry.active, "occurred_at": at}
    source_id = f"{entry.kind}/{entry.id}/{at}"
    if entry.kind == "agent":
        return [Draft("cc.roster.agent.v1", source_id, {
            **common, "agent_id": entry.id, "team_id": entry.team, "display_name": entry.name,
            "skills": entry.skills, "started_on": entry.started_on.isoformat() if entry.started_on else None})]
    if entry.name is None:
        raise Rejected(f"name is missing: a {entry.kind} needs one", "name")
    if entry.kind == "team":
        return [Draft("cc.roster.team.v1", source_id, {
            **common, "team_id": entry.id, "name": entry.name, "unit_id": entry.unit})]
    if entry.channel is None:
        raise Rejected("channel is missing: a queue needs one", "channel")
    return [Draft("cc.roster.queue.v1", source_id, {
        **common, "queue_id": entry.id, "name": entry.name, "channel": entry.channel})]
