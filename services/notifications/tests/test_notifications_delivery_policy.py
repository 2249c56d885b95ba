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
        "url": "https://hr.example/hooks",
        "secret": "whsec_YWJj",
    }
    values.update(changes)
    return Delivery(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_answer_is_delivered(status: int) -> None:
    assert decide(1, AttemptResult(status), POLICY) == Decision(Outcome.DELIVERED)
    assert decide(POLICY.max_attempts, AttemptResult(status), POLICY) == Decision(Outcome.DELIVERED)


@pytest.mark.parametrize("result", [AttemptResult(500, "HTTP 500"), AttemptResult(302, "HTTP 302"),
                                    AttemptResult(410, "HTTP 410"), AttemptResult(None, "ConnectError")])
def test_anything_else_is_retried_until_the_last_attempt(result: AttemptResult) -> None:
    for attempt in range(1, POLICY.max_attempts):
        assert decide(attempt, result, POLICY).outcome is Outcome.RETRY
    assert decide(POLICY.max_attempts, result, POLICY) == Decision(Outcome.FAILED)


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.delay(n, rand=lambda: 1.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert [POLICY.delay(n, rand=lambda: 0.0) for n in range(1, 4)] == [1, 2, 4]


@given(attempt=st.integers(1, 10_000), rand=st.floats(0, 1, exclude_max=True))
def test_jitter_keeps_the_delay_between_half_and_all_of_its_ceiling(attempt: int, rand: float) -> None:
    ceiling = min(POLICY.max_delay_s, POLICY.base_delay_s * 2 ** min(attempt - 1, 62))
    assert ceiling / 2 <= POLICY.delay(attempt, rand=lambda: rand) <= ceiling


def test_a_retry_carries_its_delay() -> None:
    decision = decide(2, AttemptResult(503, "HTTP 503"), POLICY, rand=lambda: 0.5)
    assert decision == Decision(Outcome.RETRY, 3.0)


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
