"""The simulation: a discrete-event model of each tenant's centre, deterministic for a given seed.

Contacts arrive per queue as a Poisson process following the intraday profile (with a day's forecast
error on top); each waits in its queue until an agent of the queue's team is free or its patience runs
out. Answered contacts are talked (log-normal), sometimes held, sometimes transferred to another
queue (they enter that queue again, same interaction id), then wrapped up after log-normal
after-contact work with a disposition, the agent's view of resolution, and a sale where eligible.
Agents work contiguous shifts cut from the Erlang C staffing of their team, take breaks and a lunch,
and move through available → on contact → after-contact work. Some customers answer a survey; some
call again (more often when their need was not resolved, or after abandoning), which is what FCR
counts.

All times are integer milliseconds since the epoch, so durations in events and in the ground truth
are the same exact decimals.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from coachline.contracts.agent_states import AgentState, AgentStateChanged
from coachline.contracts.interactions import (
    Channel,
    InteractionAbandoned,
    InteractionAnswered,
    InteractionEnded,
    InteractionHeld,
    InteractionOffered,
    InteractionResumed,
    InteractionTransferred,
    InteractionWrappedUp,
)
from coachline.contracts.registry import EVENT_TYPES
from coachline.contracts.roster import AgentRostered, QueueRostered, TeamRostered
from coachline.contracts.surveys import SurveyAnswered
from coachline.envelope import CloudEvent, deterministic_id
from coachline.sim.centre import (
    INTERVAL_S,
    INTERVALS_PER_DAY,
    Centre,
    QueueSpec,
    TenantSpec,
    interval_rate,
    team_requirement,
)

PLATFORM_SOURCE = "coachline-sim"
INTAKE_SOURCE = "generic"
SHIFT_INTERVALS = 8 * 4
SURVEY_DIMENSIONS = ("friendliness", "knowledge", "engagement")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def stamp(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def seconds(duration_ms: int) -> Decimal:
    return Decimal(duration_ms) / 1000


@dataclass(frozen=True)
class SimEvent:
    """One event the simulated platform reports, with its own id (``source_id``) as a platform gives it."""

    at_ms: int
    seq: int
    tenant_id: str
    type: str
    source_id: str
    data: BaseModel

    @property
    def event_id(self) -> str:
        """A stable id for the event when written straight to Kafka (a rerun with the same seed repeats it)."""
        return deterministic_id(self.tenant_id, INTAKE_SOURCE, self.source_id, self.type)

    def structured(self) -> dict[str, Any]:
        """The event in the generic source's format: a CloudEvent in structured JSON mode."""
        return {"specversion": "1.0", "id": self.source_id, "source": PLATFORM_SOURCE, "type": self.type,
                "tenantid": self.tenant_id, "data": self.data.model_dump(mode="json", exclude_none=True)}

    def cloud_event(self) -> CloudEvent:
        """The canonical event as intake would publish it, for writing straight to Kafka."""
        return CloudEvent(id=self.event_id, source=f"coachline/intake/{INTAKE_SOURCE}", type=self.type,
                          tenant_id=self.tenant_id, time=stamp(self.at_ms), subject=None, data=self.data)

    @property
    def topic(self) -> str:
        return EVENT_TYPES[self.type].topic


@dataclass
class Leg:
    """One agent's handling of a contact."""

    agent_id: str
    team_id: str
    answered_ms: int
    talk_ms: int
    hold_ms: int
    acw_ms: int
    transferred: bool
    disposition: str
    resolved: bool
    sale_eligible: bool
    sale_made: bool
    sale_value: Decimal | None

    @property
    def ended_ms(self) -> int:
        return self.answered_ms + self.talk_ms + self.hold_ms

    @property
    def wrapped_ms(self) -> int:
        return self.ended_ms + self.acw_ms


@dataclass
class QueueEntry:
    """A contact entering a queue: offered, then answered (with a leg) or abandoned."""

    tenant_id: str
    interaction_id: str
    queue_id: str
    channel: Channel
    offered_ms: int
    customer_ref: str | None
    patience_ms: int | None
    transferred_in: bool = False
    answered_ms: int | None = None
    abandoned_ms: int | None = None
    leg: Leg | None = None

    @property
    def wait_ms(self) -> int | None:
        end = self.answered_ms if self.answered_ms is not None else self.abandoned_ms
        return None if end is None else end - self.offered_ms


