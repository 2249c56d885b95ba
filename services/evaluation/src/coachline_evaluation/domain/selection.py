"""Sampling policies and the pure, seeded selection of interactions to evaluate.

:func:`select` is deterministic for a given policy, pool, period and seed: candidates are put in a
canonical order first, and every random choice comes from one ``random.Random(seed)``. Recording
the seed with the run makes each selection auditable and reproducible.

Per agent, in order:

1. Exclusions drop contacts that are too short, mystery-shop contacts and contacts already evaluated.
2. The quota is ``count``, or ``ceil(share * available)`` but at least ``minimum``; never more than
   the agent has.
3. Targeted contacts (detractor or low CSAT, long handle time, transfers, repeat contacts, an
   agent's first days) fill up to ``targeting.max_share`` of the quota, in random order.
4. The rest is drawn at random, stratified: each stratum (channel, queue, time of day, day, as the
   policy says) gets a share of the remaining quota proportional to its size (largest remainder, ties by
   the seed), then contacts are drawn at random within it.

Picks are then spread evenly over as many working days as the period has (from ``work_start``), and
across evaluators (least loaded first), without exceeding an evaluator's daily cap; a pick no
evaluator has room for stays unassigned. Stratifying by ``day`` spreads the picked interactions
themselves evenly over the period's days.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from coachline.contracts.base import Identifier, Seconds, ShortText, TimeZoneName
from coachline_evaluation.domain.sampling import PoolEntry

Dimension = Literal["channel", "queue", "daypart", "day"]


class Quota(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: Annotated[int, Field(ge=1, le=1000)] | None = None
    share: Annotated[Decimal, Field(gt=0, le=1, max_digits=5, decimal_places=4)] | None = None
    minimum: Annotated[int, Field(ge=0, le=1000)] = 0

    @model_validator(mode="after")
    def _one(self) -> Quota:
        if (self.count is None) == (self.share is None):
            raise ValueError("give either count or share")
        return self

    def for_pool(self, available: int) -> int:
        wanted = self.count if self.count is not None else max(self.minimum, math.ceil(self.share * available))  # type: ignore[operator]
        return min(wanted, available)


class TargetRule(StrEnum):
    DETRACTOR = "detractor"
    LOW_CSAT = "low_csat"
    LONG_HANDLE = "long_handle"
    TRANSFERRED = "transferred"
    REPEAT_CONTACT = "repeat_contact"
    NEW_AGENT = "new_agent"


class Targeting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[TargetRule] = Field(default_factory=list, max_length=len(TargetRule))
    max_share: Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)] = Decimal("0.5")
    detractor_max_nps: Annotated[int, Field(ge=0, le=10)] = 6
    low_csat_max: Annotated[int, Field(ge=1, le=5)] = 2
    long_handle_s: Seconds = Decimal(900)
    repeat_within_days: Annotated[int, Field(ge=1, le=90)] = 7
    new_agent_days: Annotated[int, Field(ge=1, le=365)] = 30


class Exclusions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_handle_s: Seconds = Decimal(30)
    mystery_shops: bool = True
    already_evaluated: bool = True


class SamplingPolicyDefinition(BaseModel):
    """What an admin writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ShortText
    scorecard_id: Identifier
    quota: Quota
    stratify_by: list[Dimension] = Field(default_factory=list, max_length=4)
    targeting: Targeting = Targeting()
    exclusions: Exclusions = Exclusions()
    evaluator_ids: list[Identifier] = Field(min_length=1, max_length=500)
    cap_per_evaluator_per_day: Annotated[int, Field(ge=1, le=1000)] = 20
    due_in_days: Annotated[int, Field(ge=0, le=60)] = 2
    time_zone: TimeZoneName = "UTC"
    cadence: Literal["manual", "weekly"] = Field(
        default="manual", description="weekly: the service samples each past week on its own, once.")


class SamplingPolicy(SamplingPolicyDefinition):
    tenant_id: str
    policy_id: str


