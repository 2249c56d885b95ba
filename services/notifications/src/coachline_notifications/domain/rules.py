"""Notification rules: which event types reach which people, on which channel, and when.

A rule sends each matching event by e-mail at once (held back during the tenant's quiet hours), or
collects it into a daily digest e-mail, or turns a KPI alert into a wallboard banner. A wallboard is
seen by a whole floor, so only aggregate alerts (team, queue, unit, tenant) ever become banners;
an individual's result never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from coachline.contracts.base import Identifier, TimeZoneName
from coachline_notifications.domain.subscriptions import WEBHOOK_EVENT_TYPES

Language = Literal["en", "fi", "sv", "nb"]
# Events about one person's result: e-mail to named people only, never a wallboard.
WALLBOARD_EVENT_TYPES = ("kpi.alert.raised.v1",)
MAX_RECIPIENTS = 50
MAX_TEAMS = 50
# A plain address, nothing a mail header could be made to carry besides it (no names, no line breaks).
EmailAddress = Annotated[str, StringConstraints(
    max_length=254, pattern=r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")]


class Channel(StrEnum):
    EMAIL = "email"
    DIGEST = "digest"
    WALLBOARD = "wallboard"


def _known_type(name: str) -> str:
    if name not in WEBHOOK_EVENT_TYPES:
        raise ValueError(f"not an event type notifications handle; expected one of {', '.join(WEBHOOK_EVENT_TYPES)}")
    return name


EventTypeName = Annotated[str, Field(max_length=100), AfterValidator(_known_type)]


class QuietHours(BaseModel):
    """Local times between which no e-mail goes out; ``start`` after ``end`` spans midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time")
        if self.start.tzinfo or self.end.tzinfo:
            raise ValueError("quiet hours are local times, without an offset")
        return self


class RuleRequest(BaseModel):
    """Create a rule for the caller's tenant."""

    model_config = ConfigDict(extra="forbid")

    event_type: EventTypeName
    channel: Channel
    recipients: list[EmailAddress] = Field(default_factory=list, max_length=MAX_RECIPIENTS,
                                       description="E-mail addresses; required for email and digest, empty for "
                                                   "wallboard.")
    team_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_TEAMS,
                                       description="Only events of these teams (a team lead's own); empty: all.")
    language: Language = "en"
    time_zone: TimeZoneName = "UTC"
    quiet_hours: QuietHours | None = None
    digest_hour: int = Field(7, ge=0, le=23, description="Local hour the daily digest goes out (digest rules).")

    @model_validator(mode="after")
    def _fits_the_channel(self) -> RuleRequest:
        if self.channel is Channel.WALLBOARD:
            if self.event_type not in WALLBOARD_EVENT_TYPES:
                raise ValueError("a wallboard shows aggregate KPI alerts only, never an individual's result")
            if self.recipients:
                raise ValueError("a wallboard rule has no recipients")
        elif not self.recipients:
            raise ValueError("an e-mail rule needs at least one recipient")
        self.recipients = list(dict.fromkeys(r.lower() for r in self.recipients))
        return self


class Rule(BaseModel):
    id: UUID
    tenant_id: str
    event_type: str
    channel: Channel
    recipients: list[str]
    team_ids: list[str]
    language: Language
    time_zone: str
    quiet_hours: QuietHours | None
    digest_hour: int
    created_at: datetime


class Rules(BaseModel):
    items: list[Rule]


def team_of(data: Mapping[str, Any]) -> str | None:
    """The team an event is about: its ``team_id``, or the scope of a team-level KPI alert."""
    if isinstance(data.get("team_id"), str):
        return str(data["team_id"])
    if data.get("scope") == "team" and isinstance(data.get("scope_id"), str):
        return str(data["scope_id"])
    return None


def applies(rule: Rule, data: Mapping[str, Any]) -> bool:
    """Whether ``rule`` wants an event with payload ``data``: every event, or those of its teams.

    An event whose team is unknown reaches only rules without a team filter.
    """
    return not rule.team_ids or team_of(data) in rule.team_ids


def release_time(now: datetime, time_zone: str, quiet: QuietHours | None) -> datetime:
    """When an e-mail due at ``now`` may go out: ``now``, or the end of the quiet hours it falls in."""
    if quiet is None:
        return now
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    spans_midnight = quiet.start > quiet.end
    inside = (quiet.start <= clock or clock < quiet.end) if spans_midnight else (quiet.start <= clock < quiet.end)
    if not inside:
        return now
    end_day = local.date() + timedelta(days=1) if spans_midnight and clock >= quiet.start else local.date()
    # Built from the wall clock so a change to or from summer time in between lands on the local end time.
    return datetime.combine(end_day, quiet.end, tzinfo=zone)


def digest_due(now: datetime, time_zone: str, hour: int, last_sent_on: date | None) -> date | None:
    """The local date whose digest is due at ``now`` (once a day, from ``hour`` on), or None."""
    local = now.astimezone(ZoneInfo(time_zone))
    if local.hour < hour or (last_sent_on is not None and last_sent_on >= local.date()):
        return None
    return local.date()