@dataclass(frozen=True)
class StateSpan:
    """An agent in one state from ``start_ms`` until ``end_ms`` (None: still in it when the run ended)."""

    tenant_id: str
    agent_id: str
    team_id: str
    state: AgentState
    start_ms: int
    end_ms: int | None


@dataclass(frozen=True)
class SurveyRecord:
    tenant_id: str
    interaction_id: str
    queue_id: str
    agent_id: str
    team_id: str
    answered_ms: int
    csat: int | None
    nps: int | None
    ces: int | None
    resolved: bool | None
    dimensions: dict[str, int]


@dataclass
class Outcome:
    """What a run produced: the events in time order and the records the ground truth is computed from."""

    centre: Centre
    start_ms: int
    end_ms: int
    seed: int
    events: list[SimEvent] = field(default_factory=list)
    entries: list[QueueEntry] = field(default_factory=list)
    spans: list[StateSpan] = field(default_factory=list)
    surveys: list[SurveyRecord] = field(default_factory=list)
    roster: list[SimEvent] = field(default_factory=list)


@dataclass
class _Agent:
    agent_id: str
    team_id: str
    skills: tuple[str, ...]
    quality: float
    salesmanship: float
    shifts: list[tuple[int, int, list[tuple[int, int, str]]]] = field(default_factory=list)
    state: AgentState = AgentState.LOGGED_OUT
    state_since: int = 0
    shift_end: int | None = None
    breaks: deque[tuple[int, int, str]] = field(default_factory=deque)
    changes: int = 0


