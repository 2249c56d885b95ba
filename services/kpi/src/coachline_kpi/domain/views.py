"""Which stored sums a figure is read from, and how they combine: teams take in their members'
surveys, evaluations and coaching; a ``30d:`` window sums its thirty day windows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from coachline.contracts.kpi import Scope
from coachline_kpi.domain.figures import summed, with_members
from coachline_kpi.domain.fold import Counters
from coachline_kpi.domain.windows import rolling_days

ScopeKey = tuple[str, str, str]  # scope, scope id, window


def _days(window: str) -> list[str]:
    return rolling_days(window) if window.startswith("30d:") else [window]


def stored_keys(wanted: Sequence[ScopeKey], members: Mapping[str, Sequence[str]]) -> list[ScopeKey]:
    """The stored rows the ``wanted`` figures are computed from."""
    out: list[ScopeKey] = []
    for scope, scope_id, window in wanted:
        for day in _days(window):
            out.append((scope, scope_id, day))
            if scope == Scope.TEAM:
                out += [(Scope.AGENT.value, agent, day) for agent in members.get(scope_id, ())]
    return list(dict.fromkeys(out))


def assemble(wanted: Sequence[ScopeKey], stored: Callable[[ScopeKey], tuple[Counters, datetime] | None],
             members: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """One row per wanted key that has data: its sums, when they last changed and the scope's head count."""
    out = []
    for scope, scope_id, window in dict.fromkeys(wanted):
        own = [r for d in _days(window) if (r := stored((scope, scope_id, d)))]
        team = members.get(scope_id, ()) if scope == Scope.TEAM else ()
        member = [r for a in team for d in _days(window) if (r := stored((Scope.AGENT.value, a, d)))]
        if not own and not member:
            continue
        sums = with_members(summed(s for s, _ in own), (s for s, _ in member))
        agents = 1 if scope == Scope.AGENT else len(team) or None
        out.append({"scope": scope, "scope_id": scope_id, "window_key": window, "sums": sums, "agents": agents,
                    "updated_at": max(u for _, u in own + member)})
    return out
