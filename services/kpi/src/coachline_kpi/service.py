"""Use cases of the KPI service: fold batches of events into sums exactly once, read figures back,
raise alerts on targets crossed, and compute the same figures offline from a file of events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel

from coachline.auth import Principal
from coachline.contracts.kpi import AlertLevel, KpiAlertRaised, KpiSnapshot, Scope
from coachline.envelope import CloudEvent, new_event
from coachline.persistence import tenant_transaction
from coachline_kpi import repository
from coachline_kpi.domain.access import LEADS, may_decide_visibility, may_see, may_see_team_members, sees_everything
from coachline_kpi.domain.alerts import next_level
from coachline_kpi.domain.figures import figures, live_figures, provisional
from coachline_kpi.domain.fold import Counters, Fold, Key
from coachline_kpi.domain.policy import ServiceLevelVariant, TenantPolicy
from coachline_kpi.domain.views import ScopeKey, assemble
from coachline_kpi.domain.windows import day_key

Enqueue = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]
SOURCE = "coachline/kpi"
SNAPSHOT_FIGURES = 64  # KpiSnapshot.figures' max_length


class ScopeFigures(BaseModel):
    """One scope's figures in one window; a figure is null when its sample is below the minimum."""

    scope: Scope
    scope_id: str
    window: str
    figures: dict[str, Decimal | None]
    provisional: list[str] = []
    sl_variant: ServiceLevelVariant = ServiceLevelVariant.OFFERED
    updated_at: datetime


def view(row: dict[str, Any], min_sample: int, policy: TenantPolicy | None = None,
         today: date | None = None) -> ScopeFigures:
    """One scope's figures as the API, the live stream and the snapshots show them."""
    policy = policy or TenantPolicy(min_sample=min_sample)
    today = today or datetime.now(ZoneInfo(policy.time_zone)).date()
    return ScopeFigures(
        scope=row["scope"], scope_id=row["scope_id"], window=row["window_key"],
        figures=figures(row["sums"], policy, agents=row.get("agents")),
        provisional=provisional(row["window_key"], policy, today), sl_variant=policy.sl_variant,
        updated_at=row["updated_at"],
    )


class Observer(Protocol):
    """What the projection reports for metrics; the app supplies a Prometheus one."""

    def folded(self, events: Sequence[CloudEvent], duplicates: int) -> None: ...

    def shown(self, tenant_id: str, shown: ScopeFigures) -> None: ...


Position = tuple[str, int, int]  # the topic, partition and offset an event was read at


