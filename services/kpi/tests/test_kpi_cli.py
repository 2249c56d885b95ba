"""``coachline kpi compute``: the projection's fold over a file of events, JSON out; bad files are refused."""

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachline.envelope import CloudEvent
from coachline_kpi.cli import compute_command as compute_cli
from coachline_kpi.cli import main
from coachline_kpi.domain.policy import TenantPolicy
from coachline_kpi.service import compute

from .kpi_events import day_of_events

pytestmark = pytest.mark.unit
AS_OF = "2026-11-26T00:00:00+00:00"


def structured(e: CloudEvent) -> dict:
    return {"specversion": "1.0", "id": e.id, "source": e.source, "type": e.type, "tenantid": e.tenant_id,
            "time": e.time.isoformat(), "data": json.loads(e.body())}


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=day_of_events())
def test_compute_prints_the_folds_figures_for_every_scope_and_window(tmp_path_factory, events) -> None:
    path: Path = tmp_path_factory.mktemp("events") / "day.ndjson"
    path.write_text("\n".join(json.dumps(structured(e)) for e in events) + "\n")
    out = io.StringIO()
    assert compute_cli(["--events", str(path), "--as-of", AS_OF], out) == 0
    printed = json.loads(out.getvalue())
    expected = compute(events, TenantPolicy(), datetime.fromisoformat(AS_OF))
    assert printed["figures"] == json.loads(json.dumps(expected))
    assert printed["events"] == len(events)
    if printed["figures"]:  # some event sets add to no sum (a roster change, a single state change)
        windows = {f["window"].split(":")[0] for f in printed["figures"]}
        assert windows == {"15m", "day", "week", "period", "30d"}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(line=st.one_of(st.text(max_size=80), st.builds(json.dumps, st.dictionaries(
    st.sampled_from(["id", "type", "tenantid", "data", "time"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=20), st.just("cc.interaction.offered.v1"),
              st.dictionaries(st.text(max_size=10), st.integers(), max_size=3))))))
def test_a_bad_line_is_refused_with_its_number(tmp_path_factory, line, capsys) -> None:
    path: Path = tmp_path_factory.mktemp("events") / "bad.ndjson"
    path.write_text("\n" + line.replace("\n", " ") + "\n")
    code = compute_cli(["--events", str(path), "--as-of", AS_OF], io.StringIO())
    if code != 0:
        assert code == 2
        err = capsys.readouterr().err
        assert "line 2" in err or "coachline kpi compute" in err


def test_unknown_subcommands_are_refused() -> None:
    assert main([]) == 2 and main(["bogus"]) == 2


def test_as_of_leaves_out_later_events(tmp_path) -> None:
    at = datetime(2026, 11, 23, 9, tzinfo=UTC).isoformat()
    event = {"specversion": "1.0", "id": "o-1", "source": "pbx", "type": "cc.interaction.offered.v1",
             "tenantid": "acme", "data": {"interaction_id": "c-1", "queue_id": "q", "channel": "voice",
                                          "occurred_at": at}}
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps(event))
    before, after = io.StringIO(), io.StringIO()
    assert compute_cli(["--events", str(path), "--as-of", "2026-11-23T08:59:59Z"], before) == 0
    assert compute_cli(["--events", str(path), "--as-of", "2026-11-23T09:00:00Z"], after) == 0
    assert json.loads(before.getvalue())["figures"] == []
    day = [f for f in json.loads(after.getvalue())["figures"] if f["window"] == "day:2026-11-23"
           and f["scope"] == "queue"]
    assert day[0]["figures"]["offered"] == "1"