class _TenantRun:
    """The event loop of one tenant's centre."""

    def __init__(self, tenant: TenantSpec, rng: random.Random, start_ms: int, end_ms: int, out: Outcome) -> None:
        self.t = tenant
        self.rng = rng
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.out = out
        self.zone = ZoneInfo(tenant.time_zone)
        self.heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self.seq = 0
        self.contacts = 0
        self.customers = 0
        self.waiting: dict[str, deque[QueueEntry]] = {q.queue_id: deque() for q in tenant.queues}
        self.idle: dict[str, OrderedDict[str, _Agent]] = {team: OrderedDict() for team in tenant.teams}
        self.team_queues = {team: tuple(q.queue_id for q in tenant.queues if q.team_id == team)
                            for team in tenant.teams}
        self.agents: list[_Agent] = []
        self.by_id: dict[str, _Agent] = {}

    # -- plumbing --------------------------------------------------------------------------------

    def at(self, when: int, action: Callable[..., None], *args: Any) -> None:
        """Run ``action(when, *args)`` at ``when``, unless that is after the end of the run."""
        if when < self.end_ms:
            self.seq += 1
            heapq.heappush(self.heap, (when, self.seq, action, args))

    def emit(self, when: int, type_name: str, source_id: str, data: BaseModel) -> None:
        self.out.events.append(SimEvent(when, len(self.out.events), self.t.tenant_id, type_name, source_id, data))

    def lognormal(self, mean: float, sigma: float) -> float:
        # Parameterised by the mean, so configured handle times are the averages Erlang C staffs for.
        return self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)

    def run(self) -> None:
        self.plan_days()
        while self.heap:
            when, _, action, args = heapq.heappop(self.heap)
            action(when, *args)
        for agent in self.agents:
            if agent.state is not AgentState.LOGGED_OUT or agent.state_since > self.start_ms:
                self.out.spans.append(StateSpan(self.t.tenant_id, agent.agent_id, agent.team_id, agent.state,
                                                agent.state_since, None))

    # -- planning: volumes and shifts --------------------------------------------------------------

    def local_days(self) -> Iterator[tuple[date, int]]:
        day = stamp(self.start_ms).astimezone(self.zone).date()
        while True:
            midnight = ms(datetime.combine(day, datetime.min.time(), self.zone))
            if midnight >= self.end_ms:
                return
            yield day, midnight
            day += timedelta(days=1)

    def plan_days(self) -> None:
        teams: dict[str, list[_Agent]] = {team: [] for team in self.t.teams}
        for day, midnight in self.local_days():
            weekday = day.weekday()
            # A day's volume misses its forecast by a few percent, so service level moves around its target.
            actual = self.rng.lognormvariate(0, self.t.forecast_error)
            for queue in self.t.queues:
                for interval in range(INTERVALS_PER_DAY):
                    rate = interval_rate(queue, interval, weekday) * actual
                    start = midnight + interval * INTERVAL_S * 1000
                    self.plan_arrivals(queue, rate, start, start + INTERVAL_S * 1000)
            for team in self.t.teams:
                need = [team_requirement(self.t, team, i, weekday) for i in range(INTERVALS_PER_DAY)]
                self.plan_shifts(teams[team], team, need, midnight)
        for queue in self.t.queues:
            self.emit(self.start_ms, "cc.roster.queue.v1", f"roster-{queue.queue_id}",
                      QueueRostered(queue_id=queue.queue_id, name=queue.name, channel=queue.channel,
                                    time_zone=self.t.time_zone, occurred_at=stamp(self.start_ms)))

    def plan_arrivals(self, queue: QueueSpec, rate_per_s: float, start: int, end: int) -> None:
        if rate_per_s <= 0:
            return
        at = start + self.rng.expovariate(rate_per_s) * 1000
        while at < end:
            # The first local day is planned from its midnight; the run itself begins at its start.
            if at >= self.start_ms:
                self.at(int(at), self.arrive, queue, None)
            at += self.rng.expovariate(rate_per_s) * 1000

    def plan_shifts(self, roster: list[_Agent], team: str, need: list[int], midnight: int) -> None:
        """Cover the day's requirement with shifts of at most eight hours, each worked by one agent."""
        coverage = [0] * len(need)
        last = max((i for i, n in enumerate(need) if n), default=-1)
        shifts: list[tuple[int, int]] = []
        for i, required in enumerate(need):
            while coverage[i] < required:
                end = min(i + SHIFT_INTERVALS, last + 1)
                shifts.append((i, end))
                for j in range(i, end):
                    coverage[j] += 1
        while len(roster) < len(shifts):
            agent = _Agent(f"a-{team.removeprefix('t-')}-{len(roster) + 1:03d}", team, self.team_queues[team],
                           quality=self.rng.gauss(0, 0.08), salesmanship=self.rng.uniform(0.6, 1.4))
            roster.append(agent)
            self.agents.append(agent)
            self.by_id[agent.agent_id] = agent
        for agent, (first, end) in zip(roster, shifts, strict=False):
            start_ms = max(self.start_ms, midnight + first * INTERVAL_S * 1000)
            end_ms = midnight + end * INTERVAL_S * 1000
            if end_ms > start_ms:
                self.at(start_ms, self.log_in, agent, end_ms)

    def breaks_for(self, start: int, end: int) -> list[tuple[int, int, str]]:
        hours = (end - start) / 3_600_000
        plan = []
        if hours >= 4:
            plan.append((0.3, 15, "break"))
        if hours >= 6:
            plan.append((0.5, 30, "lunch"))
        if hours >= 8:
            plan.append((0.75, 15, "break"))
        return [(int(start + (end - start) * (share + self.rng.uniform(-0.05, 0.05))), minutes * 60_000, reason)
                for share, minutes, reason in plan]

    # -- agents --------------------------------------------------------------------------------------

    def change(self, now: int, agent: _Agent, state: AgentState, reason: str | None = None) -> None:
        if agent.state_since or agent.state is not AgentState.LOGGED_OUT:
            self.out.spans.append(StateSpan(self.t.tenant_id, agent.agent_id, agent.team_id, agent.state,
                                            agent.state_since, now))
        agent.state, agent.state_since = state, now
        # Back from a break (or at a shift's start) straight onto a waiting contact is two changes in one
        # millisecond; the sequence keeps their order.
        agent.changes += 1
        self.emit(now, "cc.agent.state-changed.v1", f"{agent.agent_id}-{now}-{state.value}",
                  AgentStateChanged(agent_id=agent.agent_id, team_id=agent.team_id, state=state, reason=reason,
                                    occurred_at=stamp(now), sequence=agent.changes))

    def log_in(self, now: int, agent: _Agent, end: int) -> None:
        if agent.state is not AgentState.LOGGED_OUT:
            # Still finishing yesterday's late contact; today's shift extends that presence.
            agent.shift_end = max(agent.shift_end or end, end)
            return
        if not agent.state_since:
            self.emit(now, "cc.roster.agent.v1", f"roster-{agent.agent_id}",
                      AgentRostered(agent_id=agent.agent_id, team_id=agent.team_id, skills=list(agent.skills),
                                    time_zone=self.t.time_zone, occurred_at=stamp(now)))
        agent.shift_end = end
        agent.breaks = deque(self.breaks_for(now, end))
        self.change(now, agent, AgentState.AVAILABLE, "shift start")
        self.next_for(now, agent)

    def next_for(self, now: int, agent: _Agent) -> None:
        """The agent is free: end the shift, take a due break, take the longest-waiting contact, or wait."""
        if agent.shift_end is not None and now >= agent.shift_end:
            self.idle[agent.team_id].pop(agent.agent_id, None)
            agent.shift_end = None
            self.change(now, agent, AgentState.LOGGED_OUT, "end of shift")
            return
        if agent.breaks and agent.breaks[0][0] <= now:
            _, length, reason = agent.breaks.popleft()
            self.idle[agent.team_id].pop(agent.agent_id, None)
            self.change(now, agent, AgentState.BREAK, reason)
            self.at(now + length, self.back_from_break, agent)
            return
        entry = self.oldest_waiting(agent)
        if entry is not None:
            self.idle[agent.team_id].pop(agent.agent_id, None)
            self.answer(now, entry, agent)
            return
        if agent.state is not AgentState.AVAILABLE:
            self.change(now, agent, AgentState.AVAILABLE)
        self.idle[agent.team_id][agent.agent_id] = agent
        wake = [agent.breaks[0][0]] if agent.breaks else []
        wake += [agent.shift_end] if agent.shift_end is not None else []
        if wake:
            self.at(min(wake), self.wake, agent)

    def wake(self, now: int, agent: _Agent) -> None:
        if agent.state is AgentState.AVAILABLE and agent.agent_id in self.idle[agent.team_id]:
            self.next_for(now, agent)

    def back_from_break(self, now: int, agent: _Agent) -> None:
        self.change(now, agent, AgentState.AVAILABLE, "back")
        self.next_for(now, agent)

    def oldest_waiting(self, agent: _Agent) -> QueueEntry | None:
        best: QueueEntry | None = None
        for queue_id in agent.skills:
            line = self.waiting[queue_id]
            while line and line[0].abandoned_ms is not None:
                line.popleft()
            if line and (best is None or line[0].offered_ms < best.offered_ms):
                best = line[0]
        if best is not None:
            self.waiting[best.queue_id].popleft()
        return best

    # -- contacts ------------------------------------------------------------------------------------

    def new_customer(self) -> str:
        self.customers += 1
        return f"cust-{self.customers:06d}"

    def arrive(self, now: int, queue: QueueSpec, customer: str | None, interaction_id: str | None = None) -> None:
        transferred_in = interaction_id is not None
        if interaction_id is None:
            self.contacts += 1
            interaction_id = f"{queue.channel.value}-{self.contacts:07d}"
            known = {Channel.VOICE: 0.9, Channel.CHAT: 0.7}.get(queue.channel, 1.0)
            if customer is None and self.rng.random() < known:
                customer = self.new_customer()
        patience = None if queue.patience_s is None else int(self.lognormal(queue.patience_s, 1.0) * 1000)
        entry = QueueEntry(self.t.tenant_id, interaction_id, queue.queue_id, queue.channel, now, customer, patience,
                           transferred_in=transferred_in)
        self.out.entries.append(entry)
        self.emit(now, "cc.interaction.offered.v1", f"{interaction_id}-{queue.queue_id}-offered",
                  InteractionOffered(interaction_id=interaction_id, queue_id=queue.queue_id, channel=queue.channel,
                                     occurred_at=stamp(now), customer_ref=customer))
        agent = self.longest_idle(queue.team_id)
        if agent is not None:
            self.answer(now, entry, agent)
            return
        self.waiting[queue.queue_id].append(entry)
        if patience is not None:
            self.at(now + patience, self.abandon, entry)

    def longest_idle(self, team: str) -> _Agent | None:
        idle = self.idle[team]
        if not idle:
            return None
        return idle.pop(next(iter(idle)))

    def abandon(self, now: int, entry: QueueEntry) -> None:
        if entry.answered_ms is not None:
            return
        entry.abandoned_ms = now
        queue = self.t.queue(entry.queue_id)
        self.emit(now, "cc.interaction.abandoned.v1", f"{entry.interaction_id}-{entry.queue_id}-abandoned",
                  InteractionAbandoned(interaction_id=entry.interaction_id, queue_id=entry.queue_id,
                                       channel=entry.channel, occurred_at=stamp(now),
                                       queue_wait_s=seconds(now - entry.offered_ms)))
        # Many callers who give up try again a few minutes later.
        if entry.customer_ref and self.rng.random() < 0.4:
            self.at(now + int(self.rng.uniform(120, 1800) * 1000),
                    self.arrive, queue, entry.customer_ref)

    def answer(self, now: int, entry: QueueEntry, agent: _Agent) -> None:
        queue = self.t.queue(entry.queue_id)
        entry.answered_ms = now
        talk = max(5_000, int(self.lognormal(queue.talk_s, 0.6) * 1000))
        held = queue.hold_share > 0 and self.rng.random() < queue.hold_share
        hold = max(1_000, int(self.lognormal(queue.hold_s, 0.5) * 1000)) if held else 0
        acw = max(1_000, int(self.lognormal(queue.acw_s, 0.5) * 1000))
        transferred = (queue.transfer_to is not None and not entry.transferred_in
                       and self.rng.random() < queue.transfer_share)
        resolved = not transferred and self.rng.random() < min(0.98, queue.resolve_share + agent.quality)
        eligible = not transferred and self.rng.random() < queue.sale_eligible_share
        sale = eligible and self.rng.random() < 0.25 * agent.salesmanship * (1.0 if resolved else 0.3)
        value = Decimal(f"{self.lognormal(60, 0.6):.2f}") if sale else None
        disposition = "transferred" if transferred else self.rng.choice(queue.dispositions)
        leg = Leg(agent.agent_id, agent.team_id, now, talk, hold, acw, transferred, disposition, resolved, eligible,
                  sale, value)
        entry.leg = leg
        base: dict[str, Any] = {"interaction_id": entry.interaction_id, "queue_id": entry.queue_id,
                                "channel": entry.channel}
        key = f"{entry.interaction_id}-{entry.queue_id}"
        self.change(now, agent, AgentState.ON_CONTACT)
        self.emit(now, "cc.interaction.answered.v1", f"{key}-answered",
                  InteractionAnswered(**base, occurred_at=stamp(now), agent_id=agent.agent_id, team_id=agent.team_id,
                                      queue_wait_s=seconds(now - entry.offered_ms)))
        if hold:
            held_at = now + int(talk * self.rng.uniform(0.2, 0.7))
            self.emit(held_at, "cc.interaction.held.v1", f"{key}-held",
                      InteractionHeld(**base, occurred_at=stamp(held_at), agent_id=agent.agent_id))
            self.emit(held_at + hold, "cc.interaction.resumed.v1", f"{key}-resumed",
                      InteractionResumed(**base, occurred_at=stamp(held_at + hold), agent_id=agent.agent_id,
                                         hold_s=seconds(hold)))
        self.at(leg.ended_ms, self.end, entry, agent)

    def end(self, now: int, entry: QueueEntry, agent: _Agent) -> None:
        leg = entry.leg
        assert leg is not None
        base: dict[str, Any] = {"interaction_id": entry.interaction_id, "queue_id": entry.queue_id,
                                "channel": entry.channel}
        key = f"{entry.interaction_id}-{entry.queue_id}"
        queue = self.t.queue(entry.queue_id)
        if leg.transferred and queue.transfer_to:
            self.emit(now, "cc.interaction.transferred.v1", f"{key}-transferred",
                      InteractionTransferred(**base, occurred_at=stamp(now), agent_id=agent.agent_id,
                                             team_id=agent.team_id, to_queue_id=queue.transfer_to))
            target = self.t.queue(queue.transfer_to)
            self.arrive(now, target, entry.customer_ref, entry.interaction_id)
        else:
            self.emit(now, "cc.interaction.ended.v1", f"{key}-ended",
                      InteractionEnded(**base, occurred_at=stamp(now), agent_id=agent.agent_id, team_id=agent.team_id))
        self.change(now, agent, AgentState.AFTER_CONTACT_WORK)
        self.at(leg.wrapped_ms, self.wrap_up, entry, agent)

    def wrap_up(self, now: int, entry: QueueEntry, agent: _Agent) -> None:
        leg = entry.leg
        assert leg is not None
        queue = self.t.queue(entry.queue_id)
        self.emit(now, "cc.interaction.wrapped-up.v1", f"{entry.interaction_id}-{entry.queue_id}-wrapped-up",
                  InteractionWrappedUp(
                      interaction_id=entry.interaction_id, queue_id=entry.queue_id, channel=entry.channel,
                      occurred_at=stamp(now), agent_id=agent.agent_id, team_id=agent.team_id,
                      talk_s=seconds(leg.talk_ms), hold_s=seconds(leg.hold_ms),
                      after_contact_work_s=seconds(leg.acw_ms), transferred=leg.transferred,
                      disposition=leg.disposition, resolved=leg.resolved, sale_eligible=leg.sale_eligible,
                      sale_made=leg.sale_made, sale_value=leg.sale_value, customer_ref=entry.customer_ref))
        if not leg.transferred:
            if self.rng.random() < queue.survey_share:
                delay = int(self.lognormal(20 * 60, 1.0) * 1000)
                self.at(now + delay, self.survey, entry, leg)
            repeat = 0.06 if leg.resolved else 0.45
            if entry.customer_ref and self.rng.random() < repeat:
                delay = int(min(self.lognormal(20 * 3600, 1.0), 10 * 86400) * 1000)
                self.at(now + delay, self.arrive, queue, entry.customer_ref)
        self.next_for(now, agent)

    def survey(self, now: int, entry: QueueEntry, leg: Leg) -> None:
        rng = self.rng
        agent_quality = self.by_id[leg.agent_id].quality
        wait_s = (entry.wait_ms or 0) / 1000
        mood = (0.78 if leg.resolved else 0.35) + agent_quality * 1.5 - min(wait_s / 600, 0.2)

        def scaled(top: int, low: int = 1) -> int:
            value = min(1.0, max(0.0, rng.gauss(mood, 0.18)))
            return low + round(value * (top - low))

        csat = scaled(5)
        nps = scaled(10, 0) if rng.random() < 0.8 else None
        ces = scaled(7) if rng.random() < 0.6 else None
        resolved = (leg.resolved if rng.random() < 0.9 else not leg.resolved) if rng.random() < 0.7 else None
        dimensions = {name: scaled(5) for name in SURVEY_DIMENSIONS if rng.random() < 0.5}
        self.out.surveys.append(SurveyRecord(self.t.tenant_id, entry.interaction_id, entry.queue_id, leg.agent_id,
                                             leg.team_id, now, csat, nps, ces, resolved, dimensions))
        self.emit(now, "cc.survey.answered.v1", f"{entry.interaction_id}-survey",
                  SurveyAnswered(survey_id=f"{entry.interaction_id}-s", interaction_id=entry.interaction_id,
                                 agent_id=leg.agent_id, occurred_at=stamp(now), csat=csat, nps=nps, ces=ces,
                                 resolved=resolved, dimensions=dimensions))


