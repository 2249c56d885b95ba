"""Use cases of notifications: manage subscriptions, fan events out to deliveries, deliver them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from coachline.contracts.notifications import DeliveryOutcome, NotificationDelivered
from coachline.envelope import CloudEvent, new_event
from coachline.persistence import first_delivery
from coachline_notifications import repository
from coachline_notifications.domain.deliveries import AttemptResult, Delivery, Outcome, RetryPolicy, decide
from coachline_notifications.domain.signing import generate_secret
from coachline_notifications.domain.subscriptions import CreatedSubscription, Subscription, SubscriptionRequest

log = logging.getLogger(__name__)

INBOX_CONSUMER = "webhook-fan-out"
SOURCE = "coachline/notifications"
# The pool is opened when the app starts, after the use cases are wired; they reach it through this.
PoolRef = Callable[[], asyncpg.Pool]
Enqueue = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]
Send = Callable[[Delivery], Awaitable[AttemptResult]]


async def register(pool: asyncpg.Pool, request: SubscriptionRequest) -> CreatedSubscription:
    secret = generate_secret()
    row = await repository.add_subscription(pool, uuid.uuid4(), request, secret)
    return CreatedSubscription(**dict(row), secret=secret)


async def find(pool: asyncpg.Pool, subscription_id: uuid.UUID) -> Subscription | None:
    row = await repository.find_subscription(pool, subscription_id)
    return Subscription(**dict(row)) if row else None


async def remove(pool: asyncpg.Pool, subscription_id: uuid.UUID) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        return await repository.delete_subscription(conn, subscription_id)


class FanOut:
    """Turns each event into one pending delivery per matching subscription, exactly once per event."""

    def __init__(self, pool: PoolRef) -> None:
        self.pool = pool

    async def apply(self, event: CloudEvent) -> bool:
        """Queue the event's deliveries; False when the event was already handled (a duplicate)."""
        async with self.pool().acquire() as conn, conn.transaction():
            if not await first_delivery(conn, INBOX_CONSUMER, event.id):
                return False
            await repository.add_deliveries(conn, event)
        return True


class Dispatcher:
    """Claims due deliveries, makes one attempt at each, and records what came of it."""

    def __init__(self, pool: PoolRef, enqueue: Enqueue, policy: RetryPolicy, *, batch_size: int,
                 lease_s: float) -> None:
        self.pool = pool
        self.enqueue = enqueue
        self.policy = policy
        self.batch_size = batch_size
        self.lease_s = lease_s

    async def run_once(self, send: Send) -> list[Outcome]:
        """One round: the outcome of each attempt made (a delivery whose recording failed is left out)."""
        async with self.pool().acquire() as conn:
            claimed = await repository.claim_due(conn, self.batch_size, self.lease_s)
        results = await asyncio.gather(*(self._deliver(d, send) for d in claimed), return_exceptions=True)
        outcomes = []
        for delivery, result in zip(claimed, results, strict=True):
            if isinstance(result, Outcome):
                outcomes.append(result)
            else:
                # Left claimed: the lease runs out and the delivery is attempted again.
                log.error("delivery %s failed to record its attempt", delivery.id, exc_info=result)
        return outcomes

    async def _deliver(self, delivery: Delivery, send: Send) -> Outcome:
        if self.policy.exhausted(delivery.attempt):
            # The worker that made the last allowed attempt stopped before recording it; retrying
            # would exceed the limit, and whether it arrived is unknown.
            detail = "the last attempt's outcome was never recorded"
            return await self._finish(delivery, Outcome.FAILED, AttemptResult(None, detail), delivery.attempt - 1)
        result = await send(delivery)
        decision = decide(delivery.attempt, result, self.policy)
        if decision.outcome is Outcome.RETRY:
            async with self.pool().acquire() as conn:
                await repository.reschedule(conn, delivery, decision.retry_in_s, result)
            return Outcome.RETRY
        return await self._finish(delivery, decision.outcome, result, delivery.attempt)

    async def _finish(self, delivery: Delivery, outcome: Outcome, result: AttemptResult, attempts: int) -> Outcome:
        async with self.pool().acquire() as conn, conn.transaction():
            if await repository.finish(conn, delivery, outcome.value, result):
                await self.enqueue(conn, _outcome_event(delivery, outcome, result, attempts))
        return outcome


def _outcome_event(delivery: Delivery, outcome: Outcome, result: AttemptResult, attempts: int) -> CloudEvent:
    payload = NotificationDelivered(
        delivery_id=str(delivery.id),
        subscription_id=str(delivery.subscription_id),
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        channel="webhook",
        outcome=DeliveryOutcome(outcome.value),
        attempts=attempts,
        detail=result.detail,
        occurred_at=datetime.now(UTC),
    )
    return new_event("notifications.delivered.v1", delivery.tenant_id, payload, source=SOURCE,
                     subject=str(delivery.subscription_id))
