"""Sampling: quotas, even spread, reproducible seeds, stratification on a large simulated pool, targeting, caps."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachline.contracts.interactions import Channel
from coachline_evaluation.domain.sampling import PoolEntry
from coachline_evaluation.domain.selection import (
    Candidate,
    SamplingPolicyDefinition,
    allocate,
    select,
    stratum_of,
)

pytestmark = pytest.mark.unit

MONDAY = date(2026, 11, 23)
WEEK_END = MONDAY + timedelta(days=7)
QUEUES = ["billing", "sales", "support"]
CHANNELS = [Channel.VOICE, Channel.CHAT, Channel.EMAIL]


def simulated_pool(agents: int = 40, per_agent: int = 100, seed: int = 7) -> list[Candidate]:
    """A skewed pool: mostly voice, billing heavy, busy mornings, a few detractors, short and shop contacts."""
    rng = random.Random(seed)
    pool = []
    for a in range(agents):
        for i in range(per_agent):
            at = datetime(2026, 11, 23, tzinfo=UTC) + timedelta(days=rng.randrange(7),
                                                                hours=rng.choices(range(24), weights=[
                                                                    1] * 6 + [8] * 6 + [5] * 6 + [2] * 6)[0])
            entry = PoolEntry(
                tenant_id="acme", interaction_id=f"c-{a}-{i}", agent_id=f"a-{a:02d}", team_id=f"t-{a % 4}",
                queue_id=rng.choices(QUEUES, weights=[6, 3, 1])[0],
                channel=rng.choices(CHANNELS, weights=[7, 2, 1])[0], completed_at=at,
                talk_s=Decimal(rng.randrange(10, 1200)), hold_s=Decimal(0), after_contact_work_s=Decimal(20),
                transferred=rng.random() < 0.05, customer_ref=f"cust-{rng.randrange(3000)}",
            )
            pool.append(Candidate(entry=entry, nps=rng.choice([None, None, None, 3, 9, 10]),
                                  mystery_shop=rng.random() < 0.01, evaluated=rng.random() < 0.02))
    return pool


POOL = simulated_pool()


def policy(**changes: Any) -> SamplingPolicyDefinition:
    fields: dict[str, Any] = {"name": "weekly", "scorecard_id": "sc", "quota": {"count": 4},
                              "evaluator_ids": ["q-1", "q-2", "q-3"], "cap_per_evaluator_per_day": 50}
    return SamplingPolicyDefinition.model_validate({**fields, **changes})


def eligible(candidate: Candidate, rules: SamplingPolicyDefinition) -> bool:
    return (candidate.entry.handle_s >= rules.exclusions.min_handle_s and not candidate.mystery_shop
            and not candidate.evaluated)


def test_every_agent_gets_the_quota_and_exclusions_are_never_picked() -> None:
    rules = policy()
    selection = select(rules, POOL, MONDAY, WEEK_END, "audit-1")

    per_agent = Counter(p.agent_id for p in selection.picks)
    assert set(per_agent.values()) == {4} and len(per_agent) == 40
    by_id = {(c.entry.interaction_id, c.entry.agent_id): c for c in POOL}
    assert all(eligible(by_id[(p.interaction_id, p.agent_id)], rules) for p in selection.picks)
    assert len({(p.interaction_id, p.agent_id) for p in selection.picks}) == len(selection.picks)


def test_a_share_quota_respects_its_minimum_and_what_an_agent_has() -> None:
    small = [c for c in POOL if c.entry.agent_id in ("a-00", "a-01")][:103]
    selection = select(policy(quota={"share": "0.02", "minimum": 5}), small, MONDAY, WEEK_END, "s")
    # a-00 has ~90 eligible: ceil(0.02 * 90) = 2 → minimum 5. a-01 has 3 in this slice: all 3.
    counts = Counter(p.agent_id for p in selection.picks)
    available = Counter(c.entry.agent_id for c in small if eligible(c, policy()))
    assert counts["a-00"] == 5 and counts["a-01"] == min(5, available["a-01"])


def test_the_same_seed_gives_the_same_selection_whatever_the_pool_order() -> None:
    shuffled = list(POOL)
    random.Random(3).shuffle(shuffled)

    first = select(policy(stratify_by=["channel"]), POOL, MONDAY, WEEK_END, "seed-42")
    again = select(policy(stratify_by=["channel"]), shuffled, MONDAY, WEEK_END, "seed-42")
    other = select(policy(stratify_by=["channel"]), POOL, MONDAY, WEEK_END, "seed-43")

    assert first == again
    assert [p.interaction_id for p in other.picks] != [p.interaction_id for p in first.picks]


def test_stratified_picks_follow_the_pool_proportions_on_a_large_pool() -> None:
    dims: list[Any] = ["channel", "queue", "daypart"]
    rules = policy(quota={"share": "0.2"}, stratify_by=dims)
    selection = select(rules, POOL, MONDAY, WEEK_END, "strata")

    pool_strata = Counter(stratum_of(c, dims, "UTC") for c in POOL if eligible(c, rules))
    picked = Counter(p.stratum for p in selection.picks)
    total_pool, total_picked = sum(pool_strata.values()), sum(picked.values())
    for stratum, n in pool_strata.items():
        assert abs(picked[stratum] / total_picked - n / total_pool) < 0.02, stratum


def test_picks_are_spread_evenly_over_evaluators_and_days() -> None:
    selection = select(policy(), POOL, MONDAY, WEEK_END, "spread")

    per_evaluator = Counter(p.evaluator_id for p in selection.picks)
    per_day = Counter(p.planned_on for p in selection.picks)
    assert max(per_evaluator.values()) - min(per_evaluator.values()) <= 1
    assert len(per_day) == 7 and max(per_day.values()) - min(per_day.values()) <= 1
    assert all(p.due_on == p.planned_on + timedelta(days=2) for p in selection.picks)  # type: ignore[operator]


@settings(max_examples=40, deadline=None)
@given(cap=st.integers(1, 10), evaluators=st.integers(1, 4), days=st.integers(1, 7), count=st.integers(1, 6))
def test_no_evaluator_exceeds_the_daily_cap_and_the_rest_stays_unassigned(
    cap: int, evaluators: int, days: int, count: int
) -> None:
    pool = [c for c in POOL if c.entry.agent_id < "a-10"]
    rules = policy(quota={"count": count}, cap_per_evaluator_per_day=cap,
                   evaluator_ids=[f"q-{i}" for i in range(evaluators)])
    selection = select(rules, pool, MONDAY, MONDAY + timedelta(days=days), "caps")

    load = Counter((p.evaluator_id, p.planned_on) for p in selection.picks if p.evaluator_id)
    assert all(n <= cap for n in load.values())
    capacity = cap * evaluators * days
    assert selection.unassigned == max(0, len(selection.picks) - capacity)


def test_targeted_contacts_fill_up_to_their_share_first() -> None:
    rules = policy(quota={"count": 4}, targeting={"rules": ["detractor"], "max_share": "0.5"})
    selection = select(rules, POOL, MONDAY, WEEK_END, "targets")

    for agent in {p.agent_id for p in selection.picks}:
        reasons = Counter(p.reason for p in selection.picks if p.agent_id == agent)
        assert reasons["targeted:detractor"] == 2 and reasons["random"] == 2


def test_a_new_agent_and_repeat_contacts_are_targeted() -> None:
    start = datetime(2026, 11, 23, 10, tzinfo=UTC)

    def candidate(i: int, customer: str, started: date | None) -> Candidate:
        return Candidate(agent_started_on=started, entry=PoolEntry(
            tenant_id="acme", interaction_id=f"c-{i}", agent_id="a-new" if started else "a-old", team_id=None,
            queue_id="billing", channel=Channel.VOICE, completed_at=start + timedelta(hours=i), talk_s=Decimal(100),
            hold_s=Decimal(0), after_contact_work_s=Decimal(0), transferred=False, customer_ref=customer))

    pool = [candidate(0, "x", None), candidate(1, "x", None), candidate(2, "y", None), candidate(3, "z", None),
            candidate(4, "w", date(2026, 11, 1)), candidate(5, "v", date(2026, 11, 1))]
    rules = policy(quota={"count": 2}, targeting={"rules": ["repeat_contact", "new_agent"], "max_share": "0.5"})

    picks = {p.interaction_id: p.reason for p in select(rules, pool, MONDAY, WEEK_END, "t").picks}

    assert picks["c-1"] == "targeted:repeat_contact"
    assert sum(1 for r in picks.values() if r == "targeted:new_agent") == 1


@given(st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 50), min_size=1), st.integers(0, 200))
def test_allocation_sums_to_the_total_and_never_exceeds_a_stratum(sizes: dict[str, int], total: int) -> None:
    shares = allocate(sizes, total, random.Random(1))
    assert sum(shares.values()) == min(total, sum(sizes.values()))
    assert all(0 <= shares[k] <= sizes[k] for k in sizes)


def test_a_past_period_is_worked_from_the_work_start_and_day_strata_spread_the_picks() -> None:
    work = date(2026, 12, 7)
    selection = select(policy(quota={"count": 7}, stratify_by=["day"]), POOL, MONDAY, WEEK_END, "w", work)

    assert selection.work_start == work
    assert {p.planned_on for p in selection.picks} == {work + timedelta(days=i) for i in range(7)}
    rules = policy()
    by_id = {(c.entry.interaction_id, c.entry.agent_id): c.entry.completed_at.date() for c in POOL}
    for agent in {p.agent_id for p in selection.picks}:
        days = Counter(by_id[(p.interaction_id, p.agent_id)] for p in selection.picks if p.agent_id == agent)
        available = Counter(c.entry.completed_at.date() for c in POOL if c.entry.agent_id == agent
                            and eligible(c, rules))
        # Largest remainder: each day gets its proportional share of the 7 picks, rounded up or down.
        for day, n in available.items():
            assert abs(days[day] - 7 * n / sum(available.values())) < 1, (agent, day)
