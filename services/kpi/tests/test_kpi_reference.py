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
    as_of = datetime.fromtimestamp((outcome.end_ms - 1) / 1000, UTC)
    shown = {(f["scope"], f["scope_id"], f["window"]): f["figures"]
             for f in compute([e.cloud_event() for e in outcome.events], TenantPolicy(), as_of)}
    compared = sum(len(r["figures"]) for t in truth["tenants"].values() for r in t["figures"])
    assert compared > 10000
    assert differences(truth, lambda s, i, w: shown.get((s, i, w))) == []
