import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from coachline.signing import (
    SECRET_PREFIX,
    TOLERANCE_S,
    InvalidSignature,
    new_secret,
    sign,
    signature_headers,
    validate_secret,
    verify,
)

pytestmark = pytest.mark.unit

NOW = 1_795_000_000
secrets_ = st.binary(min_size=32, max_size=64).map(lambda raw: SECRET_PREFIX + base64.b64encode(raw).decode())
ids = st.text(st.characters(codec="ascii", exclude_characters=" ."), min_size=1, max_size=64).filter(str.strip)
bodies = st.binary(max_size=2048)
text_bodies = st.text(max_size=2048).map(str.encode)


def test_new_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert validate_secret(first) == first


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode(),
                                 base64.b64encode(bytes(32)).decode()])
def test_validate_secret_refuses_what_is_not_a_whsec_secret_of_32_bytes(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_secret(bad)


@given(secret=secrets_, msg_id=ids, body=bodies, skew=st.integers(-TOLERANCE_S, TOLERANCE_S))
def test_what_is_signed_verifies_within_the_tolerance(secret: str, msg_id: str, body: bytes, skew: int) -> None:
    headers = signature_headers([secret], msg_id, body, now=NOW)
    assert verify([secret], headers, body, now=NOW + skew) == msg_id


@given(secret=secrets_, msg_id=ids, body=bodies, late=st.integers(TOLERANCE_S + 1, 10**7),
       sign_=st.sampled_from([-1, 1]))
def test_a_stale_or_future_timestamp_is_refused(secret: str, msg_id: str, body: bytes, late: int, sign_: int) -> None:
    headers = signature_headers(secret, msg_id, body, now=NOW)
    with pytest.raises(InvalidSignature, match="webhook-timestamp"):
        verify(secret, headers, body, now=NOW + sign_ * late)


@given(secret=secrets_, other=secrets_, msg_id=ids, body=bodies, data=st.data())
def test_any_change_to_body_id_timestamp_or_secret_is_refused(
    secret: str, other: str, msg_id: str, body: bytes, data: st.DataObject
) -> None:
    headers = signature_headers(secret, msg_id, body, now=NOW)
    changed_body = data.draw(bodies.filter(lambda b: b != body))
    with pytest.raises(InvalidSignature):
        verify(secret, headers, changed_body, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(secret, {**headers, "webhook-id": msg_id + "x"}, body, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(secret, {**headers, "webhook-timestamp": str(NOW + 1)}, body, now=NOW)
    if other != secret:
        with pytest.raises(InvalidSignature, match="no signature matches"):
            verify(other, headers, body, now=NOW)


@given(old=secrets_, new=secrets_, msg_id=ids, body=bodies)
def test_rotation_two_signatures_and_two_accepted_secrets(old: str, new: str, msg_id: str, body: bytes) -> None:
    both = signature_headers([old, new], msg_id, body, now=NOW)
    assert len(both["webhook-signature"].split(" ")) == 2
    # A receiver that knows only one of the two secrets accepts; so does one that knows both.
    assert verify(old, both, body, now=NOW) == msg_id
    assert verify([new], both, body, now=NOW) == msg_id
    # A sender still on the old secret is accepted by a receiver holding old and new.
    assert verify([new, old], signature_headers(old, msg_id, body, now=NOW), body, now=NOW) == msg_id


@given(headers=st.dictionaries(st.sampled_from(["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "x"]),
                               st.text(max_size=40)),
       secret=secrets_, body=bodies)
def test_arbitrary_headers_raise_only_invalid_signature(headers: dict[str, str], secret: str, body: bytes) -> None:
    with pytest.raises(InvalidSignature):
        verify(secret, headers, body, now=NOW)


def test_missing_headers_are_named() -> None:
    with pytest.raises(InvalidSignature, match="webhook-id, webhook-timestamp, webhook-signature"):
        verify(new_secret(), {}, b"{}")


@given(secret=secrets_, msg_id=ids, body=text_bodies)
def test_our_signatures_verify_with_the_reference_implementation(secret: str, msg_id: str, body: bytes) -> None:
    now = int(time.time())
    headers = signature_headers(secret, msg_id, body)
    standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)
    reference = standardwebhooks.Webhook(secret).sign(msg_id, datetime.fromtimestamp(now, UTC), body.decode())
    assert sign(secret, msg_id, now, body) == reference


@given(secret=secrets_, msg_id=ids, body=text_bodies)
def test_reference_signatures_verify_here(secret: str, msg_id: str, body: bytes) -> None:
    now = int(time.time())
    signature = standardwebhooks.Webhook(secret).sign(msg_id, datetime.fromtimestamp(now, UTC), body.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify(secret, headers, body, now=now) == msg_id


def test_the_spec_example_vector() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    timestamp = 1614265330
    body = b'{"test": 2432232314}'
    assert sign(secret, msg_id, timestamp, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
