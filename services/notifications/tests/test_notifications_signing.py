"""Standard Webhooks signing and verification, checked against the spec's formula and its published vector."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_notifications.domain.signing import (
    TOLERANCE_S,
    InvalidSignature,
    generate_secret,
    secret_key,
    sign,
    signature_headers,
    verify,
)

pytestmark = pytest.mark.unit

# The test vector published with the Standard Webhooks reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_800_000_000
message_ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64)
secrets_ = st.binary(min_size=1, max_size=64).map(lambda key: "whsec_" + base64.b64encode(key).decode())


def by_formula(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The spec's formula written out independently of the module under test."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def test_signature_matches_the_published_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_signature_matches_the_formula_for_a_generated_secret() -> None:
    secret = generate_secret()
    body = '{"type":"coaching.session.recorded.v1","data":{"summary":"Gut gemacht, Jürgen"}}'.encode()
    assert sign(secret, "evt-1", NOW, body) == by_formula(secret, "evt-1", NOW, body)


def test_generated_secrets_carry_32_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert len(secret_key(first)) == 32
    assert first != second


def test_the_published_vector_verifies() -> None:
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE}
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def test_headers_are_read_in_any_letter_case() -> None:
    secret = generate_secret()
    headers = {k.title(): v for k, v in signature_headers(secret, "evt-1", NOW, b"{}").items()}
    verify(secret, headers, b"{}", now=NOW)


def test_a_tampered_body_is_rejected() -> None:
    secret = generate_secret()
    headers = signature_headers(secret, "evt-1", NOW, b'{"score":"87.50"}')
    with pytest.raises(InvalidSignature):
        verify(secret, headers, b'{"score":"97.50"}', now=NOW)


def test_another_secret_is_rejected() -> None:
    headers = signature_headers(generate_secret(), "evt-1", NOW, b"{}")
    with pytest.raises(InvalidSignature):
        verify(generate_secret(), headers, b"{}", now=NOW)


def test_a_changed_id_is_rejected() -> None:
    secret = generate_secret()
    headers = {**signature_headers(secret, "evt-1", NOW, b"{}"), "webhook-id": "evt-2"}
    with pytest.raises(InvalidSignature):
        verify(secret, headers, b"{}", now=NOW)


@pytest.mark.parametrize("skew", [TOLERANCE_S + 1, -(TOLERANCE_S + 1), 3600, -86400])
def test_timestamps_outside_five_minutes_are_rejected(skew: int) -> None:
    secret = generate_secret()
    headers = signature_headers(secret, "evt-1", NOW + skew, b"{}")
    with pytest.raises(InvalidSignature, match="too far"):
        verify(secret, headers, b"{}", now=NOW)


@pytest.mark.parametrize("skew", [0, TOLERANCE_S, -TOLERANCE_S])
def test_timestamps_within_five_minutes_are_accepted(skew: int) -> None:
    secret = generate_secret()
    verify(secret, signature_headers(secret, "evt-1", NOW + skew, b"{}"), b"{}", now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_rejected(missing: str) -> None:
    secret = generate_secret()
    headers = signature_headers(secret, "evt-1", NOW, b"{}")
    del headers[missing]
    with pytest.raises(InvalidSignature, match="missing"):
        verify(secret, headers, b"{}", now=NOW)


@pytest.mark.parametrize("stamp", ["", "12.5", "-1", "+1800000000", " 1800000000", "1_800_000_000", "٣"])
def test_a_timestamp_that_is_not_plain_seconds_is_rejected(stamp: str) -> None:
    secret = generate_secret()
    headers = {**signature_headers(secret, "evt-1", NOW, b"{}"), "webhook-timestamp": stamp}
    with pytest.raises(InvalidSignature):
        verify(secret, headers, b"{}", now=NOW)


def test_one_matching_signature_among_several_is_enough() -> None:
    # Receivers see several signatures while a sender rotates secrets.
    old, new = generate_secret(), generate_secret()
    headers = signature_headers(new, "evt-1", NOW, b"{}")
    headers["webhook-signature"] = f"{sign(old, 'evt-1', NOW, b'{}')} {headers['webhook-signature']}"
    verify(new, headers, b"{}", now=NOW)
    with pytest.raises(InvalidSignature):
        verify(generate_secret(), headers, b"{}", now=NOW)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", "whsec_YWJ"])
def test_a_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(secret, "evt-1", NOW, b"{}")


def test_the_prefix_may_be_left_off_the_secret() -> None:
    assert sign(SPEC_SECRET.removeprefix("whsec_"), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


@given(secret=secrets_, msg_id=message_ids, timestamp=st.integers(0, 2**40), body=st.binary(max_size=4096))
def test_sign_then_verify_round_trips(secret: str, msg_id: str, timestamp: int, body: bytes) -> None:
    headers = signature_headers(secret, msg_id, timestamp, body)
    assert headers["webhook-signature"] == by_formula(secret, msg_id, timestamp, body)
    verify(secret, headers, body, now=timestamp)


@given(secret=secrets_, msg_id=message_ids, body=st.binary(max_size=1024), other=st.binary(max_size=1024))
def test_any_other_body_fails_verification(secret: str, msg_id: str, body: bytes, other: bytes) -> None:
    headers = signature_headers(secret, msg_id, NOW, body)
    if other == body:
        verify(secret, headers, other, now=NOW)
    else:
        with pytest.raises(InvalidSignature):
            verify(secret, headers, other, now=NOW)
