import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_intake.domain.canonical import UnsupportedMedia
from coachline_intake.service import BatchRejected, parse_batch

pytestmark = pytest.mark.unit


def offered(source_id: str = "pbx-1", **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0", "id": source_id, "source": "pbx", "type": "cc.interaction.offered.v1",
        "tenantid": "acme",
        "data": {"interaction_id": "c-1", "queue_id": "billing", "channel": "voice",
                 "occurred_at": "2026-11-23T09:00:00Z", **data},
    }


def test_a_resent_event_gets_the_same_id_and_a_new_one_a_different_id() -> None:
    first = parse_batch("generic", json.dumps(offered()).encode(), "application/json", 10)[0]
    again = parse_batch("generic", json.dumps(offered()).encode(), "application/json", 10)[0]
    other = parse_batch("generic", json.dumps(offered("pbx-2")).encode(), "application/json", 10)[0]
    assert first.id == again.id != other.id
    assert first.tenant_id == "acme" and first.source == "coachline/intake/generic"


def test_ndjson_and_arrays_carry_many_events() -> None:
    lines = "\n".join(json.dumps(offered(f"pbx-{i}")) for i in range(3)).encode()
    assert len(parse_batch("generic", lines, "application/x-ndjson", 10)) == 3
    array = json.dumps([offered("a"), offered("b")]).encode()
    assert len(parse_batch("generic", array, "application/json; charset=utf-8", 10)) == 2


def test_one_bad_event_rejects_the_whole_batch_and_names_it() -> None:
    bad = offered("x", channel="carrier-pigeon")
    body = "\n".join([json.dumps(offered()), json.dumps(bad)]).encode()
    with pytest.raises(BatchRejected) as caught:
        parse_batch("generic", body, "application/x-ndjson", 10)
    assert caught.value.errors[0]["index"] == 2
    assert "channel" in str(caught.value.errors[0]["reason"])


def test_events_intake_does_not_own_are_refused() -> None:
    evaluation = {**offered(), "type": "qa.evaluation.submitted.v1"}
    with pytest.raises(BatchRejected) as caught:
        parse_batch("generic", json.dumps(evaluation).encode(), "application/json", 10)
    assert "not accepted" in str(caught.value.errors[0]["reason"])


def test_limits_and_media_types() -> None:
    body = json.dumps([offered(str(i)) for i in range(3)]).encode()
    with pytest.raises(BatchRejected):
        parse_batch("generic", body, "application/json", 2)
    with pytest.raises(UnsupportedMedia):
        parse_batch("generic", body, "text/plain", 10)
    with pytest.raises(BatchRejected):
        parse_batch("generic", b"", "application/json", 10)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@given(st.one_of(json_values, st.builds(lambda d: {**offered(), "data": d}, json_values)))
def test_any_json_is_either_a_valid_batch_or_a_rejection_with_reasons(value: Any) -> None:
    try:
        events = parse_batch("generic", json.dumps(value).encode(), "application/json", 100)
    except BatchRejected as exc:
        assert exc.errors and all(e["reason"] for e in exc.errors)
    else:
        assert events


@given(st.binary(max_size=500))
def test_any_bytes_are_a_rejection_not_a_crash(body: bytes) -> None:
    try:
        parse_batch("generic", body, "application/x-ndjson", 100)
    except BatchRejected as exc:
        assert exc.errors
