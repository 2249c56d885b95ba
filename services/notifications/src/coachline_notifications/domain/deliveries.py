"""Webhook deliveries: the body a receiver gets, and whether and when to try again."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from uuid import UUID


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription, claimed for its ``attempt``-th attempt (counting from 1).

    ``attempt`` counts from the last re-send, ``attempt_number`` over the delivery's whole life.
    ``secrets`` holds the current signing secret, and the previous one while a rotation overlaps.
    ``trace`` is the W3C trace context of the event that queued the delivery (empty when it had none).
    """

    id: UUID
    claim: UUID
    subscription_id: UUID
    tenant_id: str
    event_id: str
    event_type: str
    event_time: datetime
    payload: str
    attempt: int
    attempt_number: int
    url: str
    secrets: tuple[str, ...]
    trace: dict[str, str] = field(default_factory=dict)


def webhook_body(delivery: Delivery) -> bytes:
    """The JSON a receiver gets: the event's type, id, tenant and time around its payload."""
    return json.dumps(
        {
            "type": delivery.event_type,
            "id": delivery.event_id,
            "tenant_id": delivery.tenant_id,
            "time": delivery.event_time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": json.loads(delivery.payload),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to: the status code if the receiver answered, why it failed, the
    receiver's ``Retry-After`` in seconds when it sent one, and how long the attempt took."""

    status_code: int | None
    detail: str | None = None
    retry_after_s: float | None = None
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """410: the receiver says the endpoint is gone for good, so the subscription is disabled."""
        return self.status_code == 410


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter; the defaults spread 19 attempts over about three days."""

    max_attempts: int = 19
    base_delay_s: float = 5.0
    max_delay_s: float = 12 * 3600.0
    # A receiver's Retry-After is honoured up to this; a larger one would stall the delivery for good.
    max_retry_after_s: float = 24 * 3600.0

    def nominal_delay(self, attempt: int) -> float:
        """The delay after failed attempt ``attempt`` before jitter: doubling from the base, capped."""
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(attempt - 1, 62))

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt ``attempt``: the nominal delay times 0.8 to 1.2.

        The jitter spreads the retries of many deliveries that failed together (a receiver's outage)
        so they do not all arrive again in the same second.
        """
        return self.nominal_delay(attempt) * (0.8 + 0.4 * rand())

    def schedule(self) -> list[float]:
        """The nominal waits between all the attempts (one fewer than the attempts)."""
        return [self.nominal_delay(attempt) for attempt in range(1, self.max_attempts)]

    def exhausted(self, attempt: int) -> bool:
        """True when ``attempt`` is past the last one allowed (a worker stopped before recording the last)."""
        return attempt > self.max_attempts


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    retry_in_s: float = 0.0
    disable_subscription: bool = False


def decide(attempt: int, result: AttemptResult, policy: RetryPolicy,
           rand: Callable[[], float] = random.random) -> Decision:
    """After attempt ``attempt``: delivered on 2xx; failed for good on 410 (and the subscription is
    disabled) or after the last attempt; otherwise retry after the back-off, or after the receiver's
    ``Retry-After`` when that is later."""
    if result.ok:
        return Decision(Outcome.DELIVERED)
    if result.gone:
        return Decision(Outcome.FAILED, disable_subscription=True)
    if attempt >= policy.max_attempts:
        return Decision(Outcome.FAILED)
    wait = policy.delay(attempt, rand)
    if result.retry_after_s is not None:
        wait = max(wait, min(result.retry_after_s, policy.max_retry_after_s))
    return Decision(Outcome.RETRY, wait)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from ``now`` that a ``Retry-After`` header asks for (delay-seconds or an HTTP date);
    None when absent or unreadable, so a malformed header falls back to the back-off."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value[:12]), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
