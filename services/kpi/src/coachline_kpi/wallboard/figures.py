"""What a board reads of the projections: each scope's figures in its current windows, and the live ones.

This module is the wallboard's one dependency on how the projections store and compute figures
(``repository.policies``, ``find_keys`` and ``live_state``, ``service.view``, ``live_figures``);
everything else in the package sees only :class:`ScopeUpdate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel

from coachline.contracts.kpi import Scope
from coachline_kpi import repository
from coachline_kpi.domain.figures import live_figures
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.domain.windows import day_key, window_keys
from coachline_kpi.service import ScopeFigures, view
from coachline_kpi.wallboard.tiles import LIVE, TILE_NAMES, Window

ScopeKey = tuple[str, str]


class Levels(BaseModel):
    target: Decimal
    warning: Decimal | None = None
    alert: Decimal | None = None
    higher_is_better: bool = True


class Member(BaseModel):
    """One person of an open team, with their own figures of today."""

    agent_id: str
    display_name: str | None = None
    figures: dict[str, Decimal | None]


class ScopeUpdate(BaseModel):
    """One scope's figures in each of its current windows (figures are null below the minimum sample)."""

    scope: str
    scope_id: str
    windows: dict[str, dict[str, Decimal | None]]
    # The tenant's targets for this scope kind, for the tiles' colours.
    targets: dict[str, Levels] = {}
    # When the stored figures last changed; None when the scope has only live figures so far. The live
    # ones follow the stored ones (a contact offered or answered changes both), so resuming by this misses none.
    updated_at: datetime | None = None
    # Only for a team whose board asks for members and whose recorded visibility is ``open``.
    members: list[Member] | None = None

    @property
    def key(self) -> ScopeKey:
        return (self.scope, self.scope_id)


def current_windows(now: datetime, policy: TenantPolicy, kinds: Iterable[str]) -> list[str]:
    """The windows of ``kinds`` that ``now`` is in: the current 15 minutes, today, this week and this
    coaching period in the tenant's time zone, and the 30 days ending today."""
    wanted = set(kinds)
    keys = [w for w in window_keys(now, policy) if w.partition(":")[0] in wanted]
    if Window.ROLLING in wanted:
        keys.append(f"{Window.ROLLING.value}:{now.astimezone(ZoneInfo(policy.time_zone)).date().isoformat()}")
    return keys


def targets_for(scope: str, policy: TenantPolicy) -> dict[str, Levels]:
    return {t.kpi: Levels(target=t.target, warning=t.warning, alert=t.alert, higher_is_better=t.higher_is_better)
            for t in policy.targets if t.scope == scope and t.kpi in TILE_NAMES}


def by_scope(shown: Iterable[ScopeFigures], live: dict[ScopeKey, dict[str, Decimal | None]],
             policy: TenantPolicy) -> list[ScopeUpdate]:
    """One update per scope: its stored windows plus its live figures under the ``now`` window (not
    stored: computed from the current state whenever a board reads)."""
    grouped = {key: ScopeUpdate(scope=key[0], scope_id=key[1], windows={LIVE: figures},
                                targets=targets_for(key[0], policy))
               for key, figures in live.items()}
    for item in shown:
        key = (item.scope.value, item.scope_id)
        held = grouped.setdefault(key, ScopeUpdate(scope=key[0], scope_id=key[1], windows={},
                                                   targets=targets_for(key[0], policy)))
        held.windows[item.window] = item.figures
        held.updated_at = item.updated_at if held.updated_at is None else max(held.updated_at, item.updated_at)
    return sorted(grouped.values(), key=lambda u: u.key)


def shows_members(decided: Mapping[str, Any] | None) -> bool:
    """Whether a team's members may appear by name: only after the team decided ``open`` (and not since undone)."""
    return decided is not None and decided["visibility"] == "open"


class FigureReader:
    def __init__(self, pool: Callable[[], asyncpg.Pool], zone: ZoneInfo, min_sample: int) -> None:
        self.pool = pool
        self.default_policy = TenantPolicy(time_zone=zone.key, min_sample=min_sample)

    async def read(self, tenant_id: str, scopes: Iterable[ScopeKey], now: datetime,
                   member_teams: Iterable[str] = (), kinds: Iterable[str] = (Window.DAY.value,)
                   ) -> list[ScopeUpdate]:
        """The ``scopes``' live figures and their figures in the current windows of ``kinds``."""
        wanted = sorted(scopes)
        if not wanted:
            return []
        pool = self.pool()
        policy = (await repository.policies(pool, [tenant_id])).get(tenant_id, self.default_policy)
        windows = current_windows(now, policy, kinds)
        rows = await repository.find_keys(pool, tenant_id, [[s, i, w] for s, i in wanted for w in windows], policy,
                                          as_of=now)
        contacts, agents = await repository.live_state(pool, tenant_id)
        live = {(s, i): live_figures(Scope(s), i, contacts, agents, now) for s, i in wanted}
        today = now.astimezone(ZoneInfo(policy.time_zone)).date()
        updates = by_scope((view(row, policy.min_sample, policy, today) for row in rows), live, policy)
        teams = {i for s, i in wanted if s == Scope.TEAM.value} & set(member_teams)
        for update in updates:
            if update.scope_id in teams and update.scope == Scope.TEAM.value:
                update.members = await self._members(pool, tenant_id, update.scope_id, day_key(today), policy, today)
        return updates

    async def _members(self, pool: asyncpg.Pool, tenant_id: str, team_id: str, window: str, policy: TenantPolicy,
                       today: date) -> list[Member] | None:
        if not shows_members(await repository.visibility(pool, tenant_id, team_id)):
            return None
        rows = await repository.team_agents_sums(pool, tenant_id, team_id, window, policy)
        names = await repository.display_names(pool, tenant_id, [r["scope_id"] for r in rows])
        return [Member(agent_id=r["scope_id"], display_name=names.get(r["scope_id"]),
                       figures=view(r, policy.min_sample, policy, today).figures)
                for r in sorted(rows, key=lambda r: (names.get(r["scope_id"]) or r["scope_id"]))]
