"""The simulated centre: deterministic, valid events, a coherent story per contact, a believable day."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.contracts.registry import EVENT_TYPES
from coachline.sim import Outcome, simulate, standard_centre
from coachline.sim.output import ndjson

pytestmark = pytest.mark.unit
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


@cache
def monday(seed: int = 7, agents: int = 40) -> Outcome:
    return simulate(standard_centre(agents=agents), MONDAY, 1, seed)


def test_the_same_seed_gives_the_same_events_and_another_seed_does_not() -> None:
    again = simulate(standard_centre(agents=40), MONDAY, 1, 7)
    assert ndjson(again.events) == ndjson(monday().events)
    assert ndjson(simulate(standard_centre(agents=40), MONDAY, 1, 8).events) != ndjson(monday().events)


def test_every_event_validates_against_its_contract_as_posted() -> None:
    for line in ndjson(monday().events).splitlines():
        posted = json.loads(line)
        EVENT_TYPES[posted["type"]].model.model_validate(posted["data"])
    ids = [(e.tenant_id, e.type, e.source_id) for e in monday().events]
    assert len(ids) == len(set(ids)), "a platform id repeats: intake would drop the second as a duplicate"


def test_events_are_in_time_order_within_the_run() -> None:
    times = [e.at_ms for e in monday().events]
    assert times == sorted(times)
    assert monday().start_ms <= times[0] and times[-1] < monday().end_ms


def test_each_agents_state_changes_are_numbered_in_the_order_they_happened() -> None:
    changes: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for e in monday().events:
        if e.type == "cc.agent.state-changed.v1":
            changes[e.data.agent_id].append((e.data.sequence, e.at_ms, e.data.state.value))  # type: ignore[attr-defined]
    same_instant = 0
    for agent, seen in changes.items():
        assert [n for n, _, _ in seen] == list(range(1, len(seen) + 1)), agent
        same_instant += sum(1 for before, after in pairwise(seen) if before[1] == after[1])
    # Back from a break straight onto a waiting contact: without the sequence their order would be a guess.
    assert same_instant > 0


def test_each_contact_tells_a_coherent_story() -> None:
    story: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in monday().events:
        if e.type.startswith("cc.interaction."):
            data = e.data
            story[(data.interaction_id, data.queue_id)].append(e.type.split(".")[2])  # type: ignore[attr-defined]
    handled = re.compile(r"offered (abandoned|answered (held resumed )?(ended|transferred) wrapped-up)")
    for leg, steps in story.items():
        # The last contacts of the run may still be in progress; every finished one is complete.
        assert handled.fullmatch(" ".join(steps)) or (steps[-1] != "wrapped-up" and len(steps) < 5), (leg, steps)
    finished = sum(1 for steps in story.values() if handled.fullmatch(" ".join(steps)))
    assert finished >= 0.98 * len(story)


def test_a_monday_looks_like_a_contact_centre() -> None:
    out = monday()
    voice = [e for e in out.entries if e.channel == "voice"]
    answered_in_20 = sum(1 for e in voice if e.answered_ms is not None and e.answered_ms - e.offered_ms <= 20_000)
    service_level = answered_in_20 / len(voice)
    abandoned = sum(1 for e in voice if e.abandoned_ms is not None) / len(voice)
    assert 0.7 <= service_level <= 0.97, service_level
    assert 0.005 <= abandoned <= 0.12, abandoned
    kinds = {e.type for e in out.events}
    assert {"cc.survey.answered.v1", "cc.interaction.transferred.v1", "cc.interaction.held.v1"} <= kinds
    breaks = [s for s in out.spans if s.state == "break"]
    assert len({s.agent_id for s in breaks}) >= len({s.agent_id for s in out.spans}) // 2
    customers = [e.customer_ref for e in out.entries if e.customer_ref and not e.transferred_in]
    assert len(customers) > len(set(customers)), "no customer ever contacted again: FCR would be trivial"
    # Queues build at the peaks: the longest waits happen in the busy hours, none before the centre opens.
    waits = sorted(out.entries, key=lambda e: -((e.answered_ms or e.abandoned_ms or 0) - e.offered_ms))
    peak = [datetime.fromtimestamp(e.offered_ms / 1000, UTC).hour for e in waits[:10] if e.channel == "voice"]
    assert all(7 <= hour <= 20 for hour in peak)


def test_survey_scores_lean_high_when_resolved() -> None:
    out = monday(seed=3, agents=120)
    legs = {e.interaction_id: e.leg for e in out.entries if e.leg and not e.leg.transferred}
    by_resolution: dict[bool, list[int]] = defaultdict(list)
    for s in out.surveys:
        leg = legs[s.interaction_id]
        assert leg is not None
        if s.csat is not None:
            by_resolution[leg.resolved].append(s.csat)
    assert sum(by_resolution[True]) / len(by_resolution[True]) > sum(by_resolution[False]) / len(by_resolution[False])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**9), agents=st.integers(min_value=3, max_value=30),
       zone=st.sampled_from(["UTC", "Europe/Helsinki", "America/New_York", "Asia/Kolkata"]),
       tenants=st.integers(min_value=1, max_value=2))
def test_any_seed_and_size_gives_consistent_records(seed: int, agents: int, zone: str, tenants: int) -> None:
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)  # across a daylight-saving change in Europe
    out = simulate(standard_centre(tenants, agents, zone), start, 1, seed)
    for entry in out.entries:
        assert (entry.answered_ms is None) or (entry.abandoned_ms is None)
        assert entry.wait_ms is None or entry.wait_ms >= 0
        if entry.leg is not None:
            assert entry.leg.answered_ms == entry.answered_ms
    for span in out.spans:
        assert span.end_ms is None or span.end_ms >= span.start_ms
    assert all(out.start_ms <= e.at_ms < out.end_ms for e in out.events)
    for line in ndjson(out.events).splitlines():
        posted = json.loads(line)
        EVENT_TYPES[posted["type"]].model.model_validate(posted["data"])