class Projection:
    """Applies batches of events to the KPI sums with exactly-once effect.

    One transaction per batch: a record read before is recognised by its partition's position (however
    old it is) and an event sent again as a new record by the inbox (within its horizon); the fold runs
    in memory over the new events with the state it needs locked and loaded; every changed key is
    written at once; the changed keys are announced to live streams and noted for :class:`Snapshots`.
    The Kafka offsets are committed after it commits.
    """

    def __init__(self, pool: Callable[[], asyncpg.Pool], default_policy: TenantPolicy,
                 observer: Observer | None = None, *, quiet: bool = False) -> None:
        # The pool is opened when the app starts, after the projection is wired to its subscriber.
        self.pool = pool
        self.default_policy = default_policy
        self.observer = observer
        # A rebuild folds history: no snapshots, alerts or live notices for figures nobody is watching yet.
        self.quiet = quiet

    async def apply(self, event: CloudEvent) -> bool:
        """Fold one event; False when it was already applied (a duplicate or redelivery)."""
        return await self.apply_batch([event]) == 1

    async def apply_batch(self, events: Sequence[CloudEvent], read_at: Sequence[Position] | None = None) -> int:
        """Fold a batch; returns how many events were new.

        ``read_at`` gives where each event was read, when it comes from the topics: the partitions'
        positions then move past it in the same transaction.
        """
        async with self.pool().acquire() as conn, conn.transaction():
            unread = list(events)
            if read_at is not None:
                folded = await repository.positions(conn, {(t, p) for t, p, _ in read_at})
                unread = [e for e, (t, p, o) in zip(events, read_at, strict=True) if o >= folded.get((t, p), 0)]
            fresh = await repository.first_deliveries(conn, [e.id for e in unread])
            todo: list[CloudEvent] = []
            for event in unread:
                if event.id in fresh:
                    fresh.discard(event.id)  # the same id twice in one batch counts once
                    todo.append(event)
            if todo:
                await self._fold(conn, todo)
            if read_at is not None:
                reached: dict[tuple[str, int], int] = {}
                for topic, partition, offset in read_at:
                    reached[(topic, partition)] = max(reached.get((topic, partition), 0), offset + 1)
                await repository.advance(conn, reached)
        if self.observer is not None:
            self.observer.folded(todo, len(events) - len(todo))
        return len(todo)

    async def _fold(self, conn: asyncpg.Connection, events: list[CloudEvent]) -> None:
        stored = await repository.policies(conn, {e.tenant_id for e in events})
        fold = Fold(lambda tenant: stored.get(tenant, self.default_policy))
        refs = [ref for e in events for ref in Fold.entities_needed(e)]
        spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for event in events:
            if (need := Fold.timeline_needed(event)) is not None:
                tenant, agent, at = need
                first, last = spans.get((tenant, agent), (at, at))
                spans[(tenant, agent)] = (min(first, at), max(last, at))
        await repository.lock(conn, ["/".join(r) for r in refs] + [f"{t}/marks/{a}" for t, a in spans])
        fold.entities.update(await repository.load_entities(conn, refs))
        fold.timelines.update(await repository.load_marks(conn, spans))
        fold.apply_all(events)
        await repository.save_entities(conn, {r: fold.entities[r] for r in fold.changed_entities})
        await repository.add_marks(conn, fold.new_marks)
        await repository.add_sums(conn, fold.deltas)
        if self.quiet:
            return
        changed: dict[str, set[ScopeKey]] = {}
        for (tenant, scope, scope_id, window), counters in fold.deltas.items():
            if any(counters.values()):
                changed.setdefault(tenant, set()).add((scope, scope_id, window))
        for tenant, keys in sorted(changed.items()):
            # An agent's surveys, evaluations and coaching also change their team's figures.
            agents = sorted({a for s, a, _ in keys if s == Scope.AGENT})
            teams = await repository.agent_teams(conn, tenant, agents) if agents else {}
            keys |= {(Scope.TEAM.value, teams[a], w) for s, a, w in list(keys) if s == Scope.AGENT and a in teams}
            ordered = sorted(keys)
            await repository.record_changes(conn, tenant, [k for k in ordered if k[0] != Scope.AGENT])
            await repository.announce(conn, tenant, ordered)


class Snapshots:
    """Publishes what batches changed: a ``kpi.snapshot.v1`` per team, queue and tenant key, and the
    alerts of targets crossed on today's figures.

    It works from the keys the projection noted and runs about once a second, so a key that a run of
    batches changed is published once, and the batches never wait for it.
    """

    def __init__(self, pool: Callable[[], asyncpg.Pool], enqueue: Enqueue, default_policy: TenantPolicy,
                 observer: Observer | None = None) -> None:
        self.pool = pool
        self.enqueue = enqueue
        self.default_policy = default_policy
        self.observer = observer

    async def publish(self) -> int:
        """Publish every key noted so far; returns how many (0 while another replica is at it)."""
        async with self.pool().acquire() as conn, conn.transaction():
            changed = await repository.take_changes(conn)
            if not changed:
                return 0
            stored = await repository.policies(conn, changed)
            for tenant, keys in sorted(changed.items()):
                await self._publish(conn, tenant, sorted(keys), stored.get(tenant, self.default_policy))
        return sum(len(keys) for keys in changed.values())

    async def _publish(self, conn: asyncpg.Connection, tenant: str, keys: list[ScopeKey],
                       policy: TenantPolicy) -> None:
        now = datetime.now(UTC)
        today = now.astimezone(ZoneInfo(policy.time_zone)).date()
        for row in await repository.find_keys(conn, tenant, keys, policy):
            shown = view(row, policy.min_sample, policy, today)
            # Snapshots carry teams, queues and the tenant; a person's own figures stay behind the API.
            await self.enqueue(conn, new_event("kpi.snapshot.v1", tenant, KpiSnapshot(
                scope=shown.scope, scope_id=shown.scope_id, window=shown.window,
                figures=snapshot_figures(shown.figures), as_of=now), source=SOURCE))
            if shown.window == day_key(today):
                await self._alerts(conn, tenant, shown, policy, now)
                if self.observer is not None:
                    self.observer.shown(tenant, shown)

    async def _alerts(self, conn: asyncpg.Connection, tenant: str, shown: ScopeFigures, policy: TenantPolicy,
                      now: datetime) -> None:
        targets = [t for t in policy.targets if t.scope == shown.scope and t.kpi in shown.figures]
        if not targets:
            return
        current = await repository.alert_levels(conn, tenant, [(t.kpi, shown.scope.value, shown.scope_id)
                                                                for t in targets])
        for target in targets:
            key = (target.kpi, shown.scope.value, shown.scope_id)
            before = AlertLevel(current[key]) if key in current else None
            value = shown.figures[target.kpi]
            after = next_level(value, target, before)
            if after is None or after == before:
                continue
            await repository.set_alert_level(conn, tenant, key, after.value)
            line = target.alert if after is AlertLevel.ALERT else target.warning
            await self.enqueue(conn, new_event("kpi.alert.raised.v1", tenant, KpiAlertRaised(
                alert_id=uuid.uuid4().hex, kpi=target.kpi, scope=shown.scope, scope_id=shown.scope_id, level=after,
                value=value, threshold=line, raised_at=now), source=SOURCE))


