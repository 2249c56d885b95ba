"""When deliveries are retried or given up, and what their body looks like."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coachline_notifications.domain.deliveries import (
    AttemptResult,
    Decision,
    Delivery,
    Outcome,
    RetryPolicy,
    decide,
    parse_retry_after,
    webhook_body,
)

pytestmark = pytest.mark.unit

POLICY = RetryPolicy(max_attempts=5, base_delay_s=2.0, max_delay_s=60.0)


def delivery(**changes: object) -> Delivery:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "claim": uuid.uuid4(),
        "subscription_id": uuid.uuid4(),
        "tenant_id": "acme",
        "event_id": "evt-1",
        "event_type": "coaching.session.recorded.v1",
        "event_time": datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        "payload": '{"session_id":"cs-12","summary":"Nächster Schritt zusammengefasst"}',
        "attempt": 1,
        "attempt_number": 1,
        "url": "https://hr.example/hooks",
        "secrets": ("whsec_YWJj",),
    }
    values.update(changes)
    return Delivery(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_answer_is_delivered(status: int) -> None:
    assert decide(1, AttemptResult(status), POLICY) == Decision(Outcome.DELIVERED)
    assert decide(POLICY.max_attempts, AttemptResult(status), POLICY) == Decision(Outcome.DELIVERED)


@pytest.mark.parametrize("result", [AttemptResult(500, "HTTP 500"), AttemptResult(302, "HTTP 302"),
                                    AttemptResult(429, "HTTP 429"), AttemptResult(None, "ConnectError")])
def test_anything_else_is_retried_until_the_last_attempt(result: AttemptResult) -> None:
    for attempt in range(1, POLICY.max_attempts):
        assert decide(attempt, result, POLICY).outcome is Outcome.RETRY
    assert decide(POLICY.max_attempts, result, POLICY) == Decision(Outcome.FAILED)


def test_410_fails_at_once_and_disables_the_subscription() -> None:
    expected = Decision(Outcome.FAILED, disable_subscription=True)
    assert decide(1, AttemptResult(410, "HTTP 410"), POLICY) == expected


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.nominal_delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert [POLICY.delay(n, rand=lambda: 1.0) for n in range(1, 4)] == pytest.approx([2.4, 4.8, 9.6])
    assert [POLICY.delay(n, rand=lambda: 0.0) for n in range(1, 4)] == pytest.approx([1.6, 3.2, 6.4])
    assert POLICY.schedule() == [2, 4, 8, 16]


def test_the_default_schedule_spans_about_three_days() -> None:
    default = RetryPolicy()
    span_days = sum(default.schedule()) / 86400
    assert 2.5 <= span_days <= 3.5
    assert len(default.schedule()) == default.max_attempts - 1
    # The first retries come quickly (a blip), the last ones no more often than twice a day.
    assert default.schedule()[0] == 5.0
    assert max(default.schedule()) == 12 * 3600.0
    # Even with the jitter at its extremes the whole schedule stays around three days.
    low = sum(default.delay(n, rand=lambda: 0.0) for n in range(1, default.max_attempts)) / 86400
    high = sum(default.delay(n, rand=lambda: 1.0) for n in range(1, default.max_attempts)) / 86400
    assert 2.0 <= low < high <= 3.6


@given(attempt=st.integers(1, 10_000), rand=st.floats(0, 1, exclude_max=True))
def test_jitter_keeps_the_delay_within_a_fifth_of_its_nominal_value(attempt: int, rand: float) -> None:
    nominal = min(POLICY.max_delay_s, POLICY.base_delay_s * 2 ** min(attempt - 1, 62))
    assert nominal * 0.8 <= POLICY.delay(attempt, rand=lambda: rand) <= nominal * 1.2


def test_a_retry_carries_its_delay() -> None:
    decision = decide(2, AttemptResult(503, "HTTP 503"), POLICY, rand=lambda: 0.5)
    assert decision == Decision(Outcome.RETRY, 4.0)


@given(retry_after=st.floats(0, 10**7), attempt=st.integers(1, POLICY.max_attempts - 1),
       rand=st.floats(0, 1, exclude_max=True))
def test_retry_after_is_respected_up_to_its_cap(retry_after: float, attempt: int, rand: float) -> None:
    decision = decide(attempt, AttemptResult(503, "HTTP 503", retry_after), POLICY, rand=lambda: rand)
    assert decision.outcome is Outcome.RETRY
    backoff = POLICY.delay(attempt, rand=lambda: rand)
    assert decision.retry_in_s == max(backoff, min(retry_after, POLICY.max_retry_after_s))


NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("Mon, 23 Nov 2026 09:02:00 GMT", 120.0), ("Mon, 23 Nov 2026 08:00:00 GMT", 0.0),
    (None, None), ("soon", None), ("-5", None), ("1.5", None), ("", None),
])
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@given(st.text(max_size=60))
def test_any_retry_after_header_is_read_or_ignored_never_raises(header: str) -> None:
    seconds = parse_retry_after(header, NOW)
    assert seconds is None or seconds >= 0


def test_only_attempts_past_the_limit_are_exhausted() -> None:
    assert not POLICY.exhausted(POLICY.max_attempts)
    assert POLICY.exhausted(POLICY.max_attempts + 1)


def test_the_body_wraps_the_payload_with_the_event_attributes() -> None:
    d = delivery()
    assert json.loads(webhook_body(d)) == {
        "type": "coaching.session.recorded.v1",
        "id": "evt-1",
        "tenant_id": "acme",
        "time": "2026-11-23T09:00:00Z",
        "data": {"session_id": "cs-12", "summary": "Nächster Schritt zusammengefasst"},
    }


def test_the_body_is_the_same_on_every_attempt() -> None:
    d = delivery()
    assert webhook_body(d) == webhook_body(delivery(**{**d.__dict__, "attempt": 3, "claim": uuid.uuid4()}))
    assert datetime.fromisoformat(json.loads(webhook_body(d))["time"]).tzinfo == UTC