def simulate(centre: Centre, start: datetime, days: float = 1.0, seed: int = 1) -> Outcome:
    """Run every tenant of ``centre`` from ``start`` for ``days``; the same seed gives the same events."""
    start_ms = ms(start)
    end_ms = start_ms + int(days * 86_400_000)
    out = Outcome(centre, start_ms, end_ms, seed)
    for index, tenant in enumerate(centre.tenants):
        # A generator per tenant (seeded from the run's seed and the tenant's position) keeps one tenant's
        # events unchanged when another tenant is added.
        _TenantRun(tenant, random.Random(f"{seed}:{index}:{tenant.tenant_id}"), start_ms, end_ms, out).run()
    roster_types = {"cc.roster.agent.v1", "cc.roster.team.v1", "cc.roster.queue.v1"}
    out.roster = [e for e in out.events if e.type in roster_types]
    # Holds are written when the contact is answered; one that would fall after the run is not reported.
    out.events = sorted((e for e in out.events if e.type not in roster_types and e.at_ms < end_ms),
                        key=lambda e: (e.at_ms, e.seq))
    for tenant in centre.tenants:
        out.roster += [SimEvent(start_ms, -1, tenant.tenant_id, "cc.roster.team.v1", f"roster-{team}",
                                TeamRostered(team_id=team, name=team.removeprefix("t-").title(),
                                             time_zone=tenant.time_zone, occurred_at=stamp(start_ms)))
                       for team in tenant.teams]
    return out