class Retention:
    """Keeps the stored state bounded: event ids leave the inbox after the dedupe horizon, 15-minute
    windows are deleted after their retention (None: kept)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], inbox_horizon: timedelta,
                 quarter_retention: timedelta | None) -> None:
        self.pool = pool
        self.inbox_horizon = inbox_horizon
        self.quarter_retention = quarter_retention

    async def sweep(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete what is past its time; returns the inbox rows and the 15-minute windows deleted."""
        now = now or datetime.now(UTC)
        async with self.pool().acquire() as conn:
            ids = await repository.forget_deliveries(conn, self.inbox_horizon)
            quarters = 0
            if self.quarter_retention is not None:
                quarters = await repository.forget_quarters(conn, (now - self.quarter_retention).date())
        return ids, quarters


def snapshot_figures(shown: dict[str, Decimal | None]) -> dict[str, Decimal | None]:
    """The figures a snapshot carries: all of them up to the contract's limit, survey dimensions last.

    Tenants name their own survey dimensions, so their number has no bound; a snapshot that broke the
    contract would stop the projection.
    """
    core = {k: v for k, v in shown.items() if not k.startswith("dim.")}
    room = max(0, SNAPSHOT_FIGURES - len(core))
    return core | dict(sorted((k, v) for k, v in shown.items() if k.startswith("dim."))[:room])


def event_time(event: CloudEvent) -> datetime:
    """When the event happened in the contact centre (its window time), falling back to the envelope's."""
    for name in ("occurred_at", "submitted_at", "resolved_at", "held_at", "completed_at", "assigned_at",
                 "released_at", "acknowledged_at", "disputed_at"):
        value = getattr(event.data, name, None)
        if isinstance(value, datetime):
            return value
    return event.time


def compute(events: Iterable[CloudEvent], policy: TenantPolicy, as_of: datetime) -> list[dict[str, Any]]:
    """Every scope's figures in every window, from events alone: the projection's fold, in memory.

    Events after ``as_of`` are left out, duplicates (same id) count once, and ``30d:`` windows end on
    ``as_of``'s day. Live figures, and the time of each agent's current state, are as of ``as_of``.
    """
    fold = Fold(lambda _tenant: policy)
    seen: set[str] = set()
    for event in sorted(events, key=lambda e: (event_time(e), e.id)):
        if event.id in seen or event_time(event) > as_of:
            continue
        seen.add(event.id)
        fold.apply(event)
    fold.count_current_states(as_of)
    stored: dict[Key, Counters] = {k: v for k, v in fold.deltas.items() if any(v.values())}
    today = as_of.astimezone(ZoneInfo(policy.time_zone)).date()
    out: list[dict[str, Any]] = []
    for tenant in sorted({k[0] for k in stored}):
        members: dict[str, list[str]] = {}
        for (t, kind, agent), state in sorted(fold.entities.items()):
            if t == tenant and kind == "agent" and state.get("team_id"):
                members.setdefault(state["team_id"], []).append(agent)
        wanted: list[ScopeKey] = sorted({(s, i, w) for t, s, i, w in stored if t == tenant})
        wanted += [(Scope.TEAM.value, team, w) for team in sorted(members) for s, i, w in list(wanted)
                   if s == Scope.AGENT and i in members[team]]
        scopes = sorted({(s, i) for s, i, _ in wanted})
        wanted += [(s, i, f"30d:{today.isoformat()}") for s, i in scopes]
        rows = assemble(wanted, _lookup(stored, tenant, as_of), members)
        for row in rows:
            shown = view(row, policy.min_sample, policy, today)
            out.append({"tenant_id": tenant, **shown.model_dump(mode="json", exclude={"updated_at"})})
    return out