class Candidate(BaseModel):
    """A pool entry with what targeting needs to know about it."""

    model_config = ConfigDict(frozen=True)

    entry: PoolEntry
    csat: int | None = None
    nps: int | None = None
    agent_started_on: date | None = None
    mystery_shop: bool = False
    evaluated: bool = False


class Pick(BaseModel):
    model_config = ConfigDict(frozen=True)

    interaction_id: str
    agent_id: str
    team_id: str | None
    reason: str
    stratum: str
    evaluator_id: str | None = None
    planned_on: date | None = None
    due_on: date | None = None


class Selection(BaseModel):
    model_config = ConfigDict(frozen=True)

    seed: str
    period_start: date
    period_end: date
    work_start: date
    picks: list[Pick]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unassigned(self) -> int:
        """Picks no evaluator had room for within the period and the daily caps."""
        return sum(1 for p in self.picks if p.evaluator_id is None)


def daypart(moment: datetime, time_zone: str) -> str:
    hour = moment.astimezone(ZoneInfo(time_zone)).hour
    return "night" if hour < 6 else "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"


def stratum_of(candidate: Candidate, dimensions: Sequence[Dimension], time_zone: str) -> str:
    entry = candidate.entry
    local = entry.completed_at.astimezone(ZoneInfo(time_zone))
    values = {"channel": entry.channel.value, "queue": entry.queue_id, "daypart": daypart(local, time_zone),
              "day": local.date().isoformat()}
    return "/".join(values[d] for d in dimensions) or "all"


def targeted_by(candidate: Candidate, targeting: Targeting, repeat: bool) -> TargetRule | None:
    """The first of the policy's targeted rules the candidate meets, in the policy's order."""
    entry = candidate.entry
    for rule in targeting.rules:
        hit = {
            TargetRule.DETRACTOR: candidate.nps is not None and candidate.nps <= targeting.detractor_max_nps,
            TargetRule.LOW_CSAT: candidate.csat is not None and candidate.csat <= targeting.low_csat_max,
            TargetRule.LONG_HANDLE: entry.handle_s >= targeting.long_handle_s,
            TargetRule.TRANSFERRED: entry.transferred,
            TargetRule.REPEAT_CONTACT: repeat,
            TargetRule.NEW_AGENT: candidate.agent_started_on is not None
            and entry.completed_at.date() < candidate.agent_started_on + timedelta(days=targeting.new_agent_days),
        }[rule]
        if hit:
            return rule
    return None


def _repeats(candidates: Sequence[Candidate], within_days: int) -> set[tuple[str, str]]:
    """(interaction, agent) of contacts whose customer had contacted the centre within the window before."""
    by_customer: dict[str, list[PoolEntry]] = defaultdict(list)
    for c in candidates:
        if c.entry.customer_ref:
            by_customer[c.entry.customer_ref].append(c.entry)
    found: set[tuple[str, str]] = set()
    window = timedelta(days=within_days)
    for entries in by_customer.values():
        entries.sort(key=lambda e: e.completed_at)
        for earlier, later in pairwise(entries):
            if later.interaction_id != earlier.interaction_id and later.completed_at - earlier.completed_at <= window:
                found.add((later.interaction_id, later.agent_id))
    return found


def allocate(sizes: dict[str, int], total: int, rng: random.Random) -> dict[str, int]:
    """Split ``total`` over strata in proportion to ``sizes`` (largest remainder; ties broken by ``rng``)."""
    available = sum(sizes.values())
    total = min(total, available)
    if available == 0 or total == 0:
        return dict.fromkeys(sizes, 0)
    exact = {k: total * n / available for k, n in sizes.items()}
    shares = {k: min(sizes[k], math.floor(v)) for k, v in exact.items()}
    order = sorted(sizes, key=lambda k: (-(exact[k] - math.floor(exact[k])), rng.random()))
    left = total - sum(shares.values())
    while left > 0:
        for k in order:
            if left and shares[k] < sizes[k]:
                shares[k] += 1
                left -= 1
    return shares


