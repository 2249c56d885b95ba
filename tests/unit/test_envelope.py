from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline.contracts.interactions import InteractionOffered
from coachline.envelope import EnvelopeError, decode, deterministic_id, new_event

pytestmark = pytest.mark.unit

OFFERED = InteractionOffered(interaction_id="c-1", queue_id="billing", channel="voice",
                             occurred_at=datetime(2026, 11, 23, 9, tzinfo=UTC))


def test_binary_mode_round_trip_keeps_attributes_and_payload() -> None:
    event = new_event("cc.interaction.offered.v1", "acme", OFFERED, source="test", subject="c-1")
    headers = event.headers()
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_tenantid"] == "acme"
    assert headers["content-type"] == "application/json"
    back = decode({k: v.encode() for k, v in headers.items()}, event.body(), expected_topic="cc.interactions.v1")
    assert (back.id, back.type, back.tenant_id, back.subject, back.data) == (
        event.id, event.type, "acme", "c-1", OFFERED)
    assert back.key == "acme:c-1"


def test_deterministic_id_is_stable_and_distinguishes_every_part() -> None:
    base = deterministic_id("acme", "generic/pbx", "e-1", "cc.interaction.offered.v1")
    assert base == deterministic_id("acme", "generic/pbx", "e-1", "cc.interaction.offered.v1")
    others = {
        deterministic_id("other", "generic/pbx", "e-1", "cc.interaction.offered.v1"),
        deterministic_id("acme", "generic/ivr", "e-1", "cc.interaction.offered.v1"),
        deterministic_id("acme", "generic/pbx", "e-2", "cc.interaction.offered.v1"),
        deterministic_id("acme", "generic/pbx", "e-1", "cc.interaction.answered.v1"),
    }
    assert base not in others and len(others) == 4


@pytest.mark.parametrize(("change", "reason"), [
    ({"ce_specversion": b"0.3"}, "ce_specversion"),
    ({"ce_type": b"cc.unknown.v1"}, "unknown event type"),
    ({"ce_type": b"qa.evaluation.submitted.v1"}, "does not belong"),
    ({"ce_time": b"yesterday"}, "ce_time"),
    ({"ce_time": b"2026-11-23T09:00:00"}, "UTC offset"),
    ({"ce_id": None}, "missing header ce_id"),
    ({"ce_tenantid": b"\xff\xfe"}, "not UTF-8"),
])
def test_bad_headers_are_refused_with_a_reason(change: dict[str, bytes | None], reason: str) -> None:
    event = new_event("cc.interaction.offered.v1", "acme", OFFERED, source="test")
    headers: dict[str, bytes | str] = {k: v.encode() for k, v in event.headers().items()}
    for key, value in change.items():
        if value is None:
            headers.pop(key)
        else:
            headers[key] = value
    with pytest.raises(EnvelopeError, match=reason):
        decode(headers, event.body(), expected_topic="cc.interactions.v1")


def test_a_payload_with_unknown_fields_is_refused() -> None:
    event = new_event("cc.interaction.offered.v1", "acme", OFFERED, source="test")
    body = event.body().replace(b"{", b'{"extra": 1, ', 1)
    with pytest.raises(EnvelopeError, match="payload does not match"):
        decode(event.headers(), body)


@given(headers=st.dictionaries(st.sampled_from(["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time",
                                                "ce_tenantid", "ce_subject", "other"]),
                               st.binary(max_size=40)),
       body=st.binary(max_size=300))
def test_arbitrary_bytes_either_decode_or_raise_envelope_error(headers: dict[str, bytes], body: bytes) -> None:
    try:
        decode(headers, body)
    except EnvelopeError as exc:
        assert exc.reason