def _lookup(stored: dict[Key, Counters], tenant: str, as_of: datetime
            ) -> Callable[[ScopeKey], tuple[Counters, datetime] | None]:
    def find(key: ScopeKey) -> tuple[Counters, datetime] | None:
        sums = stored.get((tenant, *key))
        return (sums, as_of) if sums is not None else None

    return find


Figures = dict[str, Decimal | None]


class OwnView(BaseModel):
    """An agent's own figures beside their team's (the team average: its summed ratios)."""

    agent_id: str
    team_id: str | None
    window: str
    own: ScopeFigures | None
    team: ScopeFigures | None
    visibility: str


class LeaderboardEntry(BaseModel):
    agent_id: str
    display_name: str | None
    figures: dict[str, Decimal | None]


class Leaderboard(BaseModel):
    team_id: str
    window: str
    entries: list[LeaderboardEntry]


class VisibilityDecision(BaseModel):
    team_id: str
    visibility: str
    decided_by: str
    decided_at: datetime | None
    decision: str


DEFAULT_VISIBILITY = "self_vs_team"


class FigureQueries:
    """Reads on a person's behalf: the tenant is the caller's, rows pass row-level security, and
    :mod:`coachline_kpi.domain.access` decides which scopes the caller sees."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], default_policy: TenantPolicy) -> None:
        self.pool = pool
        self.default_policy = default_policy

    async def policy(self, tenant_id: str) -> TenantPolicy:
        async with tenant_transaction(self.pool(), tenant_id) as conn:
            return (await repository.policies(conn, [tenant_id])).get(tenant_id, self.default_policy)

    async def set_policy(self, caller: Principal, policy: TenantPolicy) -> None:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            await repository.save_policy(conn, caller.tenant_id, policy, caller.subject)

    async def _shown(self, conn: asyncpg.Connection, caller: Principal, rows: list[dict[str, Any]],
                     policy: TenantPolicy) -> list[ScopeFigures]:
        agents = sorted({r["scope_id"] for r in rows if r["scope"] == Scope.AGENT})
        teams = await repository.agent_teams(conn, caller.tenant_id, agents) if agents else {}
        today = datetime.now(ZoneInfo(policy.time_zone)).date()
        return [view(r, policy.min_sample, policy, today) for r in rows
                if may_see(caller, r["scope"], r["scope_id"], teams.get(r["scope_id"]))]

    async def _policy(self, conn: asyncpg.Connection, tenant_id: str) -> TenantPolicy:
        return (await repository.policies(conn, [tenant_id])).get(tenant_id, self.default_policy)

    async def find(self, caller: Principal, scope: Scope | None, scope_id: str | None,
                   window: str | None) -> tuple[list[ScopeFigures], TenantPolicy]:
        tenant = caller.tenant_id
        async with tenant_transaction(self.pool(), tenant) as conn:
            policy = await self._policy(conn, tenant)
            if scope is None and not sees_everything(caller):
                # Ask for what the caller may see, so other people's rows never crowd out their own.
                wanted: list[tuple[str | None, str | None]] = [(Scope.TENANT, None), (Scope.QUEUE, None)]
                wanted += [(Scope.TEAM, t) for t in sorted(caller.teams)]
                if caller.agent_id:
                    wanted.append((Scope.AGENT, caller.agent_id))
                if caller.has(*LEADS):
                    members = await repository.team_members(conn, tenant, sorted(caller.teams))
                    wanted += [(Scope.AGENT, a) for team in members.values() for a in team]
                rows = [r for s, i in wanted for r in await repository.find(conn, tenant, s, i, window, policy)]
            else:
                rows = await repository.find(conn, tenant, scope.value if scope else None, scope_id, window,
                                             policy)
            return await self._shown(conn, caller, rows, policy), policy

    async def keys(self, caller: Principal, keys: Sequence[Sequence[str]]) -> list[ScopeFigures]:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            policy = await self._policy(conn, caller.tenant_id)
            rows = await repository.find_keys(conn, caller.tenant_id, keys, policy)
            return await self._shown(conn, caller, rows, policy)

    async def _check(self, conn: asyncpg.Connection, caller: Principal, scope: Scope, scope_id: str) -> None:
        team = None
        if scope == Scope.AGENT:
            team = (await repository.agent_teams(conn, caller.tenant_id, [scope_id])).get(scope_id)
        if not may_see(caller, scope, scope_id, team):
            raise Forbidden(f"You may not see the figures of this {scope.value}.")

    async def series(self, caller: Principal, scope: Scope, scope_id: str, kind: str, since: str,
                     until: str) -> tuple[list[ScopeFigures], TenantPolicy]:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            await self._check(conn, caller, scope, scope_id)
            policy = await self._policy(conn, caller.tenant_id)
            rows = await repository.series(conn, caller.tenant_id, scope.value, scope_id, kind, since, until,
                                           policy)
            return await self._shown(conn, caller, rows, policy), policy

    async def live(self, caller: Principal, scope: Scope, scope_id: str, now: datetime) -> Figures:
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            await self._check(conn, caller, scope, scope_id)
            contacts, agents = await repository.live_state(conn, caller.tenant_id)
        return live_figures(scope, scope_id, contacts, agents, now)

    async def own(self, caller: Principal, window: str) -> OwnView:
        if not caller.agent_id:
            raise Forbidden("Only an agent has their own figures; the token names no agent_id.")
        tenant, agent = caller.tenant_id, caller.agent_id
        async with tenant_transaction(self.pool(), tenant) as conn:
            policy = await self._policy(conn, tenant)
            team = (await repository.agent_teams(conn, tenant, [agent])).get(agent)
            team = team or next(iter(sorted(caller.teams)), None)
            keys = [(Scope.AGENT.value, agent, window)] + ([(Scope.TEAM.value, team, window)] if team else [])
            rows = {r["scope"]: r for r in await repository.find_keys(conn, tenant, keys, policy)}
            decided = await repository.visibility(conn, tenant, team) if team else None
        today = datetime.now(ZoneInfo(policy.time_zone)).date()
        shown = {s: view(r, policy.min_sample, policy, today) for s, r in rows.items()}
        return OwnView(agent_id=agent, team_id=team, window=window, own=shown.get(Scope.AGENT),
                       team=shown.get(Scope.TEAM), visibility=decided["visibility"] if decided else DEFAULT_VISIBILITY)

    async def leaderboard(self, caller: Principal, team_id: str, window: str) -> Leaderboard:
        if not may_see_team_members(caller, team_id):
            raise Forbidden("Only the team's members and leads see its leaderboard.")
        tenant = caller.tenant_id
        async with tenant_transaction(self.pool(), tenant) as conn:
            decided = await repository.visibility(conn, tenant, team_id)
            if (decided["visibility"] if decided else DEFAULT_VISIBILITY) != "open":
                raise Forbidden("The team has not decided to show everyone's figures (visibility is self_vs_team).")
            policy = await self._policy(conn, tenant)
            rows = await repository.team_agents_sums(conn, tenant, team_id, window, policy)
            names = await repository.display_names(conn, tenant, [r["scope_id"] for r in rows])
        entries = [LeaderboardEntry(agent_id=r["scope_id"], display_name=names.get(r["scope_id"]),
                                    figures=figures(r["sums"], policy, agents=1)) for r in rows]
        return Leaderboard(team_id=team_id, window=window, entries=entries)

    async def visibility(self, caller: Principal, team_id: str) -> list[VisibilityDecision]:
        if not may_see_team_members(caller, team_id):
            raise Forbidden("Only the team's members and leads see its decisions.")
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            rows = await repository.visibility_history(conn, caller.tenant_id, team_id)
        history = [VisibilityDecision(team_id=team_id, **dict(r)) for r in rows]
        return history or [VisibilityDecision(team_id=team_id, visibility=DEFAULT_VISIBILITY, decided_by="default",
                                              decided_at=None, decision="No decision recorded.")]

    async def decide(self, caller: Principal, team_id: str, visibility: str, decision: str) -> VisibilityDecision:
        if not may_decide_visibility(caller, team_id):
            raise Forbidden("Only the team's lead records the team's decision.")
        async with tenant_transaction(self.pool(), caller.tenant_id) as conn:
            row = await repository.record_visibility(conn, caller.tenant_id, team_id, visibility, caller.subject,
                                                     decision)
        return VisibilityDecision(team_id=team_id, **dict(row))


class Forbidden(Exception):
    """The caller may not see or do this; the API answers 403."""
