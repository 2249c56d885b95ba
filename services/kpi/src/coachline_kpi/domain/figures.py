"""KPI folds as pure functions: what each interaction event adds to which scope and window,
and how the stored sums become the figures of KPI_DEFINITIONS.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from coachline.contracts.interactions import (
    InteractionAbandoned,
    InteractionAnswered,
    InteractionOffered,
    InteractionWrappedUp,
)
from coachline.contracts.kpi import Scope

COUNTERS = ("offered", "answered", "abandoned", "handled")


@dataclass(frozen=True)
class Contribution:
    """What one event adds to one scope in one window."""

    scope: Scope
    scope_id: str
    window: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    handled: int = 0
    handle_time_s: Decimal = Decimal(0)


def day_window(at: datetime, zone: ZoneInfo) -> str:
    """The calendar day of ``at`` in the tenant's time zone, e.g. ``day:2026-11-23``."""
    return f"day:{at.astimezone(zone).date().isoformat()}"


def contributions(tenant_id: str, payload: BaseModel, zone: ZoneInfo) -> list[Contribution]:
    """Every (scope, window) an interaction event counts in, with its increments.

    Contacts count where they were: offered and abandoned in their queue and the tenant; answered and
    handled also for the agent's team. The event's own time picks the window, so late events land
    in the day they happened.
    """
    window = day_window(payload.occurred_at, zone)  # type: ignore[attr-defined]
    scopes: list[tuple[Scope, str]] = [(Scope.TENANT, tenant_id), (Scope.QUEUE, payload.queue_id)]  # type: ignore[attr-defined]
    team = getattr(payload, "team_id", None)
    match payload:
        case InteractionOffered():
            return [Contribution(s, i, window, offered=1) for s, i in scopes]
        case InteractionAbandoned():
            return [Contribution(s, i, window, abandoned=1) for s, i in scopes]
        case InteractionAnswered():
            return [Contribution(s, i, window, answered=1) for s, i in _with_team(scopes, team)]
        case InteractionWrappedUp():
            handle = payload.talk_s + payload.hold_s + payload.after_contact_work_s
            return [Contribution(s, i, window, handled=1, handle_time_s=handle) for s, i in _with_team(scopes, team)]
    return []


def _with_team(scopes: list[tuple[Scope, str]], team: str | None) -> list[tuple[Scope, str]]:
    return [*scopes, (Scope.TEAM, team)] if team else scopes


def figures(offered: int, answered: int, abandoned: int, handled: int, handle_time_s: Decimal,
            min_sample: int) -> dict[str, Decimal | None]:
    """The published figures. AHT is Σ handle time ÷ handled, or None ("not enough data") below min_sample."""
    aht = (handle_time_s / handled).quantize(Decimal("0.001")) if handled >= min_sample else None
    return {
        "offered": Decimal(offered),
        "answered": Decimal(answered),
        "abandoned": Decimal(abandoned),
        "handled": Decimal(handled),
        "aht_s": aht,
    }
