"""Reference test, offline: a simulated day folded by ``coachline kpi compute``'s code equals the
simulator's ground truth, computed from its own records, for every KPI of every scope and window."""

from datetime import UTC, datetime

import pytest

from coachline.sim.truth import ground_truth
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.service import compute

from .kpi_reference import differences, simulated_day

pytestmark = pytest.mark.unit


def test_a_simulated_day_equals_its_ground_truth() -> None:
    outcome = simulated_day()
    truth = ground_truth(outcome)
    # The last millisecond of the day, so the 30-day window is the one ending that day.
    as_of = datetime.fromtimestamp((outcome.end_ms - 1) / 1000, UTC)
    shown = {(f["scope"], f["scope_id"], f["window"]): f["figures"]
             for f in compute([e.cloud_event() for e in outcome.events], TenantPolicy(), as_of)}
    compared = sum(len(r["figures"]) for t in truth["tenants"].values() for r in t["figures"])
    assert compared > 10000
    assert differences(truth, lambda s, i, w: shown.get((s, i, w))) == []


def test_a_run_ending_mid_shift_counts_each_agents_current_state_up_to_its_end() -> None:
    outcome = simulated_day(days=0.5)
    assert any(s.end_ms is None and s.state.value != "logged_out" for s in outcome.spans)
    truth = ground_truth(outcome)
    as_of = datetime.fromtimestamp(outcome.end_ms / 1000, UTC)
    shown = {(f["scope"], f["scope_id"], f["window"]): f["figures"]
             for f in compute([e.cloud_event() for e in outcome.events], TenantPolicy(), as_of)}
    assert differences(truth, lambda s, i, w: shown.get((s, i, w))) == []