def _choose_for_agent(policy: SamplingPolicyDefinition, candidates: list[Candidate], repeats: set[tuple[str, str]],
                      rng: random.Random) -> list[Pick]:
    quota = policy.quota.for_pool(len(candidates))
    picks: list[Pick] = []
    targeted = [(c, rule) for c in candidates
                if (rule := targeted_by(c, policy.targeting, (c.entry.interaction_id, c.entry.agent_id) in repeats))]
    rng.shuffle(targeted)
    chosen: set[str] = set()
    for candidate, rule in targeted[: math.floor(quota * policy.targeting.max_share)]:
        chosen.add(candidate.entry.interaction_id)
        picks.append(_pick(candidate, f"targeted:{rule.value}", policy))
    rest = [c for c in candidates if c.entry.interaction_id not in chosen]
    strata: dict[str, list[Candidate]] = defaultdict(list)
    for c in rest:
        strata[stratum_of(c, policy.stratify_by, policy.time_zone)].append(c)
    shares = allocate({k: len(v) for k, v in sorted(strata.items())}, quota - len(picks), rng)
    for key in sorted(strata):
        for candidate in rng.sample(strata[key], shares[key]):
            picks.append(_pick(candidate, "random", policy))
    return picks


def _pick(candidate: Candidate, reason: str, policy: SamplingPolicyDefinition) -> Pick:
    entry = candidate.entry
    return Pick(interaction_id=entry.interaction_id, agent_id=entry.agent_id, team_id=entry.team_id, reason=reason,
                stratum=stratum_of(candidate, policy.stratify_by, policy.time_zone))


def _schedule(policy: SamplingPolicyDefinition, picks: list[Pick], start: date, end: date,
              rng: random.Random) -> list[Pick]:
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    order = list(picks)
    rng.shuffle(order)
    evaluators = list(policy.evaluator_ids)
    rng.shuffle(evaluators)
    load: dict[tuple[str, date], int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    scheduled: list[Pick] = []
    for i, pick in enumerate(order):
        home = i * len(days) // len(order)
        # The even-spread day first, then later days, then earlier ones, until someone has room.
        for day in days[home:] + days[:home][::-1]:
            free = [e for e in evaluators if load[(e, day)] < policy.cap_per_evaluator_per_day]
            if free:
                evaluator = min(free, key=lambda e: (total[e], load[(e, day)]))
                load[(evaluator, day)] += 1
                total[evaluator] += 1
                scheduled.append(pick.model_copy(update={
                    "evaluator_id": evaluator, "planned_on": day,
                    "due_on": day + timedelta(days=policy.due_in_days)}))
                break
        else:
            scheduled.append(pick)
    return sorted(scheduled, key=lambda p: (p.agent_id, p.interaction_id))


def select(policy: SamplingPolicyDefinition, candidates: Sequence[Candidate], period_start: date, period_end: date,
           seed: str, work_start: date | None = None) -> Selection:
    """Choose the period's interactions and schedule their evaluations; see the module for the rules.

    The work is spread over as many days as the period has, from ``work_start`` (the period's own
    first day when not given): a past week is typically evaluated during the current one.
    """
    if period_end <= period_start:
        raise ValueError("the period must end after it starts")
    rng = random.Random(seed)
    ordered = sorted(candidates, key=lambda c: (c.entry.agent_id, c.entry.interaction_id))
    excl = policy.exclusions
    eligible = [c for c in ordered
                if c.entry.handle_s >= excl.min_handle_s
                and not (excl.mystery_shops and c.mystery_shop)
                and not (excl.already_evaluated and c.evaluated)]
    repeats = _repeats(ordered, policy.targeting.repeat_within_days)
    by_agent: dict[str, list[Candidate]] = defaultdict(list)
    for c in eligible:
        by_agent[c.entry.agent_id].append(c)
    picks: list[Pick] = []
    for agent_id in sorted(by_agent):
        picks.extend(_choose_for_agent(policy, by_agent[agent_id], repeats, rng))
    first = work_start or period_start
    scheduled = _schedule(policy, picks, first, first + (period_end - period_start), rng) if picks else []
    return Selection(seed=seed, period_start=period_start, period_end=period_end, work_start=first, picks=scheduled)
