"""Webhook deliveries: the body a receiver gets, and whether and when to try again."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription, claimed for its ``attempt``-th attempt (counting from 1)."""

    id: UUID
    claim: UUID
    subscription_id: UUID
    tenant_id: str
    event_id: str
    event_type: str
    event_time: datetime
    payload: str
    attempt: int
    url: str
    secret: str


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
    """What one HTTP attempt came to: the status code if the receiver answered, and why it failed."""

    status_code: int | None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_delay_s: float
    max_delay_s: float

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt ``attempt``: doubling from the base, capped, times 0.5 to 1.

        The jitter spreads the retries of many deliveries that failed together (a receiver's outage)
        so they do not all arrive again in the same second.
        """
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(attempt - 1, 62))
        return ceiling * (0.5 + rand() / 2)

    def exhausted(self, attempt: int) -> bool:
        """True when ``attempt`` is past the last one allowed (a worker stopped before recording the last)."""
        return attempt > self.max_attempts


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    retry_in_s: float = 0.0


def decide(attempt: int, result: AttemptResult, policy: RetryPolicy,
           rand: Callable[[], float] = random.random) -> Decision:
    """After attempt ``attempt``: delivered on 2xx, otherwise retry later, or give up after the last attempt."""
    if result.ok:
        return Decision(Outcome.DELIVERED)
    if attempt >= policy.max_attempts:
        return Decision(Outcome.FAILED)
    return Decision(Outcome.RETRY, policy.delay(attempt, rand))
